import type { ServerResponse } from 'node:http';
import type { Runtime, ServiceHealth } from '@lms/runtime';
import { sendJson, type GatewayRequest } from './http.js';

/** Per required service: the node that answered its probe, and that node's database. */
type DatabaseReport = Record<string, { node: string; database: ServiceHealth['database'] }>;

/**
 * `/health/live` (the process answers), `/health/ready` (the broker and every required service answer, each with its
 * database) and `/health/serving` (what a load balancer routes on).
 *
 * While PostgreSQL is away `/health/ready` answers 503: a required service is `down` and `database` says why — the node
 * that answered and `"database": "down"` — not "no instance", which would call for another fix. A load balancer must
 * not route on that: every gateway would be taken out at once, the balancer would answer with a bare 503 of its own
 * (no error body, no Retry-After) and bring them back only after its rise checks — while each gateway can answer the
 * outage itself, 503 with Retry-After, and serve again the moment the database is back. Likewise one service with no
 * instance left must not take the whole API out. So `/health/serving` answers 503 only for what is wrong with this
 * gateway: it is stopping (drain.ts), it is cut off from the mesh, or it has not yet been ready once since it started
 * (the services it needs not yet discovered).
 */
export function healthAliases(runtime: Runtime, requiredServices: string[]) {
  const { broker } = runtime;
  const stopping = { status: 'not_ready', checks: { node: 'stopping' } };
  let readyOnce = false;

  async function readiness(): Promise<{ ok: boolean; body: unknown }> {
    const checks: Record<string, string> = {};
    const database: DatabaseReport = {};
    if (runtime.config.mode === 'mesh') checks.broker = broker.transit?.connected ? 'up' : 'down';
    const available = new Set((broker.registry.getServiceList({ onlyAvailable: true }) as Array<{ name: string }>).map((s) => s.name));
    await Promise.all(
      requiredServices.map(async (s) => {
        if (!available.has(s)) return void (checks[s] = 'down'); // not registered: no call, no warning per probe
        try {
          const h = await broker.call<Partial<ServiceHealth>, object>(`${s}.health`, {}, { timeout: 2_000, retries: 0 });
          // A node of an older version answers `{ ok: true }` without a database field: it pinged its database then.
          const db = h.database ?? (h.ok ? 'up' : 'down');
          database[s] = { node: h.node ?? 'unknown', database: db };
          checks[s] = db === 'up' ? 'up' : 'down';
        } catch {
          checks[s] = 'down';
        }
      }),
    );
    const ok = Object.values(checks).every((v) => v === 'up');
    if (ok) readyOnce = true;
    return { ok, body: { status: ok ? 'ready' : 'not_ready', checks, database } };
  }

  async function ready(_req: GatewayRequest, res: ServerResponse) {
    // A node that is stopping is not ready from the first moment, whatever else answers: the load balancer must stop
    // sending it requests before it stops accepting them (services/gateway/src/drain.ts).
    if (runtime.shutdown.draining) return sendJson(res, 503, stopping);
    const r = await readiness();
    sendJson(res, r.ok ? 200 : 503, r.body);
  }

  async function serving(_req: GatewayRequest, res: ServerResponse) {
    if (runtime.shutdown.draining) return sendJson(res, 503, stopping);
    if (runtime.config.mode === 'mesh' && !broker.transit?.connected) return sendJson(res, 503, { status: 'not_serving', checks: { broker: 'down' } });
    if (!readyOnce) {
      const r = await readiness();
      if (!r.ok) return sendJson(res, 503, r.body);
    }
    sendJson(res, 200, { status: 'serving' });
  }

  return {
    'GET /health/live': (_req: GatewayRequest, res: ServerResponse) => sendJson(res, 200, { status: 'live' }),
    'GET /health/ready': ready,
    'GET /health/serving': serving,
  };
}
