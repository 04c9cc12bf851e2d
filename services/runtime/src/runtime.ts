import { auth, authBroadcasts, usersBroadcasts, usersInternal } from '@lms/contracts';
import { ServiceBroker, type BrokerOptions, type ServiceSchema } from 'moleculer';
import type { JSONWebKeySet } from 'jose';
import brokerOptions from './broker-options.js';
import { loadConfig, type RuntimeConfig } from './config.js';
import { openDatabase, type Database } from './db.js';
import { EmbeddedTransport } from './events/embedded.js';
import { JetStreamTransport } from './events/jetstream.js';
import type { OutboxRelay } from './events/outbox.js';
import type { EventTransport, Subscription } from './events/types.js';
import type { Logger } from './logger.js';
import { migrateAll } from './migrate.js';
import type { ServiceModule } from './service.js';
import { startTelemetry } from './telemetry.js';
import { TokenVerifier } from './token-verifier.js';

export interface RuntimeSettings extends RuntimeConfig {
  /** Deliveries before an event is dead-lettered. */
  maxDeliver: number;
  backoffBaseMs: number;
  /** Run migrations when the node starts (always in embedded mode). */
  migrateOnStart: boolean;
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
  /** Checks the access token every call carries (`meta.token`): the one source of `caller` on this node. */
  verifier: TokenVerifier;
}

export interface LmsNode {
  broker: ServiceBroker;
  runtime: Runtime;
  stop(): Promise<void>;
}

export function runtimeSettings(overrides: Partial<RuntimeSettings> = {}): RuntimeSettings {
  const base = loadConfig(overrides);
  return {
    maxDeliver: Number(process.env.LMS_EVENT_MAX_DELIVER ?? 5),
    backoffBaseMs: Number(process.env.LMS_EVENT_BACKOFF_MS ?? 200),
    migrateOnStart: base.mode === 'embedded' || process.env.LMS_MIGRATE_ON_START === 'true',
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
): Promise<LmsNode> {
  const config = runtimeSettings(overrides);
  if (config.mode === 'mesh' && !config.databaseUrl && services.some((s) => s.schema)) {
    throw new Error('mesh mode needs DATABASE_URL (PostgreSQL)');
  }
  await startTelemetry(`lms-${services.map((s) => s.name).join('-')}`);
  const broker = new ServiceBroker({ ...brokerOptions(config), ...brokerExtras });
  const logger = (name: string) => broker.getLogger(name) as unknown as Logger;
  const log = logger('node');
  const needsDb = services.some((s) => s.schema);
  const db = needsDb ? await openDatabase(config) : nullDatabase();
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
            ackWaitMs: Number(process.env.LMS_EVENT_ACK_WAIT_MS ?? 30_000),
            logger: logger('events'),
          });
    const verifier = nodeVerifier(broker);
    const runtime: Runtime = { config, broker, db, transport, logger, relays: [], subscriptions: new Map(), verifier };
    broker.createService(trustService(verifier));
    for (const s of services) broker.createService(s.build(runtime));
    await broker.start();
    const metricsServer = await serveMetrics(log);
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

/**
 * The node's token verifier: keys from `auth.jwks`, roles from `users.roleChanges`, both called without a
 * token (no caller to verify), so the auth and users services verify their own callers without a cycle.
 */
export function nodeVerifier(broker: ServiceBroker): TokenVerifier {
  return new TokenVerifier({
    jwks: async () => {
      await discovered(broker, 'auth');
      return (await broker.call(auth.jwks.action, {}, { meta: {} })) as JSONWebKeySet;
    },
    roleChanges: async (q) => {
      await discovered(broker, 'users');
      return ((await broker.call(usersInternal.roleChanges.action, q, { meta: { edge: false } })) as { items: Array<{ userId: string; roles: string[]; at: number }> }).items;
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
function trustService(verifier: TokenVerifier): ServiceSchema {
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
async function serveMetrics(log: Logger): Promise<import('node:http').Server | undefined> {
  const port = process.env.METRICS_PORT;
  if (!port) return undefined;
  const { createServer } = await import('node:http');
  const { registry } = await import('./metrics.js');
  const server = createServer(async (req, res) => {
    if (req.method !== 'GET' || req.url !== '/metrics') return void res.writeHead(404).end();
    res.writeHead(200, { 'Content-Type': registry.contentType }).end(await registry.metrics());
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(Number(port), process.env.METRICS_HOST, resolve));
  log.info(`metrics on :${port}/metrics`);
  return server;
}
