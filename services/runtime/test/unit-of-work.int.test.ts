/**
 * The outbox guarantee, tested through a service's unit of work (not by handing `addToOutbox` a transaction):
 * an event emitted in a handler's unit of work exists if and only if the handler's change commits, and a committed
 * event is published even when the process dies between the commit and the relay's publish.
 * In both modes: mesh (PostgreSQL, JetStream) and embedded (PGlite on disk, in-process delivery), each with two nodes
 * one after the other on one database.
 */
import { courseEvents, DomainError, domain, mutation } from '@lms/contracts';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { consumer, defineService, startNode, toPublicError, type LmsNode, type Migrations } from '../src/index.js';
import { defined, dropStreams, drained, NATS_URL, tempDatabase, tempDir, uniqueName, waitFor } from '../../../tools/test/support.ts';

const ledger = domain('ledger', {
  record: mutation({
    input: z.object({ id: z.uuid(), fail: z.boolean().default(false), key: z.string().default('ok') }),
    output: z.object({ id: z.uuid() }),
    permission: 'internal',
    summary: 'records an item and emits an event for it',
  }),
});

interface LedgerDB {
  items: { id: string };
  seen: { event_id: string; course_id: string };
}

const migrations: Migrations = {
  '20260101000000_ledger': {
    async up(db) {
      await db.schema
        .createTable('items')
        .addColumn('id', 'uuid', (c) => c.primaryKey())
        .execute();
      // No unique key on purpose: an event applied twice shows as two rows.
      await db.schema
        .createTable('seen')
        .addColumn('event_id', 'uuid', (c) => c.notNull())
        .addColumn('course_id', 'uuid', (c) => c.notNull())
        .execute();
    },
    async down(db) {
      await db.schema.dropTable('items').execute();
      await db.schema.dropTable('seen').execute();
    },
  },
};

const ledgerService = defineService({
  name: 'ledger',
  contracts: ledger,
  migrations,
  // The fixture's "repository" is its database handle: the unit of work hands the handler its transaction, typed.
  repository: (db: Kysely<LedgerDB>) => db,
  handlers: {
    record: async ({ input, uow }) => {
      await uow(async ({ trx, emit }) => {
        await trx.insertInto('items').values({ id: input.id }).execute();
        await emit(
          courseEvents.published,
          { courseId: input.id, title: 'Ledger', category: 'ledger', ownerId: input.id, publishedAt: new Date().toISOString() },
          input.key,
        );
        if (input.fail) throw new DomainError('CONFLICT', 'the handler failed after emitting');
      });
      return { id: input.id };
    },
  },
  consumers: [
    consumer({
      name: 'seen',
      event: courseEvents.published,
      handle: async ({ payload, event: env, trx }) => {
        await trx.insertInto('seen').values({ event_id: env.id, course_id: payload.courseId }).execute();
      },
    }),
  ],
});

for (const mode of ['mesh', 'embedded'] as const) {
  describe(`a service's unit of work and its events (${mode})`, () => {
    let pg: Awaited<ReturnType<typeof tempDatabase>> | undefined;
    let dir: ReturnType<typeof tempDir> | undefined;
    let namespace: string;
    let node: LmsNode;
    const start = (nodeId: string) =>
      mode === 'mesh'
        ? startNode([ledgerService], {
            mode,
            databaseUrl: defined(pg, 'the test database').url,
            natsUrl: NATS_URL,
            namespace,
            port: 0,
            migrateOnStart: true,
            nodeId,
          })
        : startNode([ledgerService], { mode, databaseUrl: undefined, dataDir: defined(dir, 'the data directory').dir, port: 0, nodeId });
    const record = (input: { id: string; fail?: boolean; key?: string }) => node.broker.call('ledger.record', input, { meta: { edge: false } });
    const count = async (table: string, where: string) =>
      Number(
        defined(
          (await sql.raw<{ n: number }>(`select count(*)::int as n from ledger.${table} where ${where}`).execute(node.runtime.db.root)).rows[0],
          'a count row',
        ).n,
      );
    /** What one recorded item left: the item, its outbox row, its deliveries to the consumer. */
    const traces = async (id: string) => ({
      items: await count('items', `id = '${id}'`),
      outbox: await count('outbox', `payload->>'courseId' = '${id}'`),
      delivered: await count('seen', `course_id = '${id}'`),
    });
    const settled = () => drained(mode === 'mesh' ? { db: node.runtime.db.root, namespace } : { db: node.runtime.db.root });

    beforeAll(async () => {
      namespace = uniqueName('u');
      if (mode === 'mesh') pg = await tempDatabase();
      else dir = tempDir();
      node = await start(`${namespace}-a`);
    });
    afterAll(async () => {
      await node?.stop();
      if (mode === 'mesh') await dropStreams(namespace);
      await pg?.drop();
      dir?.remove();
    });

    it('publishes the event of a change that commits, and it is applied once', async () => {
      const id = crypto.randomUUID();
      expect(await record({ id })).toEqual({ id });
      await waitFor(async () => (await traces(id)).delivered > 0);
      await settled();
      expect(await traces(id)).toEqual({ items: 1, outbox: 0, delivered: 1 });
    });

    it('leaves no event behind a handler that throws after emitting: no outbox row, nothing delivered', async () => {
      const id = crypto.randomUUID();
      const err = await record({ id, fail: true }).then(
        () => undefined,
        (e: unknown) => toPublicError(e),
      );
      expect(err).toMatchObject({ code: 'CONFLICT' });
      await settled();
      expect(await traces(id)).toEqual({ items: 0, outbox: 0, delivered: 0 });
    });

    it('keeps no change whose event could not be written: the outbox row is part of the same transaction', async () => {
      // The database refuses this one outbox row. In the handler's transaction, that fails the whole change; an outbox
      // written separately, after the commit, would keep the item with no event ever to come (the process dying in between).
      await sql
        .raw(
          `create function ledger.refuse_outbox() returns trigger language plpgsql as $$ begin raise exception 'outbox refused'; end $$;
           create trigger refuse before insert on ledger.outbox for each row when (new.key = 'refused') execute function ledger.refuse_outbox();`,
        )
        .execute(node.runtime.db.root);
      try {
        const id = crypto.randomUUID();
        const err = await record({ id, key: 'refused' }).then(
          () => undefined,
          (e: unknown) => toPublicError(e),
        );
        expect(err).toMatchObject({ code: 'INTERNAL' });
        await settled();
        expect(await traces(id)).toEqual({ items: 0, outbox: 0, delivered: 0 });
      } finally {
        await sql.raw('drop trigger refuse on ledger.outbox; drop function ledger.refuse_outbox();').execute(node.runtime.db.root);
      }
    });

    it('publishes a committed event once when the process dies between the commit and the publish: the next node relays it', async () => {
      // The crash: this node's relay never runs again (as if the process died right after the commit, before relay.kick).
      for (const relay of node.runtime.relays) await relay.stop();
      const id = crypto.randomUUID();
      expect(await record({ id })).toEqual({ id });
      expect(await traces(id)).toEqual({ items: 1, outbox: 1, delivered: 0 });
      await node.stop();

      // A new node on the same database (and stream): its relay finds the row on start and publishes it.
      node = await start(`${namespace}-b`);
      await waitFor(async () => (await traces(id)).delivered > 0);
      await settled();
      expect(await traces(id)).toEqual({ items: 1, outbox: 0, delivered: 1 });
    });
  });
}
