/** Types of tools/build-web.mjs (plain JavaScript, like tools/build.mjs, so that a start checks its stamp cheaply). */
export declare function webSourceHash(): string;
export declare function isWebFresh(hash?: string): boolean;
export declare function buildWeb(): { ms: number };
export declare function ensureWeb(opts?: { force?: boolean }): boolean;
