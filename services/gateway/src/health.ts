import type { ServerResponse } from 'node:http';
import type { Runtime } from '@lms/runtime';
import { sendJson, type GatewayRequest } from './http.js';

/** `/health/live` (the process answers) and `/health/ready` (the broker and every required service answer). */
export function healthAliases(runtime: Runtime, requiredServices: string[]) {
  const { broker } = runtime;
  async function ready(_req: GatewayRequest, res: ServerResponse) {
    // A node that is stopping is not ready from the first moment, whatever else answers: the load balancer must stop
    // sending it requests before it stops accepting them (services/gateway/src/drain.ts).
    if (runtime.shutdown.draining) return sendJson(res, 503, { status: 'not_ready', checks: { node: 'stopping' } });
    const checks: Record<string, string> = {};
    if (runtime.config.mode === 'mesh') checks.broker = broker.transit?.connected ? 'up' : 'down';
    const available = new Set((broker.registry.getServiceList({ onlyAvailable: true }) as Array<{ name: string }>).map((s) => s.name));
    await Promise.all(
      requiredServices.map(async (s) => {
        if (!available.has(s)) return void (checks[s] = 'down'); // not registered: no call, no warning per probe
        try {
          await broker.call(`${s}.health`, {}, { timeout: 2_000, retries: 0 });
          checks[s] = 'up';
        } catch {
          checks[s] = 'down';
        }
      }),
    );
    const ok = Object.values(checks).every((v) => v === 'up');
    sendJson(res, ok ? 200 : 503, { status: ok ? 'ready' : 'not_ready', checks });
  }
  return {
    'GET /health/live': (_req: GatewayRequest, res: ServerResponse) => sendJson(res, 200, { status: 'live' }),
    'GET /health/ready': ready,
  };
}
