import client from 'prom-client';

/** One registry per process; served at /metrics on METRICS_PORT (never on the API port). */
export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry, prefix: 'lms_' });

export const actionDuration = new client.Histogram({
  name: 'lms_action_duration_seconds',
  help: 'Moleculer action handling time, by action and outcome',
  labelNames: ['action', 'outcome'] as const,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  registers: [registry],
});

export const httpDuration = new client.Histogram({
  name: 'lms_http_request_duration_seconds',
  help: 'Gateway request time, by edge and status',
  labelNames: ['edge', 'status'] as const,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  registers: [registry],
});

export const eventsPublished = new client.Counter({
  name: 'lms_events_published_total',
  help: 'Outbox rows relayed to the event transport',
  labelNames: ['service'] as const,
  registers: [registry],
});

export const eventsHandled = new client.Counter({
  name: 'lms_events_handled_total',
  help: 'Events taken by consumers, by result (applied, duplicate, retried, dead_lettered)',
  labelNames: ['consumer', 'result'] as const,
  registers: [registry],
});

export const eventLatency = new client.Histogram({
  name: 'lms_event_commit_to_handled_seconds',
  help: 'Time from the producing transaction to the consumer commit',
  labelNames: ['consumer'] as const,
  buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
  registers: [registry],
});

/**
 * 1 while this node's PostgreSQL connections work, 0 from a lost connection or a failed probe until one succeeds again:
 * per node, where `/health/ready` can only name the node that answered each service's probe.
 */
export const databaseUp = new client.Gauge({
  name: 'lms_database_up',
  help: "Whether this node's database answers (1) or is unavailable (0)",
  // Registered by the first PostgreSQL pool of the process: a node without a database (the gateway) reports none.
  registers: [],
});
