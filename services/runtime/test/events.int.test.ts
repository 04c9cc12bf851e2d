/**
 * The event path on real parts: PostgreSQL + NATS JetStream (mesh), and PGlite + in-process
 * delivery (embedded), through the same publishing and handler API.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { courseEvents } from '@lms/contracts';
import { sql } from 'kysely';
import { connect } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addToOutbox,
  EmbeddedTransport,
  JetStreamTransport,
  migrateSchema,
  openDatabase,
  OutboxRelay,
  pruneProcessed,
  type Database,
  type EventTransport,
  type OutboxRow,
  type Subscription,
  type SubscriptionHandle,
} from '../src/index.js';
import { defined, drained, dropStreams, NATS_URL, tempDatabase, uniqueName, waitFor } from '../../../tools/test/support.ts';
import { payload, probeMigrations, probeSubscription } from './fixtures/probe-events.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

interface Setup<T extends EventTransport = EventTransport> {
  db: Database;
  transport: T;
  schema: string;
  /** The JetStream namespace; none for the embedded transport. */
  ns?: string;
  cleanup(): Promise<void>;
}

/**
 * Waits until the consumer group has nothing left in flight (see drained()): what a test checks for a wrong extra
 * delivery, instead of sleeping. Embedded delivery is done when the relay's drain returns.
 */
const settled = (s: Setup, consumer: string) => drained({ db: s.db.root, ...(s.ns ? { namespace: s.ns, consumers: [consumer] } : {}) });

async function jetstreamSetup(): Promise<Setup<JetStreamTransport> & { ns: string; url: string }> {
  const pg = await tempDatabase();
  const db = await openDatabase({ databaseUrl: pg.url, dataDir: '' });
  const ns = uniqueName('t');
  const transport = await JetStreamTransport.connect({ url: NATS_URL, namespace: ns, logger: quiet, backoffBaseMs: 20 });
  await migrateSchema(db, 'probe', probeMigrations);
  return {
    db,
    transport,
    schema: 'probe',
    ns,
    url: pg.url,
    async cleanup() {
      await transport.close();
      await dropStreams(ns); // every stream of the namespace, not only those the tests use: none is left on the shared server
      await db.close();
      await pg.drop();
    },
  };
}

async function embeddedSetup(): Promise<Setup> {
  const db = await openDatabase({ databaseUrl: undefined, dataDir: 'memory://' });
  await migrateSchema(db, 'probe', probeMigrations);
  const transport = await EmbeddedTransport.create(db.root, quiet, 5);
  return { db, transport, schema: 'probe', cleanup: async () => db.close() };
}

/** Commits `n` events through the outbox and lets a relay publish them. */
async function publishThroughOutbox(s: Setup, from: number, n: number): Promise<string[]> {
  const db = s.db.forSchema<any>(s.schema);
  const ids = await db.transaction().execute(async (trx) => {
    const out: string[] = [];
    for (let i = from; i < from + n; i++) out.push(await addToOutbox(trx, courseEvents.published, payload(i)));
    return out;
  });
  await new OutboxRelay('probe', db, s.transport, quiet).drain();
  return ids;
}

async function seen(s: Setup): Promise<{ total: number; distinct: number }> {
  const r = await s.db
    .forSchema<any>(s.schema)
    .selectFrom('seen')
    .select((eb) => [eb.fn.countAll<number>().as('total'), eb.fn.count<number>('event_id').distinct().as('distinct')])
    .executeTakeFirstOrThrow();
  return { total: Number(r.total), distinct: Number(r.distinct) };
}

for (const kind of ['jetstream', 'embedded'] as const) {
  describe(`${kind} transport`, () => {
    let s: Setup;
    const handles: SubscriptionHandle[] = [];
    /** Every valid event this suite published: what a full replay must rebuild. */
    const published = new Set<string>();
    const publish = async (from: number, n: number) => {
      const ids = await publishThroughOutbox(s, from, n);
      for (const id of ids) published.add(id);
      return ids;
    };
    const seenIds = async () => (await db().selectFrom('seen').select('event_id').execute()).map((r) => r.event_id as string);
    beforeAll(async () => {
      s = kind === 'jetstream' ? await jetstreamSetup() : await embeddedSetup();
    });
    afterAll(async () => {
      for (const h of handles) await h.stop();
      await s?.cleanup();
    });
    const db = () => s.db.forSchema<any>(s.schema);

    it('commits the outbox row with the state change, or neither', async () => {
      await db()
        .transaction()
        .execute(async (trx) => {
          await trx.insertInto('items').values({ id: 'kept' }).execute();
          await addToOutbox(trx, courseEvents.published, payload(1));
        });
      await expect(
        db()
          .transaction()
          .execute(async (trx) => {
            await trx.insertInto('items').values({ id: 'lost' }).execute();
            await addToOutbox(trx, courseEvents.published, payload(2));
            throw new Error('boom');
          }),
      ).rejects.toThrow('boom');
      const items = await db().selectFrom('items').select('id').execute();
      const outbox = await db().selectFrom('outbox').select(['subject', 'payload']).execute();
      expect(items.map((r) => r.id)).toEqual(['kept']);
      expect(outbox).toHaveLength(1);
      expect(outbox[0]?.payload.title).toBe('Course 1');
      // An event that breaks its own contract fails the change.
      await expect(
        db()
          .transaction()
          .execute(async (trx) => addToOutbox(trx, courseEvents.published, { ...payload(3), courseId: 'nope' })),
      ).rejects.toThrow();
      await db().deleteFrom('outbox').execute();
      await db().deleteFrom('items').execute();
    });

    it('applies a handler that fails twice then succeeds exactly once', async () => {
      const attempts = new Map<string, number>();
      const sub = probeSubscription(db(), {
        consumer: 'probe-flaky',
        before: (env) => {
          const n = (attempts.get(env.id) ?? 0) + 1;
          attempts.set(env.id, n);
          if (n <= 2) throw new Error(`transient failure ${n}`);
        },
      });
      handles.push(await s.transport.subscribe(sub));
      await db().deleteFrom('seen').execute();
      const [id] = await publish(10, 1);
      await waitFor(async () => (await seenIds()).includes(defined(id)));
      await settled(s, 'probe-flaky'); // room for a wrong extra delivery
      expect((await seenIds()).filter((e) => e === id)).toHaveLength(1);
      expect(attempts.get(defined(id))).toBe(3);
      const processed = await db().selectFrom('processed_events').selectAll().where('consumer', '=', 'probe-flaky').execute();
      expect(processed.map((p) => p.event_id)).toEqual([id]);
      expect(await s.transport.deadLetters(sub)).toEqual([]);
      await defined(handles.pop()).stop();
    });

    it('applies an event once when it is redelivered after its effect committed but before the ack', async () => {
      // The ack is lost: the batch's transaction has committed (the effect and the processed id), then the step
      // before the ack fails, so the transport delivers the event again. The second delivery must change nothing.
      const committed = new Map<string, number>();
      const sub: Subscription = {
        ...probeSubscription(db(), { consumer: 'probe-lost-ack' }),
        onApplied: (envs) => {
          for (const env of envs) {
            const n = (committed.get(env.id) ?? 0) + 1;
            committed.set(env.id, n);
            if (n === 1) throw new Error('connection lost before the ack');
          }
        },
      };
      await db().deleteFrom('seen').execute();
      const handle = await s.transport.subscribe(sub);
      try {
        const ids = await publish(30, 3);
        await waitFor(async () => ids.every((id) => (committed.get(id) ?? 0) >= 2)); // delivered again, each of them
        await settled(s, 'probe-lost-ack');
        const applied = (await seenIds()).filter((e) => ids.includes(e));
        expect(applied.sort()).toEqual([...ids].sort()); // each effect once, not twice
        expect(await s.transport.deadLetters(sub)).toEqual([]);
      } finally {
        await handle.stop();
      }
    });

    it('dead-letters a poison message and a handler that never succeeds, and replays them', async () => {
      let broken = true;
      const sub = probeSubscription(db(), {
        consumer: 'probe-poison',
        maxDeliver: 3,
        before: (env) => {
          if (broken && (env.payload as { title: string }).title === 'Course 20') throw new Error('cannot handle course 20');
        },
      });
      await db().deleteFrom('seen').execute();
      handles.push(await s.transport.subscribe(sub));
      // A body that breaks the event contract can never be applied: no retries.
      await db()
        .insertInto('outbox')
        .values({ id: '00000000-0000-4000-8000-0000000000aa', subject: courseEvents.published.subject, payload: JSON.stringify({ courseId: 42 }) })
        .execute();
      await new OutboxRelay('probe', db(), s.transport, quiet).drain();
      const [bad, good] = await publish(20, 2);
      const letters = await waitFor(async () => {
        const l = await s.transport.deadLetters(sub);
        return l.length === 2 ? l : undefined;
      });
      expect(letters.map((l) => l.eventId).sort()).toEqual(['00000000-0000-4000-8000-0000000000aa', bad].sort());
      const slow = defined(letters.find((l) => l.eventId === bad));
      expect(slow.deliveries).toBe(3);
      expect(slow.error).toMatch(/cannot handle course 20/);
      expect(defined(letters.find((l) => l.eventId !== bad)).error).toMatch(/payload fails/);
      await waitFor(async () => (await seenIds()).includes(defined(good))); // the good one went through
      expect(await seenIds()).not.toContain(bad);

      // Fixed: replaying the dead letter applies it, once.
      broken = false;
      await s.transport.replay(sub, slow.id);
      await waitFor(async () => (await seenIds()).includes(defined(bad)));
      await settled(s, 'probe-poison');
      expect((await seenIds()).filter((e) => e === bad)).toHaveLength(1);
      expect((await s.transport.deadLetters(sub)).map((l) => l.eventId)).toEqual(['00000000-0000-4000-8000-0000000000aa']);
      await defined(handles.pop()).stop();
    });

    it('rebuilds a projection by replaying the stream', async () => {
      await db().deleteFrom('seen').execute();
      const sub = probeSubscription(db(), { consumer: 'probe-rebuild' });
      handles.push(await s.transport.subscribe(sub));
      const ids = await publish(100, 5);
      await waitFor(async () => (await seenIds()).filter((e) => ids.includes(e)).length === 5);
      // Damage the projection, then rebuild it from the stream.
      await db().insertInto('seen').values({ event_id: '00000000-0000-4000-8000-0000000000ff', category: 'junk' }).execute();
      if (kind === 'jetstream') handles.pop(); // rebuild replaces the handle
      await s.transport.rebuild(sub);
      await waitFor(async () => (await seenIds()).length >= published.size, 15_000);
      await settled(s, 'probe-rebuild');
      const after = await seenIds();
      expect(after.sort()).toEqual([...published].sort()); // every valid event once, no junk
    });
  });
}

describe('jetstream specifics', () => {
  let s: Awaited<ReturnType<typeof jetstreamSetup>>;
  beforeAll(async () => {
    s = await jetstreamSetup();
  });
  afterAll(() => s?.cleanup());

  it('drops a second publish of the same event id (Nats-Msg-Id)', async () => {
    const db = s.db.forSchema<any>(s.schema);
    await db.transaction().execute((trx) => addToOutbox(trx, courseEvents.published, payload(1)));
    const rows = (await db.selectFrom('outbox').selectAll().execute()) as OutboxRow[];
    await s.transport.publish(rows); // e.g. the relay crashed after publishing, before deleting
    await s.transport.publish(rows);
    const nc = await connect({ servers: NATS_URL });
    const info = await (await nc.jetstreamManager()).streams.info(s.transport.streamName('LMS_COURSE'));
    await nc.close();
    expect(info.state.messages).toBe(1);
    await db.deleteFrom('outbox').execute();
  });

  it('forgets processed ids past the redelivery horizon (stream max age + a day), and keeps the ones a redelivery may still need', async () => {
    const db = s.db.forSchema<any>(s.schema);
    expect(s.transport.processedIdsHorizonMs).toBe(15 * 86_400_000); // 14 days of stream, one of margin
    const ids = { old: randomUUID(), young: randomUUID(), otherGroup: randomUUID() };
    await db
      .insertInto('processed_events')
      .values([
        { consumer: 'probe-prune', event_id: ids.old, processed_at: sql`now() - interval '16 days'` },
        { consumer: 'probe-prune', event_id: ids.young, processed_at: sql`now() - interval '14 days'` },
        { consumer: 'probe-other', event_id: ids.otherGroup, processed_at: sql`now() - interval '30 days'` },
      ])
      .execute();
    // Each subscription prunes its own group when it starts, then hourly.
    const h = await s.transport.subscribe(probeSubscription(db, { consumer: 'probe-prune' }));
    try {
      await waitFor(async () => !(await db.selectFrom('processed_events').select('event_id').where('event_id', '=', ids.old).executeTakeFirst()));
      const left = await db.selectFrom('processed_events').select('event_id').where('event_id', 'in', Object.values(ids)).execute();
      expect(left.map((r) => r.event_id).sort()).toEqual([ids.young, ids.otherGroup].sort());
      // In batches: everything past the horizon goes, however many there are.
      await db
        .insertInto('processed_events')
        .values(Array.from({ length: 25 }, () => ({ consumer: 'probe-prune', event_id: randomUUID(), processed_at: sql`now() - interval '20 days'` })))
        .execute();
      expect(await pruneProcessed({ db, consumer: 'probe-prune' }, s.transport.processedIdsHorizonMs, 10)).toBe(25);
    } finally {
      await h.stop();
      await db.deleteFrom('processed_events').where('consumer', 'in', ['probe-prune', 'probe-other']).execute();
    }
  });

  it('refuses events into a full stream, keeps them in the outbox, and publishes each once when there is room again', async () => {
    const db = s.db.forSchema<any>(s.schema);
    const ns = uniqueName('t');
    const stream = `${ns.toUpperCase()}_COURSE`;
    const full = await JetStreamTransport.connect({
      url: NATS_URL,
      namespace: ns,
      logger: quiet,
      streams: { replicas: 1, maxAgeMs: 3_600_000, maxBytes: 4_096 },
    });
    const nc = await connect({ servers: NATS_URL });
    const jsm = await nc.jetstreamManager();
    const outboxRows = async () =>
      Number(
        (
          await db
            .selectFrom('outbox')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    try {
      await db.deleteFrom('outbox').execute();
      await db.transaction().execute(async (trx) => {
        for (let i = 0; i < 30; i++) await addToOutbox(trx, courseEvents.published, payload(7000 + i));
      });
      await expect(new OutboxRelay('probe', db, full, quiet, 10).drain()).rejects.toThrow(/maximum bytes exceeded/);
      const kept = (await jsm.streams.info(stream)).state;
      expect(kept.bytes).toBeLessThanOrEqual(4_096);
      expect(kept.messages).toBeLessThan(30);
      expect(kept.first_seq).toBe(1); // nothing was dropped to make room
      expect(await outboxRows()).toBeGreaterThanOrEqual(30 - kept.messages);
      // An operator raises LMS_STREAM_MAX_BYTES: the next node to start updates the stream, the relay catches up.
      const roomy = await JetStreamTransport.connect({ url: NATS_URL, namespace: ns, logger: quiet });
      try {
        await new OutboxRelay('probe', db, roomy, quiet, 10).drain();
      } finally {
        await roomy.close();
      }
      expect(await outboxRows()).toBe(0);
      expect((await jsm.streams.info(stream)).state.messages).toBe(30); // each once: what got in before the refusal is not there twice
    } finally {
      await full.close();
      await nc.close();
      await dropStreams(ns);
    }
  });

  it('applies batches through handleMany when a projection offers it, once per event', async () => {
    const db = s.db.forSchema<any>(s.schema);
    await db.deleteFrom('seen').execute();
    let calls = 0;
    const sub = {
      ...probeSubscription(db, { consumer: 'probe-bulk' }),
      handleMany: async (envs: Array<{ id: string }>, trx: import('kysely').Transaction<any>) => {
        calls++;
        await trx
          .insertInto('seen')
          .values(envs.map((e) => ({ event_id: e.id, category: 'bulk' })))
          .execute();
      },
    };
    const h = await s.transport.subscribe(sub);
    await db.transaction().execute(async (trx) => {
      for (let i = 0; i < 300; i++) await addToOutbox(trx, courseEvents.published, payload(5000 + i));
    });
    await new OutboxRelay('probe', db, s.transport, quiet).drain();
    const nc = await connect({ servers: NATS_URL });
    const inStream = (await (await nc.jetstreamManager()).streams.info(s.transport.streamName('LMS_COURSE'))).state.messages;
    await nc.close();
    await waitFor(async () => (await seen(s)).total >= inStream, 20_000);
    await settled(s, 'probe-bulk');
    expect(await seen(s)).toEqual({ total: inStream, distinct: inStream });
    expect(calls).toBeLessThan(inStream); // batched, not one call per event
    await h.stop();
  });

  it('loses nothing and applies nothing twice when the consumer process is killed mid-stream', async () => {
    const db = s.db.forSchema<any>(s.schema);
    await db.deleteFrom('seen').execute();
    const N = 400;
    // Publish first, so that the stream holds work when the consumer starts.
    await db.transaction().execute(async (trx) => {
      for (let i = 0; i < N; i++) await addToOutbox(trx, courseEvents.published, payload(1000 + i));
    });
    await new OutboxRelay('probe', db, s.transport, quiet).drain();
    const start = (): ChildProcess => {
      // node --import tsx, not the tsx wrapper: the SIGKILL must hit the consumer itself.
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', path.resolve('services/runtime/test/fixtures/consumer-process.ts'), s.url, s.schema, s.ns, NATS_URL, '2'],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      return child;
    };
    const count = async () =>
      Number(
        (
          await db
            .selectFrom('seen')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    const first: ChildProcess = start();
    await waitFor(async () => (await count()) >= 50, 30_000);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const atKill = await count();
    expect(atKill).toBeLessThan(N);
    const second = start();
    try {
      // The group reads the whole stream: the earlier test's event plus these N.
      const nc = await connect({ servers: NATS_URL });
      const inStream = (await (await nc.jetstreamManager()).streams.info(s.transport.streamName('LMS_COURSE'))).state.messages;
      await nc.close();
      await waitFor(async () => (await count()) >= inStream, 60_000, 200);
      await settled(s, 'probe-seen');
      expect(await seen(s)).toEqual({ total: inStream, distinct: inStream });
    } finally {
      second.kill('SIGKILL');
    }
  }, 120_000);
});
