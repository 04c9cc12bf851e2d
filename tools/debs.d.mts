/** Types of tools/debs.mjs (plain JavaScript so that scripts run it before the project's Node and tsx exist). */
export declare const DEBS: Record<'nats-server' | 'haproxy', { suite?: string; packages: string[]; binary: string }>;
export declare function debBinary(name: keyof typeof DEBS, log?: (message: string) => void): { path: string; env: Record<string, string> };
