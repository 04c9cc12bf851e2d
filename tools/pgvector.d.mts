/** Types of tools/pgvector.mjs (plain JavaScript so that .ci/run and tools/ensure.mjs run it before the project's Node and tsx exist). */
export interface PgvectorStatus {
  pgConfig: string | null;
  major: string | null;
  control?: string;
  library?: string;
  installed: boolean;
  reason?: string;
}
export declare function pgvectorStatus(pgConfigBin?: string | null): PgvectorStatus;
export declare function ensurePgvector(log?: (message: string) => void): PgvectorStatus & { action: 'present' | 'installed' };
