import type { ServerResponse } from 'node:http';
import type { Runtime, ServiceHealth } from '@lms/runtime';
import { sendJson, type GatewayRequest } from './http.js';

/** Per required service: the node that answered its probe, and that node's database. */
type DatabaseReport = Record<string, { node: string; database: ServiceHealth['database'] }>;

/**
 * `/health/live` (the process answers) and `/health/ready` (the broker and every required service answer, each with
 * its database). While PostgreSQL is away a service is `down` and `database` says why: the node that answered and
 * `"database": "down"` — not "no instance", which would call for another fix.
 */
export function healthAliases(runtime: Runtime, requiredServices: string[]) {
  const { broker } = runtime;
  async function ready(_req: GatewayRequest, res: ServerResponse) {
    // A node that is stopping is not ready from the first moment, whatever else answers: the load balancer must stop
    // sending it requests before it stops accepting them (services/gateway/src/drain.ts).
    if (runtime.shutdown.draining) return sendJson(res, 503, { status: 'not_ready', checks: { node: 'stopping' } });
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
    sendJson(res, ok ? 200 : 503, { status: ok ? 'ready' : 'not_ready', checks, database });
  }
  return {
    'GET /health/live': (_req: GatewayRequest, res: ServerResponse) => sendJson(res, 200, { status: 'live' }),
    'GET /health/ready': ready,
  };
}
