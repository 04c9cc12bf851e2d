/**
 * Moleculer broker options for every LMS node. Each option names the environment variable
 * that overrides it; the defaults suit one machine. Embedded mode (`LMS_MODE=embedded`, the
 * default) runs without a transporter; mesh mode joins the NATS cluster.
 */
import os from 'node:os';
import type { BrokerOptions } from 'moleculer';
import type { RuntimeConfig } from './services/runtime/src/config.ts';

const num = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
const bool = (name: string, fallback: boolean) => (process.env[name] ? process.env[name] === 'true' : fallback);

/**
 * Moleculer's NATS transporter reads credentials only from the URL (it overwrites `user`/`pass`
 * options with the URL's), so they go into each server URL here. The URL is never logged.
 */
function withCredentials(cfg: RuntimeConfig): string {
  if (!cfg.natsUser) return cfg.natsUrl;
  // Moleculer hands the URL's still-encoded parts to NATS, so only unreserved characters survive.
  const safe = /^[A-Za-z0-9._~-]*$/;
  if (!safe.test(cfg.natsUser) || !safe.test(cfg.natsPassword ?? '')) {
    throw new Error('NATS_USER and NATS_PASSWORD may hold only letters, digits and . _ ~ - (generate with `openssl rand -hex 24`)');
  }
  return cfg.natsUrl
    .split(',')
    .map((u) => {
      const url = new URL(u.trim());
      url.username = cfg.natsUser!;
      url.password = cfg.natsPassword ?? '';
      return url.href;
    })
    .join(',');
}

export default function brokerOptions(cfg: RuntimeConfig): BrokerOptions {
  return {
    // LMS_NAMESPACE: nodes only see nodes of the same namespace on a shared NATS.
    namespace: cfg.namespace,
    // NODE_ID: defaults to host name + pid, unique per process.
    nodeID: cfg.nodeId ?? `${os.hostname()}-${process.pid}`,

    // NATS_URL: the mesh's request/response and discovery bus. None in embedded mode.
    // NATS_USER / NATS_PASSWORD: the node role's credentials (infra/nats/nats.conf).
    transporter: cfg.mode === 'mesh' ? { type: 'NATS', options: { url: withCredentials(cfg) } } : null,

    // LOG_LEVEL; NODE_ENV=production switches to JSON lines (pino), otherwise readable console lines.
    logger:
      cfg.env === 'production'
        ? { type: 'Pino', options: { level: cfg.logLevel, pino: { options: { base: { node: cfg.nodeId } } } } }
        : { type: 'Console', options: { level: cfg.logLevel, colors: process.stdout.isTTY, formatter: 'short', objectPrinter: (o: unknown) => JSON.stringify(o) } },

    // MOLECULER_REQUEST_TIMEOUT (ms): a call with no answer by then fails with TIMEOUT (504).
    requestTimeout: num('MOLECULER_REQUEST_TIMEOUT', 10_000),

    // MOLECULER_RETRIES: retryable errors only (a node went away, a timeout); domain errors never retry.
    retryPolicy: {
      enabled: num('MOLECULER_RETRIES', 2) > 0,
      retries: num('MOLECULER_RETRIES', 2),
      delay: 50,
      maxDelay: 1_000,
      factor: 2,
      check: (err) => Boolean((err as { retryable?: boolean }).retryable),
    },

    // MOLECULER_CIRCUIT_BREAKER=false to disable: stop calling an endpoint that keeps failing.
    circuitBreaker: {
      enabled: bool('MOLECULER_CIRCUIT_BREAKER', true),
      threshold: 0.5,
      minRequestCount: 20,
      windowTime: 60,
      halfOpenTime: 10_000,
      // Only infrastructure failures open the breaker, not a caller's bad input.
      check: (err) => Boolean((err as { code?: number }).code && (err as { code: number }).code >= 500),
    },

    // MOLECULER_BULKHEAD_CONCURRENCY / _MAX_QUEUE: in-flight calls per action on a node.
    bulkhead: {
      enabled: bool('MOLECULER_BULKHEAD', true),
      concurrency: num('MOLECULER_BULKHEAD_CONCURRENCY', 64),
      maxQueueSize: num('MOLECULER_BULKHEAD_MAX_QUEUE', 1_000),
    },

    // MOLECULER_STRATEGY: how a call picks among nodes that have the action
    // (RoundRobin, Random, CpuUsage, Latency, Shard). preferLocal keeps calls in-process when possible.
    registry: {
      strategy: (process.env.MOLECULER_STRATEGY as 'RoundRobin') ?? 'RoundRobin',
      preferLocal: bool('MOLECULER_PREFER_LOCAL', true),
    },

    // Heartbeats decide when a silent node is dropped from the registry (seconds).
    heartbeatInterval: num('MOLECULER_HEARTBEAT_INTERVAL', 5),
    heartbeatTimeout: num('MOLECULER_HEARTBEAT_TIMEOUT', 15),

    // MOLECULER_CACHER_REDIS: a redis:// URL for a cache shared by the mesh; in-memory otherwise.
    cacher: process.env.MOLECULER_CACHER_REDIS ? { type: 'Redis', options: { redis: { url: process.env.MOLECULER_CACHER_REDIS } } } : 'Memory',

    // Metrics: prom-client in the runtime feeds /metrics; Moleculer's own reporter stays off.
    metrics: false,

    // MOLECULER_TRACING=true logs Moleculer spans; OpenTelemetry (OTEL_EXPORTER_OTLP_ENDPOINT) is set up in the runtime.
    tracing: { enabled: bool('MOLECULER_TRACING', false), exporter: { type: 'Console' } },

    // Drain in-flight requests on SIGTERM before stopping (ms).
    tracking: { enabled: true, shutdownTimeout: num('MOLECULER_SHUTDOWN_TIMEOUT', 5_000) },

    // The CLI handles SIGINT/SIGTERM itself (stop the broker, then relays, transport, database).
    skipProcessEventRegistration: true,

    // Input validation is done with zod by the runtime, from the contracts.
    validator: false,
  };
}
