/**
 * The README's assessment journey, end to end over REST against one embedded LMS with every service: an
 * instructor authors a question bank and a quiz placed as a lesson of a course, a learner takes it, the
 * assessment completion saga marks the lesson passed and the course complete, the gradebook shows the grade,
 * a certificate is issued and anyone can verify it; revoked, it says so. Every response also goes through the
 * OpenAPI conformance check.
 */
import { gatewayPort } from '@lms/gateway';
import { startNode, type LmsNode } from '@lms/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICES } from '../services.ts';
import { checkResponse } from './conformance.ts';
import { defined, tempDir, waitFor } from './support.ts';

let node: LmsNode;
let base: string;
const data = tempDir();

beforeAll(async () => {
  process.env.RATE_LIMIT_AUTH_PER_MINUTE = '1000';
  node = await startNode(Object.values(SERVICES), { mode: 'embedded', dataDir: data.dir, port: 0, databaseUrl: undefined });
  base = `http://127.0.0.1:${gatewayPort(node.broker)}/api/v1`;
}, 90_000);
afterAll(async () => {
  await node?.stop();
  data.remove();
});

interface Reply {
  status: number;
  body: Record<string, unknown>;
}
async function rest(method: string, path: string, token?: string, body?: unknown): Promise<Reply> {
  const res = await fetch(base + path, {
    method,
    headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const parsed: unknown = text ? JSON.parse(text) : {};
  await checkResponse(method, new URL(base + path).pathname + new URL(base + path).search, { status: res.status, headers: res.headers, text, body: parsed });
  return { status: res.status, body: parsed as Record<string, unknown> };
}
function ok(r: Reply, status = 200): Record<string, unknown> {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  return r.body;
}
const str = (v: unknown) => String(v);

describe('assessments from authoring to a verified certificate (REST)', () => {
  it('authors a quiz, takes it, sees the grade, completes the course and verifies the certificate', async () => {
    const teacher = str(
      ok(await rest('POST', '/auth/register', undefined, { email: 'teacher@example.com', password: 'a long enough password', displayName: 'Teacher' }), 201)
        .accessToken,
    );
    const learner = str(
      ok(await rest('POST', '/auth/register', undefined, { email: 'ada@example.com', password: 'another long password', displayName: 'Ada Lovelace' }), 201)
        .accessToken,
    );

    // A course with one module: a reading and a quiz.
    const courseId = str(ok(await rest('POST', '/courses', teacher, { title: 'Assessed 101', category: 'tech', visibility: 'public' }), 201).id);
    const moduleId = str(ok(await rest('POST', `/courses/${courseId}/modules`, teacher, { title: 'Week 1' }), 201).id);
    ok(await rest('POST', `/modules/${moduleId}/lessons`, teacher, { title: 'Read me', content: { type: 'markdown', body: '# Numbers' } }), 201);

    const bankId = str(ok(await rest('POST', `/courses/${courseId}/question-banks`, teacher, { name: 'Week 1 bank' }), 201).id);
    const questionId = str(
      ok(
        await rest('POST', `/question-banks/${bankId}/questions`, teacher, {
          title: 'Two plus two',
          prompt: 'What is 2 + 2?',
          body: {
            type: 'single',
            choices: [
              { id: 'a', text: '3', fraction: 0, feedback: 'Count again' },
              { id: 'b', text: '4', fraction: 1, feedback: 'Right' },
            ],
          },
        }),
        201,
      ).id,
    );
    const quizId = str(
      ok(
        await rest('POST', `/courses/${courseId}/quizzes`, teacher, {
          title: 'Week 1 quiz',
          settings: { passPercent: 50, attemptsAllowed: 2 },
          sections: [{ title: '', slots: [{ from: 'fixed', questionId, points: 2 }] }],
        }),
        201,
      ).id,
    );
    ok(await rest('POST', `/quizzes/${quizId}/publish`, teacher));
    const quizLesson = str(
      ok(await rest('POST', `/modules/${moduleId}/lessons`, teacher, { title: 'Quiz', content: { type: 'quiz', quizId, passPercent: 50 } }), 201).id,
    );
    ok(await rest('POST', `/courses/${courseId}/publish`, teacher));

    // The learner enrols, reads, and cannot tick the quiz lesson off by hand.
    ok(await rest('POST', `/courses/${courseId}/enrollments`, learner), 201);
    const reading = defined(ok(await rest('GET', `/courses/${courseId}/progress`, learner)).nextLesson as { id: string } | null).id;
    ok(await rest('POST', `/lessons/${reading}/complete`, learner, {}));
    expect((await rest('POST', `/lessons/${quizLesson}/complete`, learner, {})).status).toBe(409);

    // Take the quiz: the questions come without their key.
    const attempt = ok(await rest('POST', `/quizzes/${quizId}/attempts`, learner), 201);
    const attemptId = str(attempt.id);
    expect(JSON.stringify(attempt)).not.toMatch(/fraction|Count again|"Right"/);
    ok(await rest('PUT', `/attempts/${attemptId}/answers/1`, learner, { response: { type: 'single', choiceId: 'b' } }));
    const resumed = ok(await rest('GET', `/attempts/${attemptId}`, learner));
    expect((resumed.questions as Array<{ response: unknown }>)[0]?.response).toEqual({ type: 'single', choiceId: 'b' });
    ok(await rest('POST', `/attempts/${attemptId}/submit`, learner));
    const review = ok(await rest('GET', `/attempts/${attemptId}/review`, learner));
    expect(review.state).toBe('graded');

    // The saga: the quiz lesson passed, the course complete, a certificate issued.
    await waitFor(async () => (ok(await rest('GET', `/courses/${courseId}/progress`, learner)).completedAt ? true : undefined), 20_000);
    const mine = await waitFor(async () => {
      const list = ok(await rest('GET', '/me/credentials', learner)).items as Array<{ id: string; code: string }>;
      return list.length ? list : undefined;
    }, 20_000);
    expect(mine).toHaveLength(1);
    const credential = defined(mine[0]);

    // The gradebook has the grade; the learner sees it.
    const grades = ok(await rest('GET', `/courses/${courseId}/grades/me`, learner));
    expect(JSON.stringify(grades)).toContain('Week 1 quiz');

    // The teacher corrects the key of the version the learner answered: their attempt is regraded, the change is on
    // record, and the gradebook follows (a pass already recorded stays: the course stays complete).
    ok(
      await rest('POST', `/questions/${questionId}/versions/1/correct`, teacher, {
        body: {
          type: 'single',
          choices: [
            { id: 'a', text: '3', fraction: 1 },
            { id: 'b', text: '4', fraction: 0 },
          ],
        },
        reason: 'a trick question: the key was wrong',
      }),
    );
    await waitFor(async () => {
      const mineNow = ok(await rest('GET', `/courses/${courseId}/grades/me`, learner)).grades as Array<{ itemId: string; points: number | null }>;
      return mineNow.find((g) => g.itemId === quizId)?.points === 0 ? true : undefined;
    }, 20_000);
    const regrades = ok(await rest('GET', `/quizzes/${quizId}/regrades`, teacher)).items as Array<Record<string, unknown>>;
    expect(regrades.map((r) => [r.attemptId, r.kind, r.oldPoints, r.newPoints])).toEqual([[attemptId, 'key', 2, 0]]);
    expect(ok(await rest('GET', `/courses/${courseId}/progress`, learner)).completedAt).toBeTruthy();

    // Anyone verifies it without an account; revoked, it says so.
    const verified = ok(await rest('GET', `/verify/${credential.code}`));
    expect(verified.status).toBe('valid');
    ok(await rest('POST', `/credentials/${credential.id}/revoke`, teacher, { reason: 'Issued in error' }));
    expect(ok(await rest('GET', `/verify/${credential.code}`)).status).toBe('revoked');
  }, 120_000);
});
