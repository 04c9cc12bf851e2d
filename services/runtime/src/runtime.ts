import { auth, authBroadcasts, usersBroadcasts, usersInternal } from '@lms/contracts';
import { ServiceBroker, type BrokerOptions, type ServiceSchema } from 'moleculer';
import type { JSONWebKeySet } from 'jose';
import brokerOptions from './broker-options.js';
import { parseEnv, runtimeConfigOf, runtimeEnv, type EnvSchema, type RuntimeConfig, type RuntimeEnv } from './config.js';
import { openDatabase, type Database } from './db.js';
import { EmbeddedTransport } from './events/embedded.js';
import { JetStreamTransport } from './events/jetstream.js';
import type { OutboxRelay } from './events/outbox.js';
import type { EventTransport, Subscription } from './events/types.js';
import type { Logger } from './logger.js';
import type { IdempotencySettings } from './idempotency.js';
import { migrateAll } from './migrate.js';
import { setMfaRequiredRoles, type ServiceModule } from './service.js';
import { startTelemetry } from './telemetry.js';
import { TokenVerifier, type Verifier } from './token-verifier.js';

export interface RuntimeSettings extends RuntimeConfig {
  /** Deliveries before an event is dead-lettered. */
  maxDeliver: number;
  backoffBaseMs: number;
  ackWaitMs: number;
  /** Run migrations when the node starts (always in embedded mode). */
  migrateOnStart: boolean;
  metricsPort: number | undefined;
  metricsHost: string | undefined;
  otelEndpoint: string | undefined;
  otelServiceName: string | undefined;
  jwksRefreshMinMs: number;
  accessTtlS: number;
  mfaRequiredRoles: string[];
  /** Idempotency-Key: how long keys and responses are kept, how long a repeat waits, when a claim's lease ends. */
  idempotency: IdempotencySettings;
  /** Every variable the node's declarations parsed (the runtime's and its services'), by name. */
  envValues: Record<string, unknown>;
}

/** What every service of a node shares: config, database, event transport, loggers. */
export interface Runtime {
  config: RuntimeSettings;
  broker: ServiceBroker;
  db: Database;
  transport: EventTransport;
  logger(name: string): Logger;
  relays: OutboxRelay[];
  subscriptions: Map<string, Subscription>;
  /** Each service's deps on this node, by service name (tests and the REPL reach workers through `depsOf`). */
  deps: Map<string, unknown>;
  /** Checks the access token every call carries (`meta.token`): the one source of `caller` on this node. */
  verifier: Verifier;
}

export interface LmsNode {
  broker: ServiceBroker;
  runtime: Runtime;
  stop(): Promise<void>;
}

/**
 * The node's settings: the environment parsed once against the runtime's declaration and those of `services`
 * (a bad or missing value throws one ConfigError listing every problem), then `overrides` (tests, the CLI).
 */
export function runtimeSettings(overrides: Partial<RuntimeSettings> = {}, services: Array<Pick<ServiceModule, 'env'>> = []): RuntimeSettings {
  const schemas = [runtimeEnv, ...services.flatMap((s) => (s.env ? [s.env] : []))] as EnvSchema[];
  const values = parseEnv(schemas);
  const e = values as RuntimeEnv;
  const base = { ...runtimeConfigOf(e), ...overrides };
  return {
    maxDeliver: e.LMS_EVENT_MAX_DELIVER,
    backoffBaseMs: e.LMS_EVENT_BACKOFF_MS,
    ackWaitMs: e.LMS_EVENT_ACK_WAIT_MS,
    migrateOnStart: base.mode === 'embedded' || e.LMS_MIGRATE_ON_START,
    metricsPort: e.METRICS_PORT,
    metricsHost: e.METRICS_HOST,
    otelEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT,
    otelServiceName: e.OTEL_SERVICE_NAME,
    jwksRefreshMinMs: e.LMS_JWKS_REFRESH_MIN_MS,
    accessTtlS: e.AUTH_ACCESS_TTL_S,
    mfaRequiredRoles: e.LMS_MFA_REQUIRED_ROLES,
    idempotency: { ttlS: e.LMS_IDEMPOTENCY_TTL_S, waitMs: e.LMS_IDEMPOTENCY_WAIT_MS, leaseMs: e.LMS_IDEMPOTENCY_LEASE_MS },
    envValues: values,
    ...base,
    ...overrides,
  };
}

/**
 * Starts one node: the given services in one broker. Embedded mode: PGlite, in-process events,
 * no transporter, migrations on start. Mesh mode: PostgreSQL, JetStream, NATS transporter.
 */
export async function startNode(
  services: ServiceModule[],
  overrides: Partial<RuntimeSettings> = {},
  /** Extra broker options (tests add middlewares); merged over moleculer.config.ts. */
  brokerExtras: Partial<BrokerOptions> = {},
  /** Test seams: a verifier standing in for auth's keys, a database opened from a snapshot (unit tests; see testing.ts). */
  seams: { verifier?: (broker: ServiceBroker) => Verifier; database?: () => Promise<Database> } = {},
): Promise<LmsNode> {
  const config = runtimeSettings(overrides, services);
  setMfaRequiredRoles(config.mfaRequiredRoles);
  if (config.mode === 'mesh' && !config.databaseUrl && services.some((s) => s.schema)) {
    throw new Error('mesh mode needs DATABASE_URL (PostgreSQL)');
  }
  await startTelemetry(config.otelEndpoint, config.otelServiceName ?? `lms-${services.map((s) => s.name).join('-')}`);
  const broker = new ServiceBroker({ ...brokerOptions(config), ...brokerExtras });
  const logger = (name: string) => broker.getLogger(name) as unknown as Logger;
  const log = logger('node');
  const needsDb = services.some((s) => s.schema);
  const db = needsDb ? await (seams.database?.() ?? openDatabase(config)) : nullDatabase();
  try {
    if (needsDb && config.migrateOnStart) {
      await migrateAll(db, services, (m) => log.info(m));
    }
    // A node without tables (the gateway) has no outbox and no consumers: it never touches JetStream,
    // so its NATS credentials need no JetStream rights at all.
    const transport: EventTransport = !needsDb
      ? noEvents
      : config.mode === 'embedded'
        ? await EmbeddedTransport.create(db.root, logger('events'), config.backoffBaseMs)
        : await JetStreamTransport.connect({
            url: config.natsUrl,
            user: config.natsUser,
            pass: config.natsPassword,
            namespace: config.namespace,
            name: String(broker.nodeID),
            backoffBaseMs: config.backoffBaseMs,
            ackWaitMs: config.ackWaitMs,
            logger: logger('events'),
          });
    const verifier = seams.verifier?.(broker) ?? nodeVerifier(broker, { refreshMinMs: config.jwksRefreshMinMs, accessTtlMs: config.accessTtlS * 1000 });
    const runtime: Runtime = { config, broker, db, transport, logger, relays: [], subscriptions: new Map(), deps: new Map(), verifier };
    broker.createService(trustService(verifier));
    for (const s of services) broker.createService(s.build(runtime));
    await broker.start();
    const metricsServer = await serveMetrics(log, config.metricsPort, config.metricsHost);
    // Relays start once every consumer of this node is subscribed, so embedded delivery misses none.
    for (const r of runtime.relays) r.start();
    log.info(`node ${broker.nodeID} started (${config.mode}): ${services.map((s) => s.name).join(', ')}`);
    return {
      broker,
      runtime,
      async stop() {
        metricsServer?.close();
        await broker.stop();
        for (const r of runtime.relays) await r.stop();
        await transport.close();
        await db.close();
      },
    };
  } catch (err) {
    await db.close().catch(() => {});
    throw err;
  }
}

/** A service's deps on this node (its workers, saga…), for tests and the REPL; undefined where it does not run. */
export function depsOf<T>(runtime: Pick<Runtime, 'deps'>, service: string): T | undefined {
  return runtime.deps.get(service) as T | undefined;
}

/**
 * The node's token verifier: keys from `auth.jwks`, roles from `users.roleChanges`, both called without a
 * token (no caller to verify), so the auth and users services verify their own callers without a cycle.
 */
export function nodeVerifier(broker: ServiceBroker, timing: { refreshMinMs?: number; accessTtlMs?: number } = {}): TokenVerifier {
  return new TokenVerifier({
    ...timing,
    jwks: async () => {
      await discovered(broker, 'auth');
      return await broker.call<JSONWebKeySet, object>(auth.jwks.action, {}, { meta: {} });
    },
    roleChanges: async (q) => {
      await discovered(broker, 'users');
      return (
        await broker.call<{ items: Array<{ userId: string; roles: string[]; at: number }> }, typeof q>(usersInternal.roleChanges.action, q, {
          meta: { edge: false },
        })
      ).items;
    },
  });
}

/**
 * A node that has just started may not have heard of the auth or users node yet (discovery takes up to a
 * heartbeat): its first verification waits a moment for it instead of failing every call until then (which also
 * opened the callers' circuit breakers on this node — the HTTP bench's first requests all failed).
 */
async function discovered(broker: ServiceBroker, service: string): Promise<void> {
  // Answers at once when the service is known (the first check runs before any wait).
  await broker.waitForServices([service], DISCOVERY_WAIT_MS, 100).catch(() => {});
}
const DISCOVERY_WAIT_MS = 5_000;

/** Every node hears the notices that change what its verifier accepts: revoked sessions, new keys, role changes. */
function trustService(verifier: Verifier): ServiceSchema {
  return {
    name: '$trust',
    events: {
      [authBroadcasts.sessionsRevoked.name](ctx: { params: unknown }) {
        const p = authBroadcasts.sessionsRevoked.payload.safeParse(ctx.params);
        if (p.success) verifier.revokeSessions(p.data.sessionIds, p.data.until);
      },
      [authBroadcasts.keysRotated.name]() {
        verifier.keysRotated();
      },
      [usersBroadcasts.rolesChanged.name](ctx: { params: unknown }) {
        const p = usersBroadcasts.rolesChanged.payload.safeParse(ctx.params);
        if (p.success) void verifier.rolesChanged(p.data.userId);
      },
    },
  };
}

const noEventsError = () => Promise.reject(new Error('this node runs no service with events'));
const noEvents: EventTransport = {
  kind: 'embedded',
  lockWhilePublishing: false,
  publish: noEventsError,
  subscribe: noEventsError,
  deadLetters: noEventsError,
  replay: noEventsError,
  rebuild: noEventsError,
  close: async () => {},
};

function nullDatabase(): Database {
  const fail = () => {
    throw new Error('this node runs no service with a database');
  };
  return { kind: 'postgres', root: null as never, forSchema: fail, ping: async () => {}, close: async () => {} };
}

/**
 * METRICS_PORT: `/metrics` for Prometheus on its own port, on every node, the gateway's too: never on the public
 * API port. METRICS_HOST narrows the interface it listens on (all by default: scraped across the private network).
 */
async function serveMetrics(log: Logger, port: number | undefined, host: string | undefined): Promise<import('node:http').Server | undefined> {
  if (!port) return undefined;
  const { createServer } = await import('node:http');
  const { registry } = await import('./metrics.js');
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== '/metrics') return void res.writeHead(404).end();
    void registry.metrics().then((body) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(body));
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
  log.info(`metrics on :${port}/metrics`);
  return server;
}
