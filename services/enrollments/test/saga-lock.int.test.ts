/**
 * The enrollment saga's per-step lock: two runners (two processes' sagas, here two instances on one database) drive
 * the same saga at the same moment; each step's effects must happen once — one seat taken, one payment, one
 * activation, one welcome request, one enrollment event. Barriers in the remote parts (course terms, payment) make
 * both runners reach the same step together, so the race is not left to chance.
 */
import { randomUUID } from 'node:crypto';
import { coursesInternal, enrollmentEvents, notificationEvents, usersInternal } from '@lms/contracts';
import { addToOutbox, migrateSchema, openDatabase, retryPolicies, type Call, type Database } from '@lms/runtime';
import type { Kysely } from 'kysely';
import { ServiceBroker } from 'moleculer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrollmentsService } from '../src/index.js';
import { EnrollmentsRepository, type EnrollmentsDB } from '../src/enrollments.repository.js';
import { enrollmentSaga, type EnrollmentSagaTypes, type PaymentProvider } from '../src/enrollment-saga.js';
import { SagaRunner } from '@lms/runtime';
import { query, tempDatabase } from '../../../tools/test/support.ts';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** Resolves once `parties` callers are waiting (or after `ms`, so that a lone runner is not stuck). */
function barrier(parties: number, ms = 2_000): () => Promise<void> {
  let waiting: Array<() => void> = [];
  return () =>
    new Promise<void>((resolve) => {
      waiting.push(resolve);
      if (waiting.length >= parties) {
        for (const r of waiting) r();
        waiting = [];
      } else setTimeout(resolve, ms);
    });
}

let pg: Awaited<ReturnType<typeof tempDatabase>>;
let database: Database;
let db: Kysely<EnrollmentsDB>;
let broker: ServiceBroker;
const atTerms = barrier(2);
const atPayment = barrier(2);
/** Money moved, by idempotency key: a provider honours the key, so the same key twice is one charge. */
const charges = new Map<string, number>();
const payments: PaymentProvider = {
  async charge(req) {
    await atPayment();
    charges.set(req.idempotencyKey, (charges.get(req.idempotencyKey) ?? 0) + 1);
    return { status: 'paid', paymentId: `test:${req.idempotencyKey}` };
  },
};

/**
 * The one place a runner is built: what another process's enrollments service would build — the same saga definition,
 * a unit of work over its own transactions (outbox rows written in them), calls over the broker.
 */
function runner(): SagaRunner<EnrollmentSagaTypes> {
  const repo = new EnrollmentsRepository(db);
  const call: Call = (c, input) => broker.call(c.action, input);
  return new SagaRunner(enrollmentSaga({ repo, call, payments, paymentTimeoutMs: 10_000 }), {
    repo,
    uow: (fn) =>
      db.transaction().execute((trx) => fn({ repo: new EnrollmentsRepository(trx), emit: (event, payload, key) => addToOutbox(trx, event, payload, { key }) })),
    logger: quiet,
    pollMs: 60_000,
    retry: retryPolicies.sagas,
  });
}

beforeAll(async () => {
  pg = await tempDatabase();
  database = await openDatabase({ databaseUrl: pg.url, dataDir: '' });
  await migrateSchema(database, 'enrollments', enrollmentsService.migrations);
  db = database.forSchema<EnrollmentsDB>('enrollments');
  // The services the validate step asks, as stand-ins: any published, public course; any active user.
  broker = new ServiceBroker({ logger: false, transporter: null });
  broker.createService({
    name: coursesInternal.enrollmentTerms.service,
    actions: {
      [coursesInternal.enrollmentTerms.name]: async (ctx: { params: { courseId: string } }) => {
        await atTerms();
        return {
          courseId: ctx.params.courseId,
          title: 'Locks',
          status: 'published',
          visibility: 'public',
          version: 1,
          capacity: 10,
          enrollOpensAt: null,
          enrollClosesAt: null,
          prerequisites: [],
        };
      },
    },
  });
  broker.createService({
    name: usersInternal.byId.service,
    actions: {
      [usersInternal.byId.name]: async (ctx: { params: { id: string } }) => ({
        id: ctx.params.id,
        email: 'learner@locks.test',
        displayName: 'Learner',
        status: 'active',
      }),
    },
  });
  await broker.start();
});
afterAll(async () => {
  await broker?.stop();
  await database?.close();
  await pg?.drop();
});

describe('enrollment saga, two runners on one saga', () => {
  it("applies each step's effects once", async () => {
    const courseId = randomUUID();
    const userId = randomUUID();
    const enrollmentId = randomUUID();
    const sagaId = randomUUID();
    await db.transaction().execute((trx) => new EnrollmentsRepository(trx).start({ id: enrollmentId, courseId, userId, sagaId, by: userId }));

    const [a, b] = [runner(), runner()];
    await Promise.all([a.run(sagaId), b.run(sagaId)]);

    const sql = <R = Record<string, unknown>>(q: string, params: unknown[] = []) => query<R>(pg.url, q, params);
    const [saga] = await sql('select step, status from enrollments.sagas where id = $1', [sagaId]);
    expect(saga).toEqual({ step: 'done', status: 'done' });
    const [seats] = await sql('select taken from enrollments.seats where course_id = $1', [courseId]);
    expect(seats).toEqual({ taken: 1 });
    // Both runners reached the payment step together (the race happened), with one key: one payment for the provider.
    expect([...charges]).toEqual([[enrollmentId, 2]]);
    const history = await sql<{ status: string }>('select status from enrollments.enrollment_history where enrollment_id = $1 order by id', [enrollmentId]);
    expect(history.map((h) => h.status)).toEqual(['pending', 'active']);
    const events = await sql<{ subject: string; status: string | null }>(`select subject, payload->>'status' as status from enrollments.outbox order by seq`);
    expect(events).toEqual([
      { subject: enrollmentEvents.changed.subject, status: 'active' },
      { subject: notificationEvents.requested.subject, status: null },
      { subject: enrollmentEvents.created.subject, status: null },
    ]);
  });
});
