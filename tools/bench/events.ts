/** (b) Events: outbox → relay → JetStream → durable consumer → PostgreSQL, beside bare JetStream. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { courseEvents } from '@lms/contracts';
import { addToOutbox, JetStreamTransport, migrateSchema, openDatabase, OutboxRelay, type RuntimeTables } from '@lms/runtime';
import type { Kysely } from 'kysely';
import { AckPolicy, connect, nanos } from 'nats';
import { children, f, quiet, root, rssMiB, SECONDS, table, type Metrics } from './common.ts';
import { NATS_URL, tempDatabase, uniqueName, waitFor } from '../test/support.ts';
import { percentile } from './load.ts';

export async function eventsBench(m: Metrics): Promise<string> {
  const pg = await tempDatabase();
  const ns = uniqueName('bench');
  const db = await openDatabase({ databaseUrl: pg.url, dataDir: '' }, 20);
  await migrateSchema(db, 'bench', {
    '1_seen': {
      up: async (k: Kysely<any>) => void (await k.schema.createTable('seen').addColumn('event_id', 'uuid').addColumn('category', 'text').execute()),
    },
  });
  const k = db.forSchema<RuntimeTables>('bench');
  const transport = await JetStreamTransport.connect({ url: NATS_URL, namespace: ns, logger: quiet });
  const relay = new OutboxRelay('bench', k, transport, quiet);
  relay.start();
  const committed = new Map<string, number>();
  const latencies: number[] = [];
  let handled = 0;
  // The consumer is another service: its own process, as in the mesh.
  const consumerProc = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'tools/bench/consumer-process.ts'), pg.url, NATS_URL, ns], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.push(consumerProc);
  await new Promise<void>((resolve) => {
    consumerProc.on('message', (m: 'ready' | Array<[string, number]>) => {
      if (m === 'ready') return resolve();
      for (const [id, t] of m) {
        const c = committed.get(id);
        if (c !== undefined) latencies.push(t - c);
        handled++;
      }
    });
  });
  const payload = {
    courseId: '00000000-0000-4000-8000-000000000001',
    title: 'B',
    category: 'bench',
    ownerId: '00000000-0000-4000-8000-000000000002',
    publishedAt: new Date().toISOString(),
  };

  async function writeTx(n: number) {
    const ids = await k.transaction().execute(async (trx) => {
      const out: string[] = [];
      for (let i = 0; i < n; i++) out.push(await addToOutbox(trx, courseEvents.published, payload));
      return out;
    });
    const t = performance.timeOrigin + performance.now();
    for (const id of ids) committed.set(id, t);
    relay.kick();
  }

  async function run(total: number, pace?: number) {
    latencies.length = 0;
    handled = 0;
    committed.clear();
    const t0 = performance.now();
    const perTx = 10;
    if (pace) {
      // Paced: every 10 ms, the transactions that keep `pace` events/s.
      const txPerTick = pace / 100 / perTx;
      const ticks = total / (txPerTick * perTx);
      const inflight: Promise<void>[] = [];
      for (let i = 0; i < ticks; i++) {
        const wait = t0 + i * 10 - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        for (let j = 0; j < txPerTick; j++) inflight.push(writeTx(perTx));
      }
      await Promise.all(inflight);
    } else {
      let left = total / perTx;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (left-- > 0) await writeTx(perTx);
        }),
      );
    }
    await waitFor(async () => handled >= total || undefined, 120_000, 20);
    const seconds = (performance.now() - t0) / 1000;
    const sorted = latencies.sort((a, b) => a - b);
    return { total, seconds, rate: total / seconds, p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99) };
  }

  await run(2_000); // warm-up
  const burst = await run(30_000);
  const paced = await run(5_000 * Math.min(SECONDS, 6), 5_000);
  const memLms = `${f(rssMiB(undefined), 0)} + ${f(rssMiB(consumerProc.pid), 0)}`;
  consumerProc.disconnect();
  await new Promise((r) => consumerProc.once('exit', r));
  await relay.stop();
  await transport.close();
  await db.close();

  // Baseline: bare JetStream publish → pull consumer → ack, no database, no outbox.
  const nc = await connect({ servers: NATS_URL });
  const jsm = await nc.jetstreamManager();
  const js = nc.jetstream();
  const stream = `${ns.toUpperCase()}_BARE`;
  await jsm.streams.add({ name: stream, subjects: [`${ns}.bare.>`] });
  await jsm.consumers.add(stream, { durable_name: 'bare', ack_policy: AckPolicy.Explicit, ack_wait: nanos(30_000), max_ack_pending: 5_000 });
  const consumer = await js.consumers.get(stream, 'bare');
  const sent = new Map<number, number>();
  const bareLat: number[] = [];
  const N = 30_000;
  let got = 0;
  const msgs = await consumer.consume({ max_messages: 1_000 });
  const done = (async () => {
    for await (const m of msgs) {
      const s = sent.get(Number(new TextDecoder().decode(m.data)));
      if (s !== undefined) bareLat.push(performance.now() - s);
      m.ack();
      if (++got >= N) break;
    }
  })();
  const b0 = performance.now();
  for (let i = 0; i < N; i += 500) {
    await Promise.all(
      Array.from({ length: 500 }, (_, j) => {
        sent.set(i + j, performance.now());
        return js.publish(`${ns}.bare.x`, new TextEncoder().encode(String(i + j)));
      }),
    );
  }
  await done;
  const bareSec = (performance.now() - b0) / 1000;
  bareLat.sort((a, b) => a - b);
  for (const s of [stream, transport.streamName('LMS_COURSE'), transport.dlqStream]) await jsm.streams.delete(s).catch(() => false);
  await nc.close();
  await pg.drop();

  m.eventsPerSec = burst.rate;
  m.p99at5000 = paced.p99;
  const head = ['run', 'events', 'events/s', 'p50 ms', 'p95 ms', 'p99 ms', 'RSS MiB'];
  const out = table('(b) events: commit → handled (producer + relay in one process → JetStream → consumer process)', head, [
    [
      'bare JetStream publish → consume (baseline, no DB)',
      N,
      f(N / bareSec, 0),
      f(percentile(bareLat, 50), 1),
      f(percentile(bareLat, 95), 1),
      f(percentile(bareLat, 99), 1),
      '–',
    ],
    ['LMS, as fast as the writers go (8 writers × 10-event tx)', burst.total, f(burst.rate, 0), f(burst.p50, 1), f(burst.p95, 1), f(burst.p99, 1), memLms],
    ['LMS, paced at 5,000 events/s', paced.total, f(paced.rate, 0), f(paced.p50, 1), f(paced.p95, 1), f(paced.p99, 1), memLms],
  ]);
  const verdict = `Events: **${f(burst.rate, 0)} events/s** (target ≥ 5,000); p99 commit→handled at 5,000/s: **${f(paced.p99, 1)} ms** (target < 100 ms).`;
  console.log(verdict);
  return `${out}\n${verdict}\n`;
}
