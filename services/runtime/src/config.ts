import fs from 'node:fs';
import path from 'node:path';

export type Mode = 'embedded' | 'mesh';

/** Everything the runtime reads from the environment, read once. */
export interface RuntimeConfig {
  mode: Mode;
  env: 'production' | 'development' | 'test';
  port: number;
  dataDir: string;
  /** Unset in embedded mode: PGlite in `dataDir/pg`. */
  databaseUrl: string | undefined;
  natsUrl: string;
  /** NATS_USER / NATS_PASSWORD (or NATS_PASSWORD_FILE): the node role's credentials, see infra/nats/nats.conf. */
  natsUser: string | undefined;
  natsPassword: string | undefined;
  redisUrl: string | undefined;
  logLevel: string;
  /** Namespace for Moleculer and prefix for JetStream streams, so several installs share one NATS. */
  namespace: string;
  nodeId: string | undefined;
}

function int(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return n;
}

export function loadConfig(overrides: Partial<RuntimeConfig> = {}): RuntimeConfig {
  const env = (process.env.NODE_ENV ?? 'development') as RuntimeConfig['env'];
  return {
    mode: (process.env.LMS_MODE as Mode) ?? 'embedded',
    env,
    port: int('PORT', 3000),
    dataDir: path.resolve(process.env.LMS_DATA_DIR ?? './data'),
    databaseUrl: process.env.DATABASE_URL || undefined,
    natsUrl: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
    natsUser: process.env.NATS_USER || undefined,
    natsPassword: process.env.NATS_PASSWORD || (process.env.NATS_PASSWORD_FILE ? fs.readFileSync(process.env.NATS_PASSWORD_FILE, 'utf8').trim() : undefined),
    redisUrl: process.env.REDIS_URL || undefined,
    logLevel: process.env.LOG_LEVEL ?? (env === 'test' ? 'warn' : 'info'),
    namespace: process.env.LMS_NAMESPACE ?? 'lms',
    nodeId: process.env.NODE_ID || undefined,
    ...overrides,
  };
}
