/**
 * A stopping node leaves its actions' queue groups while callers keep calling: NATS may already have routed calls to
 * it that reach it after its UNSUB left. Those calls must still be run and answered, not dropped on the floor to wait
 * for their timeout (a fresh node's first role lookup, bounded at 5 s, failed every request waiting on it this way in
 * the rolling-restart test).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Context } from 'moleculer';
import { startNode, type LmsNode, type RuntimeSettings } from '../src/runtime.js';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const ns = `lf${Math.random().toString(16).slice(2, 10)}`;
const settings = (nodeId: string): Partial<RuntimeSettings> => ({ mode: 'mesh', natsUrl: NATS_URL, namespace: ns, port: 0, nodeId, logLevel: 'error' });

let leaving: LmsNode;
let staying: LmsNode;
let caller: LmsNode;

function echo(node: LmsNode) {
  node.broker.createService({ name: 'echo', actions: { say: (ctx: Context<{ n: number }>) => ({ n: ctx.params.n }) } });
}

beforeAll(async () => {
  [leaving, staying, caller] = await Promise.all([startNode([], settings(`${ns}-l`)), startNode([], settings(`${ns}-s`)), startNode([], settings(`${ns}-c`))]);
  echo(leaving);
  echo(staying);
  await caller.broker.waitForServices(['echo'], 10_000);
  const instances = () => (caller.broker.registry.getServiceList({ onlyAvailable: true }) as Array<{ name: string }>).filter((s) => s.name === 'echo');
  while (instances().length < 2) await new Promise((r) => setTimeout(r, 20));
}, 30_000);

afterAll(async () => {
  await Promise.all([staying, caller].map((n) => n?.stop()));
});

it('answers every call NATS routed to a node as it left the queue groups: none waits for its timeout', async () => {
  let calling = true;
  let n = 0;
  const slow: string[] = [];
  // Many calls in flight at every instant, so some are on the wire to the leaving node when its UNSUB reaches NATS.
  const loops = Array.from({ length: 64 }, async () => {
    while (calling) {
      const i = n++;
      const t0 = Date.now();
      try {
        const r = await caller.broker.call<{ n: number }, { n: number }>('echo.say', { n: i }, { timeout: 4_000, retries: 0 });
        if (r.n !== i) slow.push(`call ${i} answered ${r.n}`);
      } catch (err) {
        slow.push(`call ${i}: ${(err as Error).name} after ${Date.now() - t0} ms`);
      }
    }
  });
  await new Promise((r) => setTimeout(r, 300));
  await leaving.stop();
  await new Promise((r) => setTimeout(r, 300));
  calling = false;
  await Promise.all(loops);
  expect(n).toBeGreaterThan(500);
  expect(slow).toEqual([]);
}, 30_000);
