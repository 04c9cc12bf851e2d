/**
 * A node's graceful stop on the local NATS, with three nodes in this process: callers lose no call and run none twice.
 * Calls travel on the action's subject, so NATS, not the caller's balancer, decides which instance runs a call; the
 * caller only records the node its balancer picked.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Context } from 'moleculer';
import { startNode, type LmsNode, type RuntimeSettings } from '../src/runtime.js';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const ns = `gs${Math.random().toString(16).slice(2, 10)}`;
const settings = (nodeId: string): Partial<RuntimeSettings> => ({ mode: 'mesh', natsUrl: NATS_URL, namespace: ns, port: 0, nodeId, logLevel: 'warn' });

let a: LmsNode;
let b: LmsNode;
let caller: LmsNode;
/** Runs of each call, by call number, and the node that ran it. */
const runs = new Map<number, string[]>();
/** B holds its calls until released: they are in hand (on B) while A stops. */
let releaseB: () => void = () => {};
const bHolds = new Promise<void>((r) => (releaseB = r));

function work(node: LmsNode, hold: () => Promise<void>) {
  node.broker.createService({
    name: 'work',
    actions: {
      async run(ctx: Context<{ n: number }>) {
        runs.set(ctx.params.n, [...(runs.get(ctx.params.n) ?? []), String(node.broker.nodeID)]);
        await hold();
        return { n: ctx.params.n, by: node.broker.nodeID };
      },
    },
  });
}

beforeAll(async () => {
  [a, b, caller] = await Promise.all([startNode([], settings(`${ns}-a`)), startNode([], settings(`${ns}-b`)), startNode([], settings(`${ns}-caller`))]);
  work(a, async () => {});
  work(b, () => bHolds);
  // Both instances known to the caller, and both in the action's queue group.
  await caller.broker.waitForServices(['work'], 10_000);
  const instances = () => (caller.broker.registry.getServiceList({ onlyAvailable: true }) as Array<{ name: string }>).filter((s) => s.name === 'work');
  while (instances().length < 2) await new Promise((r) => setTimeout(r, 20));
}, 30_000);

afterAll(async () => {
  releaseB();
  await Promise.all([a, b, caller].map((n) => n?.stop()));
});

it('keeps the calls another instance is running when the picked node stops gracefully: each runs once and is answered', async () => {
  const calls = Array.from({ length: 40 }, (_, n) => caller.broker.call<{ n: number; by: string }, { n: number }>('work.run', { n }, { timeout: 15_000 }));
  // Every call has reached an instance: A's are answered, B's are held.
  for (let waited = 0; [...runs.values()].length < 40 && waited < 10_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
  expect(runs.size).toBe(40);
  const onB = [...runs.values()].filter((by) => by[0] === String(b.broker.nodeID)).length;
  expect(onB).toBeGreaterThan(0);

  await a.stop(); // its DISCONNECT reaches the caller while B still runs calls the caller filed under A
  releaseB();
  const answers = await Promise.all(calls);

  expect(answers.map((r) => r.n)).toEqual(Array.from({ length: 40 }, (_, n) => n));
  // Each call ran once: none was rejected with A's departure and run again.
  expect([...runs.values()].filter((by) => by.length !== 1)).toEqual([]);
}, 30_000);
