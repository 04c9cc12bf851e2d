import { auth, authBroadcasts, usersBroadcasts, usersInternal } from '@lms/contracts';
import { ServiceBroker, type BrokerOptions, type ServiceSchema } from 'moleculer';
import type { JSONWebKeySet } from 'jose';
import brokerOptions from './broker-options.js';
import { parseEnv, runtimeConfigOf, runtimeEnv, type EnvSchema, type RuntimeConfig, type RuntimeEnv } from './config.js';
import { openDatabase, type Database } from './db.js';
import { EmbeddedTransport } from './events/embedded.js';
import { JetStreamTransport, type StreamLimits } from './events/jetstream.js';
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
  /** Replicas and retention of the JetStream streams (LMS_STREAM_*). */
  streams: StreamLimits;
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
  /** The node's graceful stop: readiness reads `draining`; the gateway registers its HTTP drain here. */
  shutdown: NodeShutdown;
}

/**
 * What a graceful stop (SIGTERM) shares between the node and its services. `draining` turns true first, before
 * anything else stops: `/health/ready` answers 503 from then on and the gateway answers `Connection: close`. Then
 * the drains registered with `beforeLeave` run (the gateway waits for its load balancer and closes its HTTP
 * server once the requests it holds are answered); only then does the node leave the mesh and stop its services.
 */
export class NodeShutdown {
  draining = false;
  private readonly drains: Array<() => Promise<void>> = [];

  /** Work to finish while the node is still in the mesh but no longer ready (it may still call other services). */
  beforeLeave(drain: () => Promise<void>): void {
    this.drains.push(drain);
  }

  /** Runs the registered drains; one that fails is logged and the stop goes on. */
  async drain(log: Logger): Promise<void> {
    this.draining = true;
    await Promise.all(this.drains.map((d) => d().catch((err: unknown) => log.warn({ err: String(err) }, 'a drain step failed; stopping anyway'))));
  }
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
    streams: { replicas: e.LMS_STREAM_REPLICAS, maxAgeMs: e.LMS_STREAM_MAX_AGE_DAYS * 86_400_000, maxBytes: e.LMS_STREAM_MAX_BYTES },
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
  keepCallsWhenANodeLeaves(broker);
  const logger = (name: string) => broker.getLogger(name) as unknown as Logger;
  const log = logger('node');
  const needsDb = services.some((s) => s.schema);
  const db = needsDb ? await (seams.database?.() ?? openDatabase(config, undefined, logger('database'))) : nullDatabase();
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
            streams: config.streams,
            logger: logger('events'),
          });
    const verifier = seams.verifier?.(broker) ?? nodeVerifier(broker, { refreshMinMs: config.jwksRefreshMinMs, accessTtlMs: config.accessTtlS * 1000 });
    const shutdown = new NodeShutdown();
    const runtime: Runtime = { config, broker, db, transport, logger, relays: [], subscriptions: new Map(), deps: new Map(), verifier, shutdown };
    broker.createService(trustService(verifier));
    for (const s of services) broker.createService(s.build(runtime));
    await broker.start();
    const metricsServer = await serveMetrics(log, config.metricsPort, config.metricsHost);
    // Relays start once every consumer of this node is subscribed, so embedded delivery misses none.
    for (const r of runtime.relays) r.start();
    log.info(`node ${broker.nodeID} started (${config.mode}): ${services.map((s) => s.name).join(', ')}`);
    let stopped: Promise<void> | undefined;
    /**
     * The graceful stop, in the order that loses no request: not ready at once, the node's drains (the gateway's
     * HTTP), out of the registry and the action queue groups (callers and NATS send it nothing new), then the
     * broker stops: it waits for the calls it serves and makes (MOLECULER_SHUTDOWN_TIMEOUT), then each service stops
     * its relay, consumers (the batch in hand is applied and acked), workers and sagas (the job in hand finishes).
     * What those last units of work wrote to an outbox is published before the connections close.
     */
    const stopOnce = async () => {
      const started = Date.now();
      log.info(`node ${broker.nodeID} stopping: not ready, draining`);
      await shutdown.drain(log);
      await leaveRegistry(broker).catch((err: unknown) => log.warn({ err: String(err) }, 'could not announce the stop; the broker stop will'));
      await broker.stop();
      for (const r of runtime.relays) {
        await r.stop();
        // Embedded delivery needs its consumers, which have stopped: its outbox waits for the next start.
        if (config.mode === 'mesh') await r.drain().catch((err: unknown) => log.warn({ err: String(err) }, 'outbox left for another node to publish'));
      }
      metricsServer?.close();
      await transport.close();
      await db.close();
      log.info(`node ${broker.nodeID} stopped in ${Date.now() - started} ms`);
    };
    return {
      broker,
      runtime,
      stop: () => (stopped ??= stopOnce()),
    };
  } catch (err) {
    await db.close().catch(() => {});
    throw err;
  }
}

/** The parts of Moleculer's registry a node uses to leave it; its typings do not declare them. */
interface LeavingRegistry {
  localNodeInfoInvalidated: boolean | string;
  regenerateLocalRawInfo(incSeq: boolean, isStopping: boolean): unknown;
  discoverer: { sendLocalNodeInfo(): Promise<unknown> };
}

/**
 * Tells the mesh this node serves nothing any more, as the first step of `broker.stop()` does, but before the node's
 * drains end rather than after: the announcement (an INFO with no services) takes it out of every caller's registry,
 * and publishing it makes the transporter leave the action queue groups first (nats-transporter.ts), so NATS hands
 * calls already on their way to the other instances. The node stays connected: its own calls and answers still flow.
 */
async function leaveRegistry(broker: ServiceBroker): Promise<void> {
  if (!broker.transit) return;
  const registry = broker.registry as unknown as LeavingRegistry;
  registry.regenerateLocalRawInfo(true, true);
  registry.localNodeInfoInvalidated = false; // or the next read would list the services again while the broker runs
  await registry.discoverer.sendLocalNodeInfo();
}

/** The parts of Moleculer's node catalogue and transit that `keepCallsWhenANodeLeaves` wraps. */
interface NodeCatalog {
  disconnected(nodeID: string, isUnexpected: boolean): void;
}
interface PendingCalls {
  removePendingRequestByNodeID: (nodeID: string) => void;
}

/**
 * A node that stops gracefully has answered every call it took before it says goodbye (DISCONNECT): it left the queue
 * groups first and waited for its calls in hand. Moleculer still rejects, and so retries, every call this node has
 * pending under the leaving node's id — and with calls on the action's subject (nats-transporter.ts) that id is only
 * the node the balancer picked, while NATS may have handed the call to another instance that is running it now. The
 * retry ran the call twice (an enrolment answered 409 "already enrolled" in the rolling-restart test). So on a
 * graceful DISCONNECT the pending calls stay pending: each is answered by the node running it (or times out). A node
 * that vanishes (missed heartbeats: `isUnexpected`) still has its calls rejected and retried at once, as before.
 */
function keepCallsWhenANodeLeaves(broker: ServiceBroker): void {
  const transit = broker.transit as unknown as PendingCalls | undefined;
  if (!transit) return;
  const nodes = broker.registry.nodes as unknown as NodeCatalog;
  const disconnected = nodes.disconnected.bind(nodes);
  nodes.disconnected = (nodeID, isUnexpected) => {
    if (isUnexpected) return disconnected(nodeID, isUnexpected);
    const reject = transit.removePendingRequestByNodeID;
    transit.removePendingRequestByNodeID = () => {};
    try {
      disconnected(nodeID, isUnexpected);
    } finally {
      transit.removePendingRequestByNodeID = reject;
    }
  };
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
  return { kind: 'postgres', root: null as never, forSchema: fail, ping: async () => {}, reachable: async () => true, close: async () => {} };
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
