/**
 * The other side of fast dead-node detection: a NATS server that restarts is not a dead node. Two brokers with the
 * runtime's broker options on a NATS server of the test's own (Debian's nats-server, tools/debs.mjs); the server is
 * SIGKILLed under calls and started again a second later. Nobody is dropped from the registry, and every call made
 * through it succeeds: the ones that find no node while the nodes reconnect are published again, not failed at once,
 * and the one in flight when the server died (its answer lost with it) is asked again on the reconnect instead of
 * waiting out the request timeout (the calls carry an Idempotency-Key, as every mutation from the gateway does).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { brokerOptions, runtimeSettings } from '@lms/runtime';
import { ServiceBroker } from 'moleculer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { debBinary } from '../debs.mjs';
import { freePort, uniqueName, waitFor } from './support.ts';

let port: number;
let namespace: string;
let server: ChildProcess | undefined;
const brokers: ServiceBroker[] = [];

function startNats(): ChildProcess {
  const { path, env } = debBinary('nats-server');
  const child = spawn(path, ['-p', String(port), '-a', '127.0.0.1'], { env: { ...process.env, ...env }, stdio: 'ignore' });
  return child;
}

async function natsUp(): Promise<boolean> {
  const { connect } = await import('nats');
  try {
    await (await connect({ servers: `127.0.0.1:${port}`, reconnect: false, timeout: 500 })).close();
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  port = await freePort();
  server = startNats();
  await waitFor(natsUp, 10_000, 50);
  namespace = uniqueName('nr');
  for (const nodeId of ['caller', 'server']) {
    const settings = runtimeSettings({ mode: 'mesh', natsUrl: `nats://127.0.0.1:${port}`, namespace, nodeId });
    brokers.push(new ServiceBroker({ ...brokerOptions(settings), logLevel: 'warn' }));
  }
  brokers[1]?.createService({ name: 'echo', actions: { say: (ctx) => (ctx.params as { n: number }).n } });
  await Promise.all(brokers.map((b) => b.start()));
  await brokers[0]?.waitForServices(['echo'], 10_000);
}, 30_000);

afterAll(async () => {
  await Promise.all(brokers.map((b) => b.stop().catch(() => {})));
  server?.kill('SIGKILL');
});

describe('a NATS restart', () => {
  it('drops no node and fails no call', async () => {
    const [caller] = brokers;
    if (!caller) throw new Error('no caller');
    const dropped: string[] = [];
    caller.localBus.on('$node.disconnected', (p: { node: { id: string } }) => dropped.push(p.node.id));
    const failures: string[] = [];
    let n = 0;
    let slowest = 0;
    let done = false;
    const calls = (async () => {
      while (!done) {
        const i = ++n;
        const t0 = Date.now();
        await caller.call('echo.say', { n: i }, { meta: { idempotencyKey: `${namespace}-${i}` } }).then(
          (r) => (r === i ? undefined : failures.push(`call ${i} answered ${String(r)}`)),
          (err: unknown) => failures.push(`call ${i}: ${String(err)}`),
        );
        slowest = Math.max(slowest, Date.now() - t0);
      }
    })();
    await waitFor(async () => n > 20, 5_000, 10);
    server?.kill('SIGKILL');
    await new Promise((r) => server?.once('exit', r));
    const restartAt = Date.now() + 1_000;
    await waitFor(async () => Date.now() >= restartAt, 2_000, 20);
    server = startNats();
    const before = n;
    // Calls flow again, and keep flowing past the reconnect grace (3 s) and the suspicion delay.
    await waitFor(async () => n > before + 20, 15_000, 50);
    const resumed = Date.now();
    await waitFor(async () => Date.now() - resumed > 4_000, 6_000, 100);
    done = true;
    await calls;
    expect(failures).toEqual([]);
    expect(dropped).toEqual([]);
    // The kill, a second down, the reconnect (nats.js waits up to 2 s) and the grace's re-asks: well under the 10 s
    // request timeout that a call whose answer died with the server used to wait out.
    expect(slowest).toBeLessThan(7_000);
  }, 40_000);
});
