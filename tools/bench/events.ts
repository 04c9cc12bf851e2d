/**
 * (b) Events: a unit of work's outbox → relay → JetStream → durable consumer → PostgreSQL, beside a like-for-like
 * baseline (the same rows in the same transactions, published to JetStream and applied in a consumer transaction by
 * hand-written code, no runtime) and bare JetStream (no database at all), all in the same run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { courseEvents } from '@lms/contracts';
import { JetStreamTransport, migrateSchema, openDatabase, OutboxRelay, runUnit, type RuntimeTables } from '@lms/runtime';
import type { Kysely } from 'kysely';
import { AckPolicy, connect, nanos } from 'nats';
import pg from 'pg';
import { children, f, quiet, root, rssMiB, SECONDS, table, type Metrics } from './common.ts';
import { NATS_URL, tempDatabase, uniqueName, waitFor } from '../test/support.ts';
import { percentile } from './load.ts';

interface RunResult {
  total: number;
  seconds: number;
  rate: number;
  p50: number;
  p95: number;
  p99: number;
}

/**
 * Drives one pipeline: `writeTx(n)` commits a transaction of n events and returns their ids; the consumer process
 * reports [id, appliedAt] over IPC. A burst (8 writers back to back) measures throughput; a paced run (every 10 ms the
 * transactions that keep `pace` events/s) measures commit → applied latency at a load.
 */
async function pipeline(consumer: ChildProcess, writeTx: (n: number) => Promise<string[]>) {
  const committed = new Map<string, number>();
  const latencies: number[] = [];
  let handled = 0;
  await new Promise<void>((resolve) => {
    consumer.on('message', (m: 'ready' | Array<[string, number]>) => {
      if (m === 'ready') return resolve();
      for (const [id, t] of m) {
        const c = committed.get(id);
        if (c !== undefined) latencies.push(t - c);
        handled++;
      }
    });
  });
  const tx = async (n: number) => {
    const ids = await writeTx(n);
    const t = performance.timeOrigin + performance.now();
    for (const id of ids) committed.set(id, t);
  };
  return async function run(total: number, pace?: number): Promise<RunResult> {
    latencies.length = 0;
    handled = 0;
    committed.clear();
    const t0 = performance.now();
    const perTx = 10;
    if (pace) {
      const txPerTick = pace / 100 / perTx;
      const ticks = total / (txPerTick * perTx);
      const inflight: Promise<void>[] = [];
      for (let i = 0; i < ticks; i++) {
        const wait = t0 + i * 10 - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        for (let j = 0; j < txPerTick; j++) inflight.push(tx(perTx));
      }
      await Promise.all(inflight);
    } else {
      let left = total / perTx;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (left-- > 0) await tx(perTx);
        }),
      );
    }
    await waitFor(async () => handled >= total || undefined, 120_000, 20);
    const seconds = (performance.now() - t0) / 1000;
    const sorted = latencies.sort((a, b) => a - b);
    return { total, seconds, rate: total / seconds, p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99) };
  };
}

const payload = {
  courseId: '00000000-0000-4000-8000-000000000001',
  title: 'B',
  category: 'bench',
  ownerId: '00000000-0000-4000-8000-000000000002',
  publishedAt: new Date().toISOString(),
};

async function stopChild(c: ChildProcess) {
  c.disconnect();
  await new Promise((r) => c.once('exit', r));
}

export async function eventsBench(m: Metrics): Promise<string> {
  const pgdb = await tempDatabase();
  const ns = uniqueName('bench');
  const db = await openDatabase({ databaseUrl: pgdb.url, dataDir: '' }, 20);
  await migrateSchema(db, 'bench', {
    '1_seen': {
      up: async (k: Kysely<any>) => void (await k.schema.createTable('seen').addColumn('event_id', 'uuid').addColumn('category', 'text').execute()),
    },
    // The baseline's tables: an outbox-shaped event table, an inbox of applied ids, the same projection.
    '2_bare': {
      up: async (k: Kysely<any>) => {
        await k.schema
          .createTable('bare_events')
          .addColumn('seq', 'bigserial', (c) => c.primaryKey())
          .addColumn('id', 'uuid', (c) => c.notNull().unique())
          .addColumn('subject', 'text', (c) => c.notNull())
          .addColumn('payload', 'jsonb', (c) => c.notNull())
          .execute();
        await k.schema
          .createTable('bare_inbox')
          .addColumn('event_id', 'uuid', (c) => c.primaryKey())
          .execute();
        await k.schema.createTable('bare_seen').addColumn('event_id', 'uuid').addColumn('category', 'text').execute();
      },
    },
  });
  const k = db.forSchema<RuntimeTables>('bench');
  const transport = await JetStreamTransport.connect({ url: NATS_URL, namespace: ns, logger: quiet });
  const relay = new OutboxRelay('bench', k, transport, quiet);
  relay.start();
  // The consumer is another service: its own process, as in the mesh.
  const consumerProc = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'tools/bench/consumer-process.ts'), pgdb.url, NATS_URL, ns], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.push(consumerProc);
  // A unit of work as services run them: events emitted in the transaction, written to the outbox with one INSERT at its end.
  const lmsRun = await pipeline(consumerProc, async (n) => {
    const ids = await k.transaction().execute(
      async (trx) =>
        (
          await runUnit('bench', trx, undefined, { push() {} }, async (emit) => {
            const out: string[] = [];
            for (let i = 0; i < n; i++) out.push(await emit(courseEvents.published, payload));
            return out;
          })
        ).result,
    );
    relay.kick();
    return ids;
  });
  await lmsRun(2_000); // warm-up
  const burst = await lmsRun(30_000);
  const paced = await lmsRun(5_000 * Math.min(SECONDS, 6), 5_000);
  const memLms = `${f(rssMiB(undefined), 0)} + ${f(rssMiB(consumerProc.pid), 0)}`;
  await stopChild(consumerProc);
  await relay.stop();
  await transport.close();
  await db.close();

  // Like-for-like baseline: the same rows in the same transactions (one multi-row INSERT), published to JetStream after
  // the commit, applied by a consumer process in one transaction per batch (inbox + projection) — all hand-written.
  const nc = await connect({ servers: NATS_URL, noAsyncTraces: true });
  const jsm = await nc.jetstreamManager();
  const js = nc.jetstream();
  const bareStream = `${ns.toUpperCase()}_LIKE`;
  await jsm.streams.add({ name: bareStream, subjects: [`${ns}.like.>`] });
  const pool = new pg.Pool({ connectionString: pgdb.url, max: 20 });
  const likeProc = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'tools/bench/bare-events-consumer.ts'), pgdb.url, NATS_URL, bareStream], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.push(likeProc);
  const body = JSON.stringify(courseEvents.published.payload.parse(payload));
  const likeRun = await pipeline(likeProc, async (n) => {
    const ids = Array.from({ length: n }, () => randomUUID());
    const client = await pool.connect();
    try {
      await client.query('begin');
      await client.query(`insert into bench.bare_events (id, subject, payload) select unnest($1::uuid[]), $2, $3::jsonb`, [
        ids,
        courseEvents.published.subject,
        body,
      ]);
      await client.query('commit');
    } finally {
      client.release();
    }
    await Promise.all(
      // msgID: JetStream's duplicate window, as the relay uses it; the consumer reads the id back from its header.
      ids.map((id) => js.publish(`${ns}.like.course`, new TextEncoder().encode(body), { msgID: id })),
    );
    return ids;
  });
  await likeRun(2_000);
  const likeBurst = await likeRun(30_000);
  const likePaced = await likeRun(5_000 * Math.min(SECONDS, 6), 5_000);
  const memLike = `${f(rssMiB(undefined), 0)} + ${f(rssMiB(likeProc.pid), 0)}`;
  await stopChild(likeProc);
  await pool.end();

  // Bare JetStream publish → pull consumer → ack, no database, no outbox: what the broker alone does.
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
  for (const s of [stream, bareStream, transport.streamName('LMS_COURSE'), transport.dlqStream]) await jsm.streams.delete(s).catch(() => false);
  await nc.close();
  await pgdb.drop();

  m.eventsPerSec = burst.rate;
  m.p99at5000 = paced.p99;
  m.eventsRatio = burst.rate / likeBurst.rate;
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
    [
      'like-for-like: same rows, same transactions, hand-written publish and consumer (baseline)',
      likeBurst.total,
      f(likeBurst.rate, 0),
      f(likeBurst.p50, 1),
      f(likeBurst.p95, 1),
      f(likeBurst.p99, 1),
      memLike,
    ],
    ['like-for-like, paced at 5,000 events/s', likePaced.total, f(likePaced.rate, 0), f(likePaced.p50, 1), f(likePaced.p95, 1), f(likePaced.p99, 1), memLike],
    ['LMS, as fast as the writers go (8 writers × 10-event tx)', burst.total, f(burst.rate, 0), f(burst.p50, 1), f(burst.p95, 1), f(burst.p99, 1), memLms],
    ['LMS, paced at 5,000 events/s', paced.total, f(paced.rate, 0), f(paced.p50, 1), f(paced.p95, 1), f(paced.p99, 1), memLms],
  ]);
  const verdict = `Events: **${f(burst.rate, 0)} events/s**, **${f((burst.rate / likeBurst.rate) * 100, 0)}%** of the like-for-like baseline (targets ≥ 8,000 and ≥ 60%); p99 commit→handled at 5,000/s: **${f(paced.p99, 1)} ms** (target < 30 ms; baseline ${f(likePaced.p99, 1)} ms).`;
  console.log(verdict);
  return `${out}\n${verdict}\n`;
}
