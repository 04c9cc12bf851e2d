/**
 * The enrollment saga on the real stack (PostgreSQL, NATS JetStream): 200 concurrent enrolments into
 * 50 seats, promotion from the waitlist, and a saga whose process is SIGKILLed between steps and
 * resumes in a new process, completing once with one welcome message.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { importJWK, SignJWT, type JWK } from 'jose';
import path from 'node:path';
import { migrateAll, openDatabase, startNode, type LmsNode, type RuntimeSettings } from '@lms/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pick, SERVICES } from '../services.ts';
import { defined, drained, dropStreams, NATS_URL, query, tempDatabase, uniqueName, waitFor } from './support.ts';

let db: Awaited<ReturnType<typeof tempDatabase>>;
let ns: string;
let core: LmsNode;
const children: ChildProcess[] = [];
/** The first account of the install (admin): services take the caller from its access token. */
const admin = { token: '' };

const settings = (nodeId: string): Partial<RuntimeSettings> => ({
  mode: 'mesh',
  databaseUrl: db.url,
  natsUrl: NATS_URL,
  namespace: ns,
  port: 0,
  migrateOnStart: false,
  nodeId,
});
const call = <T = unknown>(action: string, params: object, as?: { token: string } | { userId: string; roles: string[] }): Promise<T> =>
  (as && 'userId' in as ? tokenFor(as.userId, as.roles) : Promise.resolve(as?.token)).then((token) =>
    core.broker.call<T, object>(action, params, { meta: token ? { token, edge: true } : { edge: false }, timeout: 60_000 }),
  );
/** A learner's access token, signed with the auth service's current key (their profiles have no password). */
let signingKey: Promise<{ kid: string; key: Awaited<ReturnType<typeof importJWK>> }> | undefined;
async function tokenFor(userId: string, roles: string[]): Promise<string> {
  // Read once: 200 concurrent enrolments must not open 200 database connections for the same key.
  signingKey ??= sql<{ kid: string; private_jwk: JWK }>('select kid, private_jwk from auth.signing_keys order by created_at desc limit 1').then(
    async ([row]) => {
      if (!row) throw new Error('auth has no signing key yet');
      return { kid: row.kid, key: await importJWK(row.private_jwk, 'EdDSA') };
    },
  );
  const { kid, key } = await signingKey;
  return new SignJWT({ roles, sid: randomUUID(), amr: ['pwd'] })
    .setProtectedHeader({ alg: 'EdDSA', kid })
    .setSubject(userId)
    .setIssuer('lms')
    .setAudience('lms-api')
    .setIssuedAt()
    .setExpirationTime('15m')
    .sign(key);
}
const sql = <R = Record<string, unknown>>(q: string, params: unknown[] = []) => query<R>(db.url, q, params);

async function users(n: number, prefix: string) {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = randomUUID();
    await call('users.create', { id, email: `${prefix}${i}@saga.test`, displayName: `${prefix} ${i}` });
    out.push(id);
  }
  return out;
}

async function publishedCourse(title: string, capacity: number | null) {
  const c = await call<{ id: string }>('courses.create', { title, category: 'saga', capacity }, admin);
  await call('courses.publish', { courseId: c.id }, admin);
  return c.id;
}

/** An enrollments node in a process of its own; ENROLLMENT_SAGA_CRASH_AFTER makes its fixture install the crash hook. */
function spawnEnrollments(nodeId: string, env: Record<string, string> = {}): ChildProcess {
  // node --import tsx, not the tsx wrapper: the SIGKILL must reach the node itself.
  const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('tools/test/fixtures/enrollments-node.ts')], {
    env: { ...process.env, DATABASE_URL: db.url, NATS_URL, LMS_NAMESPACE: ns, NODE_ID: nodeId, LOG_LEVEL: 'warn', ENROLLMENT_SAGA_POLL_MS: '200', ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.push(child);
  return child;
}

beforeAll(async () => {
  db = await tempDatabase();
  ns = uniqueName('s');
  const d = await openDatabase({ databaseUrl: db.url, dataDir: '' });
  await migrateAll(d, Object.values(SERVICES));
  await d.close();
  core = await startNode(pick('auth,users,courses,notifications,analytics,audit'), settings('core'));
  const registered = await core.broker.call(
    'auth.register',
    { email: 'admin@saga.test', password: 'correct horse battery staple 42', displayName: 'Admin' },
    { meta: { edge: true } },
  );
  admin.token = (registered as { accessToken: string }).accessToken;
}, 60_000);
afterAll(async () => {
  await Promise.all(children.filter((c) => c.exitCode === null && c.signalCode === null).map((c) => new Promise((r) => c.once('exit', r).kill('SIGKILL'))));
  await core?.stop();
  await dropStreams(ns);
  await db?.drop();
});

describe('enrollment saga', () => {
  it('seats exactly 50 of 200 concurrent enrolments, waitlists 150, and promotes the first in line on a drop', async () => {
    const enrollments = await startNode(pick('enrollments'), settings('enrollments-inproc'));
    try {
      await core.broker.waitForServices(['enrollments'], 20_000);
      const courseId = await publishedCourse('Fifty seats', 50);
      const learners = await users(200, 'crowd');
      const started = performance.now();
      const results = await Promise.all(learners.map((userId) => call<{ status: string }>('enrollments.enrol', { courseId }, { userId, roles: ['student'] })));
      const ms = Math.round(performance.now() - started);
      const counts = results.reduce<Record<string, number>>((acc, r) => ({ ...acc, [r.status]: (acc[r.status] ?? 0) + 1 }), {});
      expect(counts, `200 enrolments took ${ms} ms`).toEqual({ active: 50, waitlisted: 150 });
      const [seats] = await sql('select taken, capacity from enrollments.seats where course_id = $1', [courseId]);
      expect(seats).toEqual({ taken: 50, capacity: 50 });
      const byStatus = await sql('select status, count(*)::int as n from enrollments.enrollments where course_id = $1 group by status order by status', [
        courseId,
      ]);
      expect(byStatus).toEqual([
        { status: 'active', n: 50 },
        { status: 'waitlisted', n: 150 },
      ]);

      const first = defined(
        (
          await sql<{ user_id: string }>(
            `select user_id from enrollments.enrollments where course_id = $1 and status = 'waitlisted' order by waitlisted_at, id limit 1`,
            [courseId],
          )
        )[0],
      );
      const leaver = defined(
        (await sql<{ user_id: string }>(`select user_id from enrollments.enrollments where course_id = $1 and status = 'active' limit 1`, [courseId]))[0],
      );
      await call('enrollments.drop', { courseId }, { userId: leaver.user_id, roles: ['student'] });
      await waitFor(
        async () =>
          (await sql(`select status from enrollments.enrollments where course_id = $1 and user_id = $2 and status = 'active'`, [courseId, first.user_id]))
            .length === 1,
      );
      const after = await sql('select status, count(*)::int as n from enrollments.enrollments where course_id = $1 group by status order by status', [
        courseId,
      ]);
      expect(after).toEqual([
        { status: 'active', n: 50 },
        { status: 'dropped', n: 1 },
        { status: 'waitlisted', n: 149 },
      ]);
      expect((await sql('select taken from enrollments.seats where course_id = $1', [courseId]))[0]?.taken).toBe(50);
    } finally {
      await enrollments.stop();
    }
  }, 120_000);

  for (const step of ['reserve', 'welcome'] as const) {
    it(`completes once, with one welcome message, when its process is killed right after "${step}"`, async () => {
      const courseId = await publishedCourse(`Crash after ${step}`, null);
      const [userId] = await users(1, `crash-${step}-`);
      const doomed = spawnEnrollments(`doomed-${step}`, { ENROLLMENT_SAGA_CRASH_AFTER: step });
      await core.broker.waitForServices(['enrollments'], 30_000);
      const died = new Promise<NodeJS.Signals | null>((r) => doomed.once('exit', (_code, signal) => r(signal)));
      await call('enrollments.enrol', { courseId }, { userId: defined(userId), roles: ['student'] }).catch(() => 'the node died mid-call');
      expect(await died).toBe('SIGKILL');
      const [mid] = await sql(
        'select s.step, s.status, e.status as enrollment from enrollments.sagas s join enrollments.enrollments e on e.id = s.enrollment_id where e.user_id = $1',
        [userId],
      );
      expect(mid?.status).toBe('running'); // stopped between steps, state on disk

      spawnEnrollments(`revived-${step}`);
      await waitFor(
        async () =>
          (
            await sql(
              `select 1 from enrollments.sagas s join enrollments.enrollments e on e.id = s.enrollment_id where e.user_id = $1 and s.status = 'done' and e.status = 'active'`,
              [userId],
            )
          ).length === 1,
        45_000,
        200,
      );
      await waitFor(
        async () => (await sql(`select 1 from notifications.deliveries where user_id = $1 and template = 'enrollment_welcome'`, [userId])).length === 1,
        15_000,
      );
      await drained({ databaseUrl: db.url, namespace: ns }); // a duplicate, if there were one, would be delivered by now
      expect(await sql(`select count(*)::int as n from notifications.deliveries where user_id = $1 and template = 'enrollment_welcome'`, [userId])).toEqual([
        { n: 1 },
      ]);
      const history = await sql<{ status: string }>(
        `select h.status from enrollments.enrollment_history h join enrollments.enrollments e on e.id = h.enrollment_id where e.user_id = $1 order by h.id`,
        [userId],
      );
      expect(history.map((h) => h.status)).toEqual(['pending', 'active']);
      expect(await sql('select taken from enrollments.seats where course_id = $1', [courseId])).toEqual([{ taken: 1 }]);
      await waitFor(
        async () => (await sql(`select enrolled from analytics.enrollments_by_course where course_id = $1`, [courseId]))[0]?.enrolled === 1,
        15_000,
      );
      // Stop this one before the next crash case, so only the doomed node runs sagas then.
      const revived = defined(children.at(-1));
      await new Promise((r) => revived.once('exit', r).kill('SIGTERM'));
      await waitFor(
        async () => !(core.broker.registry.getServiceList({ onlyAvailable: true }) as Array<{ name: string }>).some((s) => s.name === 'enrollments'),
        20_000,
        200,
      );
    }, 120_000);
  }
});
