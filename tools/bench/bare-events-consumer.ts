/**
 * The consuming side of the events bench's like-for-like baseline, in its own process as the LMS consumer is: a plain
 * nats.js pull consumer that applies what arrives in one PostgreSQL transaction per batch (the event ids into an inbox,
 * skipping ones seen before, and the projection rows), then acks. No runtime, no Moleculer, no contracts.
 * Reports [eventId, appliedAt] pairs to the parent over IPC. argv: databaseUrl natsUrl stream
 */
import { AckPolicy, connect, nanos, type JsMsg } from 'nats';
import pg from 'pg';

const [databaseUrl, natsUrl, stream] = process.argv.slice(2);
if (!databaseUrl || !natsUrl || !stream || !process.send) throw new Error('usage: forked (with IPC) as bare-events-consumer <databaseUrl> <natsUrl> <stream>');
const send = process.send.bind(process);
const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
const nc = await connect({ servers: natsUrl, noAsyncTraces: true });
const jsm = await nc.jetstreamManager();
await jsm.consumers.add(stream, { durable_name: 'bare-seen', ack_policy: AckPolicy.Explicit, ack_wait: nanos(30_000), max_ack_pending: 5_000 });
const consumer = await nc.jetstream().consumers.get(stream, 'bare-seen');
let pending: Array<[string, number]> = [];

async function apply(batch: JsMsg[]): Promise<void> {
  const ids = batch.map((m) => m.headers?.get('Nats-Msg-Id') ?? '');
  const client = await pool.connect();
  try {
    await client.query('begin');
    const fresh = await client.query<{ event_id: string }>(
      'insert into bench.bare_inbox (event_id) select unnest($1::uuid[]) on conflict do nothing returning event_id',
      [ids],
    );
    const rows = fresh.rows.map((r) => r.event_id);
    if (rows.length) await client.query(`insert into bench.bare_seen (event_id, category) select unnest($1::uuid[]), 'x'`, [rows]);
    await client.query('commit');
  } catch (err) {
    await client.query('rollback').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
  const now = performance.timeOrigin + performance.now();
  for (const [i, m] of batch.entries()) {
    m.ack();
    pending.push([ids[i] ?? '', now]);
  }
}

const messages = await consumer.consume({ max_messages: 1_000 });
const buffer: JsMsg[] = [];
let draining: Promise<void> | undefined;
// Coalesce what arrived in the same turn of the event loop into one transaction (as the LMS's handleMany does).
function drain(): Promise<void> {
  return (async () => {
    await new Promise((r) => setImmediate(r));
    while (buffer.length) {
      const batch = buffer.splice(0, 500);
      await apply(batch);
    }
    draining = undefined;
  })();
}
void (async () => {
  for await (const m of messages) {
    buffer.push(m);
    draining ??= drain();
  }
})();
setInterval(() => {
  if (pending.length) {
    send(pending);
    pending = [];
  }
}, 20);
send('ready');
process.on('disconnect', () => {
  void (async () => {
    await nc.close();
    await pool.end();
    process.exit(0);
  })();
});
