/**
 * The assessment completion saga under SIGKILL, on the real stack: PostgreSQL, NATS JetStream and the real
 * assessments, attempts, grades and credentials services (with auth, users, courses and notifications) on one node
 * in this process; the enrollments service, which runs the saga, in a child process of its own.
 *
 * An author makes a course of one module (a reading, then a quiz lesson) and a second module that opens once the
 * first is complete (empty: the course is complete with the quiz); a learner enrols, reads, takes the quiz and submits it through the real API. Submitting an
 * automatically scored quiz publishes `submitted` and `graded`: two sagas of one learner, run concurrently. The
 * enrollments process kills itself (SIGKILL, fixture env COMPLETION_SAGA_CRASH_AFTER) right after the given step
 * committed, and a new process resumes. Whatever step it died after, the end state is the same, read from the
 * database and the streams (never from call counters): the course completed once (one `courseCompleted`), one
 * `moduleUnlocked`, one completion message, one certificate in the credentials table.
 *
 * One stack for every case: each case has its own learner in the one course, and stops its enrollments process
 * before the next case starts another.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { importJWK, SignJWT, type JWK } from 'jose';
import type { CompletionStep } from '@lms/enrollments';
import { migrateAll, openDatabase, startNode, type LmsNode, type RuntimeSettings } from '@lms/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pick, SERVICES } from '../services.ts';
import { defined, drained, dropStreams, NATS_URL, query, tempDatabase, uniqueName, waitFor } from './support.ts';

let db: Awaited<ReturnType<typeof tempDatabase>>;
let ns: string;
let core: LmsNode;
const children: ChildProcess[] = [];
const author = { token: '' };
const sql = <R = Record<string, unknown>>(q: string, params: unknown[] = []) => query<R>(db.url, q, params);

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
/** A learner's access token, signed with auth's current key (what logging in would answer). */
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
/** An action as the gateway calls it for a signed-in user. */
const call = async <T = unknown>(action: string, params: object, as: { token: string } | { userId: string }): Promise<T> => {
  const token = 'userId' in as ? await tokenFor(as.userId) : as.token;
  return core.broker.call<T, object>(action, params, { meta: { token, edge: true }, timeout: 60_000 });
};

interface QuizCourse {
  courseId: string;
  readingId: string;
  quizLessonId: string;
  quizId: string;
}

/**
 * A sequential course authored through the real API: module A (a reading, then a quiz lesson), module B (empty,
 * unlocked once A is complete). The quiz has one question: single choice (scored at once, `b` is right) or
 * an essay (a person grades it).
 */
async function quizCourse(title: string, question: 'single' | 'essay'): Promise<QuizCourse> {
  const c = await call<{ id: string }>('courses.create', { title, category: 'saga', sequential: true }, author);
  const a = await call<{ id: string }>('courses.createModule', { courseId: c.id, title: 'Basics' }, author);
  const reading = await call<{ id: string }>('courses.createLesson', { moduleId: a.id, title: 'Read', content: { type: 'markdown', body: 'hello' } }, author);
  const bank = await call<{ id: string }>('assessments.createBank', { courseId: c.id, name: 'Bank' }, author);
  const body =
    question === 'single'
      ? {
          type: 'single',
          choices: [
            { id: 'a', text: '3', fraction: 0 },
            { id: 'b', text: '4', fraction: 1 },
          ],
        }
      : { type: 'essay' };
  const q = await call<{ id: string }>('assessments.createQuestion', { bankId: bank.id, title: 'Two plus two', prompt: 'What is 2 + 2?', body }, author);
  const quiz = await call<{ id: string }>(
    'assessments.createQuiz',
    {
      courseId: c.id,
      title: 'Check',
      settings: { passPercent: 50, attemptsAllowed: 2 },
      sections: [{ title: '', slots: [{ from: 'fixed', questionId: q.id, points: 2 }] }],
    },
    author,
  );
  await call('assessments.publishQuiz', { quizId: quiz.id }, author);
  const quizLesson = await call<{ id: string }>(
    'courses.createLesson',
    { moduleId: a.id, title: 'Check', content: { type: 'quiz', quizId: quiz.id, passPercent: 50 } },
    author,
  );
  await call('courses.createModule', { courseId: c.id, title: 'Next steps' }, author);
  await call('courses.publish', { courseId: c.id }, author);
  return { courseId: c.id, readingId: reading.id, quizLessonId: quizLesson.id, quizId: quiz.id };
}

/** A learner (an account in users) enrolled in the course, its first reading done. */
async function enrolledLearner(course: QuizCourse, name: string): Promise<string> {
  const userId = randomUUID();
  await core.broker.call('users.create', { id: userId, email: `${name}@completion.test`, displayName: name }, { meta: { edge: false } });
  await call('enrollments.enrol', { courseId: course.courseId }, { userId });
  await call('enrollments.completeLesson', { lessonId: course.readingId, courseId: course.courseId }, { userId });
  return userId;
}

/** The learner takes the quiz and submits it (answer `b`, or an essay) through the attempts API; answers the attempt id. */
async function takeQuiz(course: QuizCourse, userId: string, response: object): Promise<string> {
  const attempt = await call<{ id: string }>('attempts.start', { quizId: course.quizId }, { userId });
  await call('attempts.saveAnswer', { attemptId: attempt.id, slot: 1, response }, { userId });
  await call('attempts.submit', { attemptId: attempt.id }, { userId });
  return attempt.id;
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

const enrollmentsUp = () => (core.broker.registry.getServiceList({ onlyAvailable: true }) as Array<{ name: string }>).some((s) => s.name === 'enrollments');

async function stopEnrollments(child: ChildProcess) {
  if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r).kill('SIGTERM'));
  await waitFor(async () => !enrollmentsUp(), 20_000, 100);
}

/**
 * The end state of a learner who passed the quiz, whatever happened on the way, read from the tables and the
 * streams once nothing is in flight: the attempt's sagas as `sagas` says (by trigger, step, status), the quiz lesson
 * and the course complete, and everything once: one `moduleCompleted`, one `moduleUnlocked`, one `courseCompleted`,
 * one completion message, one certificate (the one a saga recorded).
 */
async function expectCompletedOnce(course: QuizCourse, userId: string, attemptId: string, sagas: Array<[string, string, string]>) {
  const sagasOf = () =>
    sql<{ id: string; step: string; status: string; data: { credentialId?: string } }>(
      'select id, step, status, data from enrollments.completion_sagas where attempt_id = $1 order by id',
      [attemptId],
    );
  await waitFor(async () => (await sagasOf()).filter((x) => x.status !== 'running').length === sagas.length, 90_000, 200);
  await waitFor(
    async () =>
      (await sql(`select 1 from notifications.deliveries where user_id = $1 and template = 'course_completed' and channel = 'email'`, [userId])).length === 1,
    30_000,
    200,
  );
  await drained({ databaseUrl: db.url, namespace: ns }, 60_000); // a duplicate, if there were one, would be delivered by now

  const rows = await sagasOf();
  expect(rows.map((x) => [defined(x.id.split(':')[0]), x.step, x.status])).toEqual(sagas);
  const [e] = await sql<{ id: string; status: string; percent: number }>('select id, status, percent from enrollments.enrollments where user_id = $1', [
    userId,
  ]);
  expect(e).toMatchObject({ status: 'completed', percent: 100 });
  const history = await sql<{ status: string }>('select status from enrollments.enrollment_history where enrollment_id = $1 order by id', [defined(e).id]);
  expect(history.map((h) => h.status)).toEqual(['pending', 'active', 'completed']);
  expect(
    await sql('select lesson_id from enrollments.lesson_progress where enrollment_id = $1 and lesson_id = $2', [defined(e).id, course.quizLessonId]),
  ).toHaveLength(1);
  expect(
    await sql(`select count(*)::int as n from notifications.deliveries where user_id = $1 and template = 'course_completed' and channel = 'email'`, [userId]),
  ).toEqual([{ n: 1 }]);
  const certificates = await sql<{ id: string }>('select id from credentials.credentials where user_id = $1 and course_id = $2', [userId, course.courseId]);
  expect(certificates).toHaveLength(1);
  expect(rows.map((x) => x.data.credentialId).filter(Boolean)).toContain(defined(certificates[0]).id);
  expect(await enrollmentEventsOf(userId)).toEqual({
    'enrollment.created.v1': 1,
    'enrollment.changed.v1': 2, // active, completed
    'enrollment.module_completed.v1': 1,
    'enrollment.module_unlocked.v1': 1,
    'enrollment.course_completed.v1': 1,
  });
}

// ------------------------------------------------------------ the stack

let scored: QuizCourse;

beforeAll(async () => {
  db = await tempDatabase();
  ns = uniqueName('cs');
  const d = await openDatabase({ databaseUrl: db.url, dataDir: '' });
  await migrateAll(d, Object.values(SERVICES));
  await d.close();
  core = await startNode(pick('auth,users,courses,notifications,assessments,attempts,grades,credentials'), settings('core'));
  const registered = await core.broker.call(
    'auth.register',
    { email: 'author@completion.test', password: 'correct horse battery staple 42', displayName: 'Author' },
    { meta: { edge: true } },
  );
  author.token = (registered as { accessToken: string }).accessToken;
  scored = await quizCourse('Crash course', 'single');
}, 120_000);
afterAll(async () => {
  await Promise.all(children.filter((c) => c.exitCode === null && c.signalCode === null).map((c) => new Promise((r) => c.once('exit', r).kill('SIGKILL'))));
  await core?.stop();
  await dropStreams(ns);
  await db?.drop();
}, 60_000);

const STEPS: CompletionStep[] = ['validate', 'score', 'progress', 'unlock', 'complete', 'certificate'];

describe('assessment completion saga, its process SIGKILLed after each step', () => {
  for (const step of STEPS) {
    it(`completes the course once, with one certificate, when its process is killed right after "${step}"`, async () => {
      const doomed = spawnEnrollments(`doomed-${step}`, { COMPLETION_SAGA_CRASH_AFTER: step });
      await waitFor(async () => enrollmentsUp(), 60_000, 100);
      const userId = await enrolledLearner(scored, `learner-${step}`);
      // The quiz lesson cannot be completed by hand.
      await expect(call('enrollments.completeLesson', { lessonId: scored.quizLessonId, courseId: scored.courseId }, { userId })).rejects.toMatchObject({
        type: 'LESSON_NEEDS_ASSESSMENT',
      });

      const died = new Promise<NodeJS.Signals | null>((r) => doomed.once('exit', (_code, signal) => r(signal)));
      const attemptId = await takeQuiz(scored, userId, { type: 'single', choiceId: 'b' });
      expect(await died).toBe('SIGKILL');
      // It died between two steps: the state is on disk, no saga past the step after the one it died after.
      const mid = await sql<{ step: string; status: string }>('select step, status from enrollments.completion_sagas where attempt_id = $1', [attemptId]);
      expect(mid.length).toBeGreaterThan(0);
      const next = STEPS[STEPS.indexOf(step) + 1] ?? 'done';
      expect(mid.map((s) => s.step)).toContain(next);

      const revived = spawnEnrollments(`revived-${step}`);
      try {
        // An automatically scored quiz starts two sagas, `submitted` and `graded`: both finish, whichever died.
        await expectCompletedOnce(scored, userId, attemptId, [
          ['graded', 'done', 'done'],
          ['submitted', 'done', 'done'],
        ]);
      } finally {
        await stopEnrollments(revived); // the next case's doomed node must be the only one running sagas
      }
    }, 240_000);
  }

  it('waits at "score" while a submission awaits grading, and the graded event completes it', async () => {
    const essay = await quizCourse('Awaiting grading', 'essay');
    const node = spawnEnrollments('manual');
    await waitFor(async () => enrollmentsUp(), 60_000, 100);
    try {
      const userId = await enrolledLearner(essay, 'learner-manual');
      const attemptId = await takeQuiz(essay, userId, { type: 'essay', text: 'Four, since two and two make four.' });
      await waitFor(
        async () =>
          (await sql(`select 1 from enrollments.completion_sagas where id = $1 and status = 'waiting' and step = 'score'`, [`submitted:${attemptId}`]))
            .length === 1,
        60_000,
        200,
      );
      await drained({ databaseUrl: db.url, namespace: ns }, 60_000);
      expect((await sql<{ status: string }>('select status from enrollments.enrollments where user_id = $1', [userId]))[0]?.status).toBe('active');
      expect(await sql('select count(*)::int as n from credentials.credentials where user_id = $1', [userId])).toEqual([{ n: 0 }]);

      // The author grades the essay: the graded event starts the saga that completes the course.
      await call('attempts.grade', { attemptId, slot: 1, points: 2, comment: 'Right' }, author);
      await expectCompletedOnce(essay, userId, attemptId, [
        ['graded', 'done', 'done'],
        ['submitted', 'score', 'waiting'], // it stays there: the graded event's saga completed the course
      ]);
    } finally {
      await stopEnrollments(node);
    }
  }, 240_000);
});
