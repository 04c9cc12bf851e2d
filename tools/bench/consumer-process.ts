/**
 * The consuming service of the events benchmark, in its own process as in a real mesh.
 * Reports [eventId, committedAt] pairs to the parent over IPC.
 * argv: databaseUrl natsUrl namespace
 */
import { courseEvents } from '@lms/contracts';
import { JetStreamTransport, openDatabase } from '@lms/runtime';

const [databaseUrl, natsUrl, namespace] = process.argv.slice(2);
if (!natsUrl || !namespace || !process.send) throw new Error('usage: forked (with IPC) as consumer-process <databaseUrl> <natsUrl> <namespace>');
const send = process.send.bind(process);
const quiet = { debug() {}, info() {}, warn() {}, error: console.error };
const db = await openDatabase({ databaseUrl, dataDir: '' });
const transport = await JetStreamTransport.connect({ url: natsUrl, namespace, logger: quiet });
let pending: Array<[string, number]> = [];
await transport.subscribe({
  consumer: 'bench-seen',
  events: [courseEvents.published],
  db: db.forSchema('bench'),
  maxDeliver: 5,
  handle: async (env, trx) => void (await trx.insertInto('seen').values({ event_id: env.id, category: 'x' }).execute()),
  // The same projection in bulk: one INSERT for the batch.
  handleMany: async (envs, trx) =>
    void (await trx
      .insertInto('seen')
      .values(envs.map((e) => ({ event_id: e.id, category: 'x' })))
      .execute()),
  onApplied: (envs) => {
    const now = performance.timeOrigin + performance.now();
    for (const e of envs) pending.push([e.id, now]);
  },
});
setInterval(() => {
  if (pending.length) {
    send(pending);
    pending = [];
  }
}, 20);
send('ready');
async function shutdown(): Promise<void> {
  await transport.close();
  await db.close();
  process.exit(0);
}
process.on('disconnect', () => void shutdown());
