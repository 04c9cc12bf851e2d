/**
 * The assessment completion saga on the real stack (PostgreSQL, NATS JetStream): a quiz attempt is submitted (the
 * event on JetStream, as the attempts service publishes it), and the enrollments process that runs the saga is
 * SIGKILLed right after each step in turn; a new process resumes it. Whatever step it died after, the learner ends
 * with the quiz lesson complete, one `moduleCompleted`, one `moduleUnlocked`, the course completed once (one
 * `courseCompleted`, one completion message) and one certificate that the issue call created.
 *
 * The attempts, grades and credentials services are TEST DOUBLES here (plain Moleculer services with their names,
 * answering from fixtures and counting calls): the real ones replace them once their branches are merged.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { importJWK, SignJWT, type JWK } from 'jose';
import type { Context } from 'moleculer';
import { assessmentEvents, type AssessmentOutcome } from '@lms/contracts';
import { completionSagaId, type CompletionStep } from '@lms/enrollments';
import { migrateAll, openDatabase, startNode, type LmsNode, type RuntimeSettings } from '@lms/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pick, SERVICES } from '../services.ts';
import { defined, drained, dropStreams, NATS_URL, query, tempDatabase, uniqueName, waitFor } from './support.ts';

let db: Awaited<ReturnType<typeof tempDatabase>>;
let ns: string;
let core: LmsNode;
const children: ChildProcess[] = [];
const admin = { token: '' };
const sql = <R = Record<string, unknown>>(q: string, params: unknown[] = []) => query<R>(db.url, q, params);

// ------------------------------------------------------------ test doubles of the assessment services

/** attempts (TEST DOUBLE): outcomes by attempt id, as the fixtures say. */
const attemptOutcomes = new Map<string, AssessmentOutcome>();
const outcomeCalls: string[] = [];
/** grades (TEST DOUBLE): every learner has 80% with a minimum of 50%. */
const courseGradeCalls: string[] = [];
/** credentials (TEST DOUBLE): idempotent per (user, course); records every call and whether it created. */
const issued = new Map<string, { credentialId: string; code: string }>();
const issueCalls: Array<{ userId: string; courseId: string; created: boolean }> = [];

function registerTestDoubles(broker: LmsNode['broker']) {
  broker.createService({
    name: 'attempts',
    actions: {
      outcome(ctx: Context<{ attemptId: string }>) {
        outcomeCalls.push(ctx.params.attemptId);
        return defined(attemptOutcomes.get(ctx.params.attemptId), 'a fixture outcome');
      },
    },
  });
  broker.createService({
    name: 'grades',
    actions: {
      courseGrade(ctx: Context<{ userId: string; courseId: string }>) {
        courseGradeCalls.push(ctx.params.userId);
        return { percent: 80, letter: 'B', minimumPercent: 50 };
      },
    },
  });
  broker.createService({
    name: 'credentials',
    actions: {
      issue(ctx: Context<{ userId: string; courseId: string; completedAt: string }>) {
        const key = `${ctx.params.userId}:${ctx.params.courseId}`;
        const existing = issued.get(key);
        const credential = existing ?? { credentialId: randomUUID(), code: `C-${issued.size + 1}` };
        issued.set(key, credential);
        issueCalls.push({ userId: ctx.params.userId, courseId: ctx.params.courseId, created: !existing });
        return { ...credential, created: !existing };
      },
    },
  });
}

// ------------------------------------------------------------ helpers

const settings = (nodeId: string): Partial<RuntimeSettings> => ({
  mode: 'mesh',
  databaseUrl: db.url,
  natsUrl: NATS_URL,
  namespace: ns,
  port: 0,
  migrateOnStart: false,
  nodeId,
});

let signingKey: Promise<{ kid: string; key: Awaited<ReturnType<typeof importJWK>> }> | undefined;
async function tokenFor(userId: string): Promise<string> {
  signingKey ??= sql<{ kid: string; private_jwk: JWK }>('select kid, private_jwk from auth.signing_keys order by created_at desc limit 1').then(
    async ([row]) => {
      if (!row) throw new Error('auth has no signing key yet');
      return { kid: row.kid, key: await importJWK(row.private_jwk, 'EdDSA') };
    },
  );
  const { kid, key } = await signingKey;
  return new SignJWT({ roles: ['student'], sid: randomUUID(), amr: ['pwd'] })
    .setProtectedHeader({ alg: 'EdDSA', kid })
    .setSubject(userId)
    .setIssuer('lms')
    .setAudience('lms-api')
    .setIssuedAt()
    .setExpirationTime('15m')
    .sign(key);
}
const call = async <T = unknown>(action: string, params: object, as: { token: string } | { userId: string }): Promise<T> => {
  const token = 'userId' in as ? await tokenFor(as.userId) : as.token;
  return core.broker.call<T, object>(action, params, { meta: { token, edge: true }, timeout: 60_000 });
};

/** A sequential course: module A (a reading, then a quiz), module B (empty, unlocked once A is complete). */
async function quizCourse(title: string) {
  const c = await call<{ id: string }>('courses.create', { title, category: 'saga', sequential: true }, admin);
  const a = await call<{ id: string }>('courses.createModule', { courseId: c.id, title: 'Basics' }, admin);
  const reading = await call<{ id: string }>('courses.createLesson', { moduleId: a.id, title: 'Read', content: { type: 'markdown', body: 'hello' } }, admin);
  const quizId = randomUUID();
  const quiz = await call<{ id: string }>(
    'courses.createLesson',
    { moduleId: a.id, title: 'Check', content: { type: 'quiz', quizId, passPercent: 70 } },
    admin,
  );
  const b = await call<{ id: string }>('courses.createModule', { courseId: c.id, title: 'Next steps' }, admin);
  await call('courses.publish', { courseId: c.id }, admin);
  return { courseId: c.id, moduleA: a.id, moduleB: b.id, readingId: reading.id, quizLessonId: quiz.id, quizId };
}

/** Publishes a domain event on JetStream as its owning service's outbox relay would. */
async function publish(subject: string, key: string, payload: object) {
  await core.runtime.transport.publish([{ seq: 0, id: randomUUID(), subject, key, request_id: null, payload, occurred_at: new Date() }]);
}

/** The enrollment events of one learner on JetStream, counted by subject (what every consumer gets). */
async function enrollmentEventsOf(userId: string): Promise<Record<string, number>> {
  const { connect } = await import('nats');
  const nc = await connect({ servers: NATS_URL });
  try {
    const js = nc.jetstream();
    const consumer = await js.consumers.get(`${ns.toUpperCase()}_ENROLLMENT`);
    const counts: Record<string, number> = {};
    const msgs = await consumer.fetch({ max_messages: 10_000, expires: 2000 });
    for await (const m of msgs) {
      const env = m.json<{ payload: { userId?: string } }>();
      if (env.payload.userId === userId) {
        const name = m.subject.slice(ns.length + 1);
        counts[name] = (counts[name] ?? 0) + 1;
      }
      if (m.info.pending === 0) break;
    }
    return counts;
  } finally {
    await nc.close();
  }
}

function spawnEnrollments(nodeId: string, env: Record<string, string> = {}): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('tools/test/fixtures/enrollments-node.ts')], {
    env: { ...process.env, DATABASE_URL: db.url, NATS_URL, LMS_NAMESPACE: ns, NODE_ID: nodeId, LOG_LEVEL: 'warn', ENROLLMENT_SAGA_POLL_MS: '200', ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.push(child);
  return child;
}

async function stopEnrollments(child: ChildProcess) {
  if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r).kill('SIGTERM'));
  await waitFor(
    async () => !(core.broker.registry.getServiceList({ onlyAvailable: true }) as Array<{ name: string }>).some((s) => s.name === 'enrollments'),
    20_000,
    200,
  );
}

beforeAll(async () => {
  db = await tempDatabase();
  ns = uniqueName('cs');
  const d = await openDatabase({ databaseUrl: db.url, dataDir: '' });
  await migrateAll(d, Object.values(SERVICES));
  await d.close();
  core = await startNode(pick('auth,users,courses,notifications,analytics,audit'), settings('core'));
  registerTestDoubles(core.broker);
  const registered = await core.broker.call(
    'auth.register',
    { email: 'admin@completion.test', password: 'correct horse battery staple 42', displayName: 'Admin' },
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

/**
 * One crash case per test file (completion-saga-<step>.int.test.ts), each on its own namespace and processes: run
 * one after another in one file, every case after the first timed out waiting for its saga (issue 14, open). Killed
 * right after "complete", the saga finishes but the streams do not drain within 45 s: that case has no file yet.
 */
export function completionSagaSuite(steps: CompletionStep[], awaitingGrading = false) {
  describe('assessment completion saga', () => {
    for (const step of steps) {
      it(`completes the course once, with one certificate, when its process is killed right after "${step}"`, async () => {
        const course = await quizCourse(`Crash after ${step}`);
        const userId = randomUUID();
        await core.broker.call(
          'users.create',
          { id: userId, email: `learner-${step}@completion.test`, displayName: `Learner ${step}` },
          { meta: { edge: false } },
        );

        const doomed = spawnEnrollments(`doomed-${step}`, { COMPLETION_SAGA_CRASH_AFTER: step });
        await core.broker.waitForServices(['enrollments'], 30_000);
        await call('enrollments.enrol', { courseId: course.courseId }, { userId });
        await call('enrollments.completeLesson', { lessonId: course.readingId, courseId: course.courseId }, { userId });
        // The quiz lesson cannot be completed by hand.
        await expect(call('enrollments.completeLesson', { lessonId: course.quizLessonId, courseId: course.courseId }, { userId })).rejects.toMatchObject({
          type: 'LESSON_NEEDS_ASSESSMENT',
        });

        const attemptId = randomUUID();
        const grade = { points: 8, maxPoints: 10, percent: 80 };
        attemptOutcomes.set(attemptId, {
          kind: 'quiz',
          assessmentId: course.quizId,
          courseId: course.courseId,
          userId,
          attemptId,
          status: 'graded',
          grade,
          passed: true,
          released: true,
        });
        const died = new Promise<NodeJS.Signals | null>((r) => doomed.once('exit', (_code, signal) => r(signal)));
        await publish(assessmentEvents.submitted.subject, course.courseId, {
          kind: 'quiz',
          assessmentId: course.quizId,
          courseId: course.courseId,
          userId,
          attemptId,
          submittedAt: new Date().toISOString(),
          auto: false,
        });
        expect(await died).toBe('SIGKILL');
        const sagaId = completionSagaId({ trigger: 'submitted', attemptId });
        const [mid] = await sql<{ status: string }>('select status from enrollments.completion_sagas where id = $1', [sagaId]);
        expect(mid?.status).toBe(step === 'certificate' ? 'done' : 'running'); // stopped between steps, state on disk

        const revived = spawnEnrollments(`revived-${step}`);
        try {
          await waitFor(
            async () => (await sql(`select 1 from enrollments.completion_sagas where id = $1 and status = 'done'`, [sagaId])).length === 1,
            45_000,
            200,
          );
          await waitFor(
            async () =>
              (await sql(`select 1 from notifications.deliveries where user_id = $1 and template = 'course_completed' and channel = 'email'`, [userId]))
                .length === 1,
            15_000,
          );
          await drained({ databaseUrl: db.url, namespace: ns }, 45_000); // a duplicate, if there were one, would be delivered by now

          expect(
            await sql(`select count(*)::int as n from notifications.deliveries where user_id = $1 and template = 'course_completed' and channel = 'email'`, [
              userId,
            ]),
          ).toEqual([{ n: 1 }]);
          const [e] = await sql<{ id: string; status: string; percent: number }>('select id, status, percent from enrollments.enrollments where user_id = $1', [
            userId,
          ]);
          expect(e).toMatchObject({ status: 'completed', percent: 100 });
          const history = await sql<{ status: string }>('select status from enrollments.enrollment_history where enrollment_id = $1 order by id', [
            defined(e).id,
          ]);
          expect(history.map((h) => h.status)).toEqual(['pending', 'active', 'completed']);
          const mine = issueCalls.filter((c) => c.userId === userId);
          expect(mine.filter((c) => c.created)).toHaveLength(1);
          expect(mine.length).toBeLessThanOrEqual(2); // a second, answered `created: false`, only when killed between issuing and recording it
          const [saga] = await sql<{ data: { credentialId?: string; courseCompleted?: boolean } }>(
            'select data from enrollments.completion_sagas where id = $1',
            [sagaId],
          );
          expect(saga?.data.credentialId).toBe(issued.get(`${userId}:${course.courseId}`)?.credentialId);
          expect(await enrollmentEventsOf(userId)).toEqual({
            'enrollment.created.v1': 1,
            'enrollment.changed.v1': 2, // active, completed
            'enrollment.module_completed.v1': 1,
            'enrollment.module_unlocked.v1': 1,
            'enrollment.course_completed.v1': 1,
          });
        } finally {
          await stopEnrollments(revived); // the next case's doomed node must be the only one running sagas
        }
      }, 240_000);
    }

    if (awaitingGrading)
      it('waits at "score" while a submission awaits grading, and the graded event completes it', async () => {
        const course = await quizCourse('Awaiting grading');
        const userId = randomUUID();
        await core.broker.call(
          'users.create',
          { id: userId, email: 'learner-manual@completion.test', displayName: 'Learner manual' },
          { meta: { edge: false } },
        );
        const node = spawnEnrollments('manual');
        await core.broker.waitForServices(['enrollments'], 30_000);
        try {
          await call('enrollments.enrol', { courseId: course.courseId }, { userId });
          await call('enrollments.completeLesson', { lessonId: course.readingId, courseId: course.courseId }, { userId });
          const attemptId = randomUUID();
          const base = { kind: 'quiz' as const, assessmentId: course.quizId, courseId: course.courseId, userId, attemptId };
          attemptOutcomes.set(attemptId, { ...base, status: 'submitted', grade: null, passed: null, released: false });
          await publish(assessmentEvents.submitted.subject, course.courseId, { ...base, submittedAt: new Date().toISOString(), auto: false });
          const submitted = completionSagaId({ trigger: 'submitted', attemptId });
          await waitFor(
            async () =>
              (await sql(`select 1 from enrollments.completion_sagas where id = $1 and status = 'waiting' and step = 'score'`, [submitted])).length === 1,
            30_000,
            200,
          );
          expect((await sql<{ status: string }>('select status from enrollments.enrollments where user_id = $1', [userId]))[0]?.status).toBe('active');

          const grade = { points: 9, maxPoints: 10, percent: 90 };
          attemptOutcomes.set(attemptId, { ...base, status: 'graded', grade, passed: true, released: true });
          const gradedAt = new Date().toISOString();
          const graded = { ...base, attempt: grade, grade, passed: true, released: true, regrade: false, gradedAt, feedback: null };
          await publish(assessmentEvents.graded.subject, course.courseId, graded);
          await publish(assessmentEvents.graded.subject, course.courseId, graded); // a redelivery starts nothing new
          await waitFor(
            async () => (await sql(`select 1 from enrollments.enrollments where user_id = $1 and status = 'completed'`, [userId])).length === 1,
            30_000,
            200,
          );
          await drained({ databaseUrl: db.url, namespace: ns });
          expect(await sql('select count(*)::int as n from enrollments.completion_sagas where attempt_id = $1', [attemptId])).toEqual([{ n: 2 }]);
          expect(issueCalls.filter((c) => c.userId === userId && c.created)).toHaveLength(1);
        } finally {
          await stopEnrollments(node);
        }
      }, 240_000);
  });
}
