/**
 * Which calls are retried when a node dies: the ones it held, and not the slow ones another node is running. Three
 * brokers with the runtime's broker options on the local NATS: a caller and two nodes serving a slow action. Node A
 * vanishes from NATS mid-call (its connection closed without a goodbye, as a `kill -9` leaves it): the calls A held
 * are retried on B at once, and B runs each of its own calls once.
 */
import { brokerOptions, runtimeSettings } from '@lms/runtime';
import { ServiceBroker } from 'moleculer';
import type { NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defined, NATS_URL, uniqueName, waitFor } from './support.ts';

const namespace = uniqueName('dc');
const runs = new Map<string, string[]>();
/** Calls on A never finish: A "dies" while it holds them. */
const stuck: Array<() => void> = [];
let caller: ServiceBroker;
let a: ServiceBroker;
let b: ServiceBroker;

function broker(nodeId: string): ServiceBroker {
  const settings = runtimeSettings({ mode: 'mesh', natsUrl: NATS_URL, namespace, nodeId });
  return new ServiceBroker({ ...brokerOptions(settings), logLevel: 'warn' });
}

beforeAll(async () => {
  caller = broker(`${namespace}-caller`);
  a = broker(`${namespace}-a`);
  b = broker(`${namespace}-b`);
  for (const node of [a, b]) {
    node.createService({
      name: 'slow',
      actions: {
        async work(ctx) {
          const { n } = ctx.params as { n: number };
          runs.set(String(node.nodeID), [...(runs.get(String(node.nodeID)) ?? []), String(n)]);
          if (node === a) await new Promise<void>((resolve) => stuck.push(resolve));
          else await new Promise((r) => setTimeout(r, 1_500));
          return `${n} by ${node.nodeID}`;
        },
      },
    });
  }
  await Promise.all([caller, a, b].map((x) => x.start()));
  await waitFor(async () => caller.registry.getActionEndpoints('slow.work')?.endpoints.length === 2, 10_000);
}, 30_000);

afterAll(async () => {
  for (const resolve of stuck) resolve();
  await Promise.all([caller, b].map((x) => x?.stop().catch(() => {})));
  await a?.stop().catch(() => {});
});

describe('calls a dead node held', () => {
  it('are retried on the live node at once, and the live node’s own slow calls are not repeated', async () => {
    const started = Date.now();
    const calls = Array.from({ length: 12 }, (_, n) => caller.call<string, { n: number }>('slow.work', { n }));
    // Both nodes are running calls; then A's connection goes, with no DISCONNECT.
    await waitFor(async () => (runs.get(a.nodeID)?.length ?? 0) > 0 && (runs.get(b.nodeID)?.length ?? 0) > 0, 5_000, 10);
    await new Promise((r) => setTimeout(r, 400)); // past the 250 ms after which a node says what it holds
    const heldByA = defined(runs.get(a.nodeID)).length;
    const ranByB = defined(runs.get(b.nodeID)).length;
    await (a.transit?.tx as unknown as { client: NatsConnection }).client.close();

    const answers = await Promise.all(calls);
    expect(answers).toHaveLength(12);
    expect(answers.every((x) => x.endsWith(`by ${b.nodeID}`))).toBe(true);
    // B ran its own calls once each, and A's once more: no call B was running was sent to it again.
    const onB = defined(runs.get(b.nodeID));
    expect(new Set(onB).size).toBe(onB.length);
    expect(onB.length).toBe(ranByB + heldByA);
    // A's calls came back in about a second plus B's 1.5 s of work, not after the 10 s timeout.
    expect(Date.now() - started).toBeLessThan(6_000);
  }, 20_000);
});
