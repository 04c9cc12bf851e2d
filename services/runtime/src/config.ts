import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

export type Mode = 'embedded' | 'mesh';

/**
 * The environment, declared. Each service (and the runtime itself) declares the variables it reads as a zod object
 * whose keys are the variables' names and whose fields carry `.meta({ description, secret? })`; `parseEnv` reads
 * `process.env` once, at start — the one place that reads it — and fails with one message listing every problem.
 * `pnpm lms config` prints the effective values (secrets masked) and the README's table is generated from these.
 */
export type EnvSchema = z.ZodObject<Record<string, z.ZodType>>;

export interface EnvMeta {
  description: string;
  /** Masked by `pnpm lms config` and never logged. */
  secret?: boolean;
  /** Shown instead of the default value in docs (a default computed at run time). */
  defaultText?: string;
}

/** Declares a service's environment: `declareEnv('files', { FILES_QUOTA_BYTES: int(…).meta({ description }) })`. */
export function declareEnv<S extends Record<string, z.ZodType>>(owner: string, shape: S): z.ZodObject<S> & { owner: string } {
  for (const [name, field] of Object.entries(shape)) {
    const meta = field.meta() as Partial<EnvMeta> | undefined;
    if (!meta?.description) throw new Error(`${owner}: environment variable ${name} has no description`);
  }
  return Object.assign(z.object(shape), { owner });
}

/** Building blocks for declarations: environment strings coerced, with clear messages. */
export const env = {
  string: () => z.string(),
  /** A non-negative integer (ports, sizes, milliseconds, counts). */
  int: () => z.coerce.number({ error: 'must be a number' }).int('must be a whole number').nonnegative('must not be negative'),
  number: () => z.coerce.number({ error: 'must be a number' }),
  /** `true`/`false` (also `1`/`0`, `yes`/`no`). */
  bool: () => z.enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' }).transform((v) => v === 'true' || v === '1' || v === 'yes'),
  url: () => z.url({ error: 'must be a URL' }),
  /** A comma-separated list. */
  list: () =>
    z.string().transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    ),
};

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/**
 * A declaration's variables as the node parsed them when it started: what defineService hands a service as `config`,
 * and what a plain service module (the gateway) reads for itself.
 */
export function envOf<S extends EnvSchema>(settings: { envValues: Record<string, unknown> }, schema: S): z.output<S> {
  return Object.fromEntries(Object.keys(schema.shape).map((k) => [k, settings.envValues[k]])) as z.output<S>;
}

/** The metadata of one declared variable. */
export function envMeta(field: z.ZodType): EnvMeta {
  return { description: '', ...(field.meta() as Partial<EnvMeta> | undefined) };
}

/**
 * Parses the environment against several declarations at once (the runtime's and every service's of the node):
 * empty values count as unset; every problem is collected, then thrown as one ConfigError.
 */
export function parseEnv(schemas: readonly EnvSchema[], source: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const schema of schemas) {
    for (const [name, field] of Object.entries(schema.shape)) {
      if (seen.has(name)) continue; // declared by two services (PUBLIC_URL…): parsed once
      seen.add(name);
      const raw = source[name];
      const r = field.safeParse(raw === '' ? undefined : raw);
      if (r.success) values[name] = r.data;
      else {
        const shown =
          raw === undefined || raw === '' ? 'unset' : envMeta(field).secret ? 'set (secret)' : JSON.stringify(raw.length > 60 ? `${raw.slice(0, 60)}…` : raw);
        problems.push(
          `${name}: ${r.error.issues.map((i) => (i.code === 'invalid_type' && raw === undefined ? 'is required' : i.message)).join('; ')} (${shown})`,
        );
      }
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return values;
}

/** The runtime's own variables: every node reads these. */
export const runtimeEnv = declareEnv('runtime', {
  LMS_MODE: z
    .enum(['embedded', 'mesh'])
    .default('embedded')
    .meta({ description: '`embedded` (one process, PGlite, in-process events) or `mesh` (NATS, PostgreSQL)' }),
  NODE_ENV: z.enum(['production', 'development', 'test']).default('development').meta({ description: 'Logs are JSON in `production`, readable otherwise' }),
  PORT: env.int().default(3000).meta({ description: 'HTTP port of the gateway' }),
  LMS_DATA_DIR: z.string().default('./data').meta({ description: 'Data directory: PGlite database (embedded), files, mail drop' }),
  DATABASE_URL: z.string().optional().meta({ description: 'PostgreSQL URL (mesh mode); unset in embedded mode', secret: true }),
  NATS_URL: z.string().default('nats://127.0.0.1:4222').meta({ description: 'NATS server URL(s), comma-separated' }),
  NATS_USER: z.string().optional().meta({ description: "The node role's NATS user (see infra/nats/nats.conf)" }),
  NATS_PASSWORD: z.string().optional().meta({ description: "The node role's NATS password", secret: true }),
  NATS_PASSWORD_FILE: z.string().optional().meta({ description: 'File holding NATS_PASSWORD (Docker secrets)' }),
  REDIS_URL: z.string().optional().meta({ description: 'Redis URL (shared rate limits in mesh mode)', secret: true }),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace'])
    .optional()
    .meta({ description: 'Log level', defaultText: '`warn` in tests, else `info`' }),
  LMS_NAMESPACE: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only')
    .default('lms')
    .meta({ description: 'Moleculer namespace and JetStream stream prefix (several installs on one NATS)' }),
  NODE_ID: z.string().optional().meta({ description: 'Node id; defaults to `<role>.<host>-<pid>`' }),
  LMS_EVENT_MAX_DELIVER: env.int().min(1).default(5).meta({ description: 'Deliveries of an event before it is dead-lettered' }),
  LMS_EVENT_BACKOFF_MS: env.int().default(200).meta({ description: 'First redelivery delay of a failed event (doubles, capped at 30 s)' }),
  LMS_EVENT_ACK_WAIT_MS: env.int().min(1000).default(30_000).meta({ description: 'JetStream ack wait: an unacknowledged event is redelivered after it' }),
  // JetStream streams (services/runtime/src/events/jetstream.ts; docs/operations.md, "NATS cluster").
  LMS_STREAM_REPLICAS: env
    .int()
    .min(1)
    .max(5)
    .default(1)
    .meta({ description: 'Replicas of each JetStream stream and its consumers: 3 on a 3-server NATS cluster, 1 on a single server' }),
  LMS_STREAM_MAX_AGE_DAYS: env.int().min(1).default(14).meta({
    description: 'Days an event (and a dead letter) stays in its stream: the longest a consuming service may be down, and how far back a rebuild replays',
  }),
  LMS_STREAM_MAX_BYTES: env.int().min(1_048_576).optional().meta({
    description:
      'Largest size of each stream in bytes, reserved up front on every server holding a replica; a full stream refuses new events, which wait in the outboxes (none is dropped). Unset: bounded by the max age only',
  }),
  LMS_MIGRATE_ON_START: env.bool().default(false).meta({ description: 'Run migrations when a mesh node starts (always in embedded mode)' }),
  METRICS_PORT: env.int().optional().meta({ description: 'Port of `/metrics` (Prometheus), never the API port; unset: no metrics endpoint' }),
  METRICS_HOST: z.string().optional().meta({ description: 'Interface `/metrics` listens on (all by default)' }),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().optional().meta({ description: 'OTLP endpoint for traces; unset: tracing off' }),
  OTEL_SERVICE_NAME: z.string().optional().meta({ description: 'Service name in traces', defaultText: '`lms-<services>`' }),
  LMS_JWKS_REFRESH_MIN_MS: env.int().default(30_000).meta({ description: 'Least time between two fetches of the signing keys by a node' }),
  LMS_MFA_REQUIRED_ROLES: env.list().default([]).meta({ description: 'Roles whose permissions count only in sessions signed in with a second factor' }),
  AUTH_ACCESS_TTL_S: env.int().min(1).default(900).meta({ description: 'Access token lifetime in seconds' }),
  // The broker (services/runtime's broker options): how calls between nodes behave.
  MOLECULER_REQUEST_TIMEOUT: env.int().default(10_000).meta({ description: 'A call with no answer by then fails with TIMEOUT (504), in ms' }),
  MOLECULER_RETRIES: env.int().default(2).meta({ description: 'Retries of a call that failed for an infrastructure reason (never a domain error)' }),
  MOLECULER_CIRCUIT_BREAKER: env.bool().default(true).meta({ description: 'Stop calling an endpoint that keeps failing' }),
  MOLECULER_BULKHEAD: env.bool().default(true).meta({ description: 'Limit in-flight calls per action on a node' }),
  MOLECULER_BULKHEAD_CONCURRENCY: env.int().min(1).default(64).meta({ description: 'In-flight calls per action on a node' }),
  MOLECULER_BULKHEAD_MAX_QUEUE: env.int().default(1_000).meta({ description: 'Calls queued per action beyond the concurrency' }),
  MOLECULER_STRATEGY: z
    .enum(['RoundRobin', 'Random', 'CpuUsage', 'Latency', 'Shard'])
    .default('RoundRobin')
    .meta({ description: 'How a call picks among nodes that have the action' }),
  MOLECULER_PREFER_LOCAL: env.bool().default(true).meta({ description: 'Keep calls in process when the node has the action' }),
  MOLECULER_HEARTBEAT_INTERVAL: env.number().min(0.1).default(0.25).meta({ description: 'Heartbeat interval, in seconds (fractions allowed)' }),
  MOLECULER_SUSPECT_AFTER: env
    .number()
    .min(0.2)
    .default(0.75)
    .meta({ description: 'A node silent this long (s) is looked up on NATS; one whose connection NATS has closed is dropped at once' }),
  MOLECULER_HEARTBEAT_TIMEOUT: env
    .number()
    .min(1)
    .default(10)
    .meta({ description: 'A node silent this long (s) is dropped even while NATS still holds its connection' }),
  MOLECULER_CACHER_REDIS: z.string().optional().meta({ description: 'A redis:// URL for a cache shared by the mesh; in-memory otherwise', secret: true }),
  MOLECULER_TRACING: env.bool().default(false).meta({ description: "Log Moleculer's own spans (OpenTelemetry is OTEL_*)" }),
  MOLECULER_SHUTDOWN_TIMEOUT: env.int().default(5_000).meta({ description: 'Drain in-flight requests this long on SIGTERM, in ms' }),
  // Idempotency-Key (services/runtime/src/idempotency.ts): how long a mutation's key and response are kept, and repeats.
  LMS_IDEMPOTENCY_TTL_S: env.int().min(60).default(86_400).meta({ description: "How long a mutation's Idempotency-Key and its response are kept, in s" }),
  LMS_IDEMPOTENCY_WAIT_MS: env
    .int()
    .default(5_000)
    .meta({ description: 'How long a repeat waits for the first request with its key to finish before answering 409 IDEMPOTENCY_KEY_IN_USE, in ms' }),
  LMS_IDEMPOTENCY_LEASE_MS: env
    .int()
    .min(1_000)
    .default(30_000)
    .meta({ description: 'After this long a running request no longer holds its key against a repeat, even on a live node, in ms' }),
});
export type RuntimeEnv = z.output<typeof runtimeEnv>;

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

/** The runtime's settings from its parsed variables. */
export function runtimeConfigOf(e: RuntimeEnv): RuntimeConfig {
  return {
    mode: e.LMS_MODE,
    env: e.NODE_ENV,
    port: e.PORT,
    dataDir: path.resolve(e.LMS_DATA_DIR),
    databaseUrl: e.DATABASE_URL,
    natsUrl: e.NATS_URL,
    natsUser: e.NATS_USER,
    natsPassword: e.NATS_PASSWORD ?? (e.NATS_PASSWORD_FILE ? fs.readFileSync(e.NATS_PASSWORD_FILE, 'utf8').trim() : undefined),
    redisUrl: e.REDIS_URL,
    logLevel: e.LOG_LEVEL ?? (e.NODE_ENV === 'test' ? 'warn' : 'info'),
    namespace: e.LMS_NAMESPACE,
    nodeId: e.NODE_ID,
  };
}

/** The runtime's own variables, parsed (throws ConfigError listing every problem). */
export function readRuntimeEnv(source: NodeJS.ProcessEnv = process.env): RuntimeEnv {
  return parseEnv([runtimeEnv], source) as RuntimeEnv;
}

export function loadConfig(overrides: Partial<RuntimeConfig> = {}): RuntimeConfig {
  return { ...runtimeConfigOf(readRuntimeEnv()), ...overrides };
}

/** What `pnpm lms config` shows of a value: secrets masked. */
export function shownValue(field: z.ZodType, value: unknown): string {
  if (value === undefined) return '(unset)';
  if (envMeta(field).secret) return '********';
  return typeof value === 'string' ? value : JSON.stringify(value);
}
