/**
 * Quiz execution over an in-process node. Two TEST DOUBLES stand in for services this test does not run: `courses`
 * (answers roleOf from a table of roles) and `assessments` (answers quizForAttempt from fixtures, and records the
 * assessment events it sees, as the gradebook would).
 */
import { randomUUID } from 'node:crypto';
import {
  assessmentEvents,
  assessmentsInternal,
  attempts,
  attemptsInternal,
  coursesInternal,
  DomainError,
  filesInternal,
  quizSettings,
  type CourseRole,
  type PayloadOf,
  type QuestionBody,
  type QuizForAttempt,
} from '@lms/contracts';
import { consumer, defineService } from '@lms/runtime';
import { eventually, testNode, type TestNode } from '@lms/runtime/testing';
import type { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drained } from '../../../tools/test/support.ts';
import { gradeByMethod } from '../src/rules.js';
import { attemptsService } from '../src/index.js';

const courseId = randomUUID();
const roles = new Map<string, CourseRole>();
const quizzes = new Map<string, QuizForAttempt>();
const submitted: Array<PayloadOf<typeof assessmentEvents.submitted>> = [];
const graded: Array<PayloadOf<typeof assessmentEvents.graded>> = [];

/** TEST DOUBLE of the courses service: roles from `roles`. */
const coursesDouble = defineService({
  name: 'courses',
  contracts: { roleOf: coursesInternal.roleOf },
  handlers: {
    async roleOf({ input }) {
      const role = input.courseId === courseId ? (roles.get(input.userId) ?? null) : null;
      return { exists: input.courseId === courseId, role, visible: role !== null };
    },
  },
});

/** TEST DOUBLE of the assessments (authoring) service: quizzes from `quizzes`; records the events. */
const assessmentsDouble = defineService({
  name: 'assessments',
  contracts: { ...assessmentsInternal },
  consumers: [
    consumer({ name: 'submitted', event: assessmentEvents.submitted, handle: async ({ payload }) => void submitted.push(payload) }),
    consumer({ name: 'graded', event: assessmentEvents.graded, handle: async ({ payload }) => void graded.push(payload) }),
  ],
  handlers: {
    async quizForAttempt({ input }) {
      const q = quizzes.get(input.quizId);
      if (!q) throw new DomainError('NOT_FOUND', 'No such quiz');
      return q;
    },
    async questionVersions() {
      return { versions: [] };
    },
  },
});

/** TEST DOUBLE of the files service: files from `files`; records the read grants asked for. */
const files = new Map<string, { ownerId: string; contentType: string; state: 'processing' | 'ready' | 'rejected' }>();
const grants: Array<{ fileIds: string[]; ownerId: string; courseId?: string }> = [];
const filesDouble = defineService({
  name: 'files',
  contracts: { describe: filesInternal.describe, grantRead: filesInternal.grantRead },
  handlers: {
    async describe({ input }) {
      const f = files.get(input.fileId);
      if (!f) throw new DomainError('NOT_FOUND', 'No such file');
      return f;
    },
    async grantRead({ input }) {
      grants.push({ fileIds: input.fileIds, ownerId: input.ownerId, courseId: input.courseId });
      return { granted: true as const };
    },
  },
});

const KEY = { tf: 'KEYFB-true-is-right', choiceRight: 'KEYFB-paris', choiceWrong: 'KEYFB-not-lyon', general: 'KEYFB-general' };
const tfBody: QuestionBody = { type: 'truefalse', answer: true, feedbackTrue: KEY.tf, feedbackFalse: KEY.tf };
const singleBody: QuestionBody = {
  type: 'single',
  shuffle: true,
  choices: [
    { id: 'paris', text: 'Paris', fraction: 1, feedback: KEY.choiceRight },
    { id: 'lyon', text: 'Lyon', fraction: 0, feedback: KEY.choiceWrong },
  ],
};
const qv = (body: QuestionBody, prompt: string) => ({
  questionId: randomUUID(),
  version: 1,
  type: body.type,
  title: prompt,
  prompt,
  body,
  generalFeedback: KEY.general,
});

/** A quiz fixture: a true/false and a single-choice question (and an essay when asked), 1 point each. */
function quiz(settings: z.input<typeof quizSettings> = {}, opts: { essay?: boolean; file?: boolean; published?: boolean } = {}): QuizForAttempt {
  const quizId = randomUUID();
  const slots: QuizForAttempt['sections'][number]['slots'] = [
    { from: 'fixed', slotId: randomUUID(), points: 1, question: qv(tfBody, 'The sky is blue') },
    { from: 'fixed', slotId: randomUUID(), points: 1, question: qv(singleBody, 'Capital of France?') },
  ];
  if (opts.essay) slots.push({ from: 'fixed', slotId: randomUUID(), points: 2, question: qv({ type: 'essay' }, 'Discuss') });
  if (opts.file) {
    slots.push({
      from: 'fixed',
      slotId: randomUUID(),
      points: 2,
      question: qv({ type: 'file', maxFiles: 2, accept: ['application/pdf', 'image/*'] }, 'Upload'),
    });
  }
  const q: QuizForAttempt = {
    quizId,
    courseId,
    title: 'Quiz',
    published: opts.published ?? true,
    settings: quizSettings.parse({ timeLimitS: 600, ...settings }),
    sections: [{ title: 'A', slots }],
  };
  quizzes.set(quizId, q);
  return q;
}

let node: TestNode;
const person = (role: CourseRole | null) => {
  const c = node.as();
  if (role && c.caller) roles.set(c.caller.userId, role);
  return c;
};
const pipeline = () => ({ db: node.runtime.db.root });

beforeAll(async () => {
  node = await testNode([attemptsService, coursesDouble, assessmentsDouble, filesDouble], {});
}, 180_000);
afterAll(() => node?.stop());

const keyStrings = Object.values(KEY);
const leaks = (v: unknown) => keyStrings.filter((k) => JSON.stringify(v).includes(k));

describe('starting an attempt', () => {
  it('draws on the server, resumes the open attempt, and hides the quiz from non-members', async () => {
    const q = quiz();
    const learner = person('learner');
    const a = await learner.call(attempts.start, { quizId: q.quizId });
    expect(a.questions).toHaveLength(2);
    expect(a.deadline).not.toBeNull();
    expect(new Date(a.deadline ?? 0).getTime() - new Date(a.startedAt).getTime()).toBe(600_000);
    expect(leaks(a)).toEqual([]);
    expect((await learner.call(attempts.start, { quizId: q.quizId })).id).toBe(a.id); // resume
    expect((await learner.call(attempts.get, { attemptId: a.id })).id).toBe(a.id);
    expect((await person(null).fail(attempts.start, { quizId: q.quizId })).code).toBe('NOT_FOUND');
    expect((await person('learner').fail(attempts.get, { attemptId: a.id })).code).toBe('NOT_FOUND');
    const draft = quiz({}, { published: false });
    expect((await learner.fail(attempts.start, { quizId: draft.quizId })).code).toBe('NOT_FOUND');
    expect((await learner.fail(attempts.start, { quizId: randomUUID() })).code).toBe('NOT_FOUND');
  });

  it('refuses outside the window, unless an override extends it', async () => {
    const early = quiz({ opensAt: new Date(Date.now() + 3_600_000).toISOString() });
    const learner = person('learner');
    expect((await learner.fail(attempts.start, { quizId: early.quizId })).code).toBe('ASSESSMENT_NOT_OPEN');
    const late = quiz({ closesAt: new Date(Date.now() - 60_000).toISOString() });
    expect((await learner.fail(attempts.start, { quizId: late.quizId })).code).toBe('ASSESSMENT_NOT_OPEN');
    const teacher = person('instructor');
    const until = new Date(Date.now() + 120_000).toISOString();
    await teacher.call(attempts.setOverride, { quizId: late.quizId, userId: learner.caller?.userId ?? '', closesAt: until, extraTimeS: 0, extraAttempts: 0 });
    const a = await learner.call(attempts.start, { quizId: late.quizId });
    expect(a.deadline).toBe(new Date(until).toISOString()); // min(time limit, the extended closing time)
    expect((await teacher.call(attempts.listOverrides, { quizId: late.quizId })).items).toHaveLength(1);
    // Learners may not set overrides; they learn nothing of the quiz's staff side.
    expect((await learner.fail(attempts.listOverrides, { quizId: late.quizId })).code).toBe('NOT_FOUND');
  });

  it('counts attempts against the limit, plus extra attempts and extra time from an override', async () => {
    const q = quiz({ attemptsAllowed: 1 });
    const learner = person('learner');
    const userId = learner.caller?.userId ?? '';
    const a = await learner.call(attempts.start, { quizId: q.quizId });
    await learner.call(attempts.submit, { attemptId: a.id });
    expect((await learner.fail(attempts.start, { quizId: q.quizId })).code).toBe('ATTEMPT_LIMIT_REACHED');
    await person('ta').call(attempts.setOverride, { quizId: q.quizId, userId, extraAttempts: 1, extraTimeS: 60 });
    const b = await learner.call(attempts.start, { quizId: q.quizId });
    expect(b.number).toBe(2);
    expect(new Date(b.deadline ?? 0).getTime() - new Date(b.startedAt).getTime()).toBe(660_000);
  });
});

describe('autosave and submit', () => {
  it('keeps answers saved from two tabs, ignores a stale save, and checks the response type', async () => {
    const q = quiz();
    const learner = person('learner');
    const a = await learner.call(attempts.start, { quizId: q.quizId });
    const tf = a.questions.find((x) => x.question.type === 'truefalse')?.slot ?? 0;
    const single = a.questions.find((x) => x.question.type === 'single')?.slot ?? 0;
    await Promise.all([
      learner.call(attempts.saveAnswer, { attemptId: a.id, slot: tf, response: { type: 'truefalse', value: true }, seq: 1 }),
      learner.call(attempts.saveAnswer, { attemptId: a.id, slot: single, response: { type: 'single', choiceId: 'lyon' }, seq: 1 }),
    ]);
    await learner.call(attempts.saveAnswer, { attemptId: a.id, slot: single, response: { type: 'single', choiceId: 'paris' }, seq: 3 });
    const stale = await learner.call(attempts.saveAnswer, { attemptId: a.id, slot: single, response: { type: 'single', choiceId: 'lyon' }, seq: 2 });
    expect(stale.applied).toBe(false);
    const back = await learner.call(attempts.get, { attemptId: a.id });
    expect(back.questions.find((x) => x.slot === tf)?.response).toEqual({ type: 'truefalse', value: true });
    expect(back.questions.find((x) => x.slot === single)?.response).toEqual({ type: 'single', choiceId: 'paris' });
    const wrongType = await learner.fail(attempts.saveAnswer, { attemptId: a.id, slot: tf, response: { type: 'short', text: 'x' } });
    expect(wrongType.code).toBe('VALIDATION_FAILED');
    expect((await person('learner').fail(attempts.saveAnswer, { attemptId: a.id, slot: tf, response: { type: 'truefalse', value: false } })).code).toBe(
      'NOT_FOUND',
    );
  });

  it('applies concurrent submissions once, scores them, and closes the attempt to answers', async () => {
    const q = quiz();
    const learner = person('learner');
    const a = await learner.call(attempts.start, { quizId: q.quizId });
    const tf = a.questions.find((x) => x.question.type === 'truefalse')?.slot ?? 0;
    await learner.call(attempts.saveAnswer, { attemptId: a.id, slot: tf, response: { type: 'truefalse', value: true } });
    const all = await Promise.all(Array.from({ length: 5 }, () => learner.call(attempts.submit, { attemptId: a.id })));
    expect(new Set(all.map((x) => x.submittedAt)).size).toBe(1);
    expect(all[0]?.state).toBe('graded');
    await drained(pipeline());
    expect(submitted.filter((e) => e.attemptId === a.id)).toHaveLength(1);
    const g = graded.filter((e) => e.attemptId === a.id);
    expect(g).toHaveLength(1);
    expect(g[0]?.attempt).toEqual({ points: 1, maxPoints: 2, percent: 50 });
    const late = await learner.fail(attempts.saveAnswer, { attemptId: a.id, slot: tf, response: { type: 'truefalse', value: false } });
    expect(late.code).toBe('ATTEMPT_CLOSED');
  });

  it('submits at the deadline on the server with what was saved; a later client submit gets that result', async () => {
    const q = quiz({ closesAt: new Date(Date.now() + 1500).toISOString() });
    const learner = person('learner');
    const a = await learner.call(attempts.start, { quizId: q.quizId });
    const tf = a.questions.find((x) => x.question.type === 'truefalse')?.slot ?? 0;
    await learner.call(attempts.saveAnswer, { attemptId: a.id, slot: tf, response: { type: 'truefalse', value: true } });
    const deadline = new Date(a.deadline ?? 0).getTime();
    const done = await eventually(async () => {
      const x = await learner.call(attempts.get, { attemptId: a.id });
      if (x.state === 'in_progress') throw new Error('still open');
      return x;
    }, 5000);
    expect(done.auto).toBe(true);
    expect(new Date(done.submittedAt ?? 0).getTime() - deadline).toBeLessThan(2000);
    const again = await learner.call(attempts.submit, { attemptId: a.id });
    expect(again.submittedAt).toBe(done.submittedAt);
    expect(again.auto).toBe(true);
    expect((await learner.fail(attempts.saveAnswer, { attemptId: a.id, slot: tf, response: { type: 'truefalse', value: false } })).code).toBe('ATTEMPT_CLOSED');
  });
});

describe('one question at a time', () => {
  it('shows and saves only the current question, moves on with next and never back, and reviews them all', async () => {
    const q = quiz({ navigation: 'one-at-a-time', review: { feedback: 'immediate' } });
    const learner = person('learner');
    const a = await learner.call(attempts.start, { quizId: q.quizId });
    // Only the first question leaves the server: the second one's prompt is nowhere in the answer.
    expect([a.currentSlot, a.questionCount, a.questions.map((x) => x.slot)]).toEqual([1, 2, [1]]);
    expect(JSON.stringify(a)).not.toContain('Capital of France');
    const tf = { type: 'truefalse', value: true } as const;
    const paris = { type: 'single', choiceId: 'paris' } as const;
    expect((await learner.fail(attempts.saveAnswer, { attemptId: a.id, slot: 2, response: paris, seq: 1 })).code).toBe('QUESTION_NOT_CURRENT');
    expect((await learner.fail(attempts.saveAnswer, { attemptId: a.id, slot: 2, response: paris })).code).toBe('QUESTION_NOT_CURRENT');
    expect((await learner.fail(attempts.checkAnswer, { attemptId: a.id, slot: 2 })).code).toBe('QUESTION_NOT_CURRENT');
    expect((await learner.fail(attempts.next, { attemptId: a.id, from: 2 })).code).toBe('QUESTION_NOT_CURRENT');
    expect((await learner.call(attempts.saveAnswer, { attemptId: a.id, slot: 1, response: tf, seq: 1 })).applied).toBe(true);

    // Another learner cannot move it on.
    expect((await person('learner').fail(attempts.next, { attemptId: a.id, from: 1 })).code).toBe('NOT_FOUND');
    const moved = await learner.call(attempts.next, { attemptId: a.id, from: 1 });
    expect([moved.currentSlot, moved.questions.map((x) => [x.slot, x.question.prompt])]).toEqual([2, [[2, 'Capital of France?']]]);
    // A repeated move (a retry, another tab) changes nothing; the first question is behind: no answer, no check.
    expect((await learner.call(attempts.next, { attemptId: a.id, from: 1 })).currentSlot).toBe(2);
    expect((await learner.fail(attempts.saveAnswer, { attemptId: a.id, slot: 1, response: { type: 'truefalse', value: false }, seq: 2 })).code).toBe(
      'QUESTION_NOT_CURRENT',
    );
    expect((await learner.fail(attempts.checkAnswer, { attemptId: a.id, slot: 1 })).code).toBe('QUESTION_NOT_CURRENT');
    expect((await learner.fail(attempts.next, { attemptId: a.id, from: 2 })).code).toBe('CONFLICT'); // the last one
    expect((await learner.call(attempts.get, { attemptId: a.id })).questions.map((x) => x.slot)).toEqual([2]);
    await learner.call(attempts.saveAnswer, { attemptId: a.id, slot: 2, response: paris, seq: 1 });

    const s = await learner.call(attempts.submit, { attemptId: a.id });
    expect([s.state, s.currentSlot, s.questions.map((x) => x.slot), s.questions.map((x) => x.response)]).toEqual(['graded', null, [1, 2], [tf, paris]]);
    expect((await learner.call(attempts.review, { attemptId: a.id })).grade).toEqual({ points: 2, maxPoints: 2, percent: 100 });
    expect((await learner.fail(attempts.next, { attemptId: a.id, from: 2 })).code).toBe('ATTEMPT_CLOSED');

    // A quiz showing every question has no current one, and nothing to move on to.
    const all = await learner.call(attempts.start, { quizId: quiz().quizId });
    expect([all.currentSlot, all.questions.length]).toEqual([null, 2]);
    expect((await learner.fail(attempts.next, { attemptId: all.id, from: 1 })).code).toBe('CONFLICT');
  });
});

describe('review', () => {
  it('never shows a key before the review options allow it', async () => {
    const q = quiz({ review: { feedback: 'deferred', afterSubmit: { score: true, correctness: false, feedback: false, rightAnswer: false }, afterClose: {} } });
    const learner = person('learner');
    const seen: unknown[] = [];
    const a = await learner.call(attempts.start, { quizId: q.quizId });
    seen.push(a);
    for (const x of a.questions) {
      const response = x.question.type === 'truefalse' ? { type: 'truefalse' as const, value: false } : { type: 'single' as const, choiceId: 'lyon' };
      seen.push(await learner.call(attempts.saveAnswer, { attemptId: a.id, slot: x.slot, response }));
    }
    seen.push(await learner.call(attempts.review, { attemptId: a.id }));
    seen.push(await learner.fail(attempts.checkAnswer, { attemptId: a.id, slot: 1 }));
    seen.push(await learner.call(attempts.submit, { attemptId: a.id }));
    const r = await learner.call(attempts.review, { attemptId: a.id });
    seen.push(r);
    expect(leaks(seen)).toEqual([]);
    expect(r.grade).toEqual({ points: 0, maxPoints: 2, percent: 0 });
    expect(r.questions[0]).not.toHaveProperty('rightAnswer');
    // Staff with course:grade see everything.
    const staff = await person('ta').call(attempts.review, { attemptId: a.id });
    expect(leaks(staff).length).toBeGreaterThan(0);
    expect(staff.questions.every((x) => typeof x.rightAnswer === 'string')).toBe(true);
  });

  it('gives immediate feedback per question when the quiz allows it', async () => {
    const q = quiz({ review: { feedback: 'immediate', afterSubmit: { score: true, correctness: true, feedback: true, rightAnswer: false }, afterClose: {} } });
    const learner = person('learner');
    const a = await learner.call(attempts.start, { quizId: q.quizId });
    const single = a.questions.find((x) => x.question.type === 'single')?.slot ?? 0;
    await learner.call(attempts.saveAnswer, { attemptId: a.id, slot: single, response: { type: 'single', choiceId: 'paris' } });
    const c = await learner.call(attempts.checkAnswer, { attemptId: a.id, slot: single });
    expect(c.correct).toBe('correct');
    expect(c.feedback).toContain(KEY.choiceRight);
    expect(c).not.toHaveProperty('rightAnswer');
  });
});

describe('grading', () => {
  it('waits for a person on essays, then grades and emits graded', async () => {
    const q = quiz({ attemptsAllowed: null }, { essay: true });
    const learner = person('learner');
    const a = await learner.call(attempts.start, { quizId: q.quizId });
    const essay = a.questions.find((x) => x.question.type === 'essay')?.slot ?? 0;
    await learner.call(attempts.saveAnswer, { attemptId: a.id, slot: essay, response: { type: 'essay', text: 'My essay' } });
    const s = await learner.call(attempts.submit, { attemptId: a.id });
    expect(s.state).toBe('submitted');
    const teacher = person('ta');
    const list = await teacher.call(attempts.listAttempts, { quizId: q.quizId });
    expect(list.items.map((x) => [x.id, x.ungraded])).toEqual([[a.id, [essay]]]);
    expect((await learner.fail(attempts.grade, { attemptId: a.id, slot: essay, points: 2 })).code).toBe('NOT_FOUND');
    expect((await teacher.fail(attempts.grade, { attemptId: a.id, slot: essay, points: 3 })).code).toBe('VALIDATION_FAILED');
    const g = await teacher.call(attempts.grade, { attemptId: a.id, slot: essay, points: 1.5, comment: 'Good' });
    expect(g.state).toBe('graded');
    expect(g.grade).toEqual({ points: 1.5, maxPoints: 4, percent: 37.5 });
    await drained(pipeline());
    expect(graded.filter((e) => e.attemptId === a.id)).toHaveLength(1);
    const o = await node.internal().call(attemptsInternal.outcome, { attemptId: a.id });
    expect(o.status).toBe('graded');

    // Graded, the grade is in the gradebook: a marker changes it only with a reason, and the change is on record.
    expect((await teacher.fail(attempts.grade, { attemptId: a.id, slot: essay, points: 2 })).code).toBe('GRADE_RELEASED');
    expect((await teacher.fail(attempts.grade, { attemptId: a.id, slot: essay, points: 2, reason: '   ' })).code).toBe('VALIDATION_FAILED');
    const changed = await teacher.call(attempts.grade, { attemptId: a.id, slot: essay, points: 2, comment: 'Better on a second read', reason: 'remarked' });
    expect(changed.grade).toEqual({ points: 2, maxPoints: 4, percent: 50 });
    const marker = teacher.caller?.userId;
    const r = await teacher.call(attempts.listRegrades, { quizId: q.quizId });
    expect(r.items.map((x) => [x.attemptId, x.slot, x.kind, x.oldPoints, x.newPoints, x.by, x.reason])).toEqual([
      [a.id, essay, 'manual', 1.5, 2, marker, 'remarked'],
    ]);
    await drained(pipeline());
    expect(graded.filter((e) => e.attemptId === a.id).map((e) => [e.regrade, e.attempt.points])).toEqual([
      [false, 1.5],
      [true, 2],
    ]);
  });

  it("takes the learner's own files of an accepted type for a file question, and lets the course's graders read them", async () => {
    const q = quiz({}, { file: true });
    const learner = person('learner');
    const other = person('learner');
    const a = await learner.call(attempts.start, { quizId: q.quizId });
    const slot = a.questions.find((x) => x.question.type === 'file')?.slot ?? 0;
    const me = learner.caller?.userId ?? '';
    const [pdf, png, zip, theirs, rejected] = [randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    files.set(pdf, { ownerId: me, contentType: 'application/pdf', state: 'ready' });
    files.set(png, { ownerId: me, contentType: 'image/png', state: 'processing' });
    files.set(zip, { ownerId: me, contentType: 'application/zip', state: 'ready' });
    files.set(theirs, { ownerId: other.caller?.userId ?? '', contentType: 'application/pdf', state: 'ready' });
    files.set(rejected, { ownerId: me, contentType: 'application/pdf', state: 'rejected' });
    const save = (fileIds: string[]) => ({ attemptId: a.id, slot, response: { type: 'file' as const, fileIds } });
    for (const bad of [[theirs], [randomUUID()], [rejected], [zip], [pdf, png, randomUUID()]]) {
      expect((await learner.fail(attempts.saveAnswer, save(bad))).code).toBe('VALIDATION_FAILED');
    }
    expect(grants).toEqual([]);
    expect((await learner.call(attempts.saveAnswer, save([pdf, png]))).applied).toBe(true);
    expect(grants).toEqual([{ fileIds: [pdf, png], ownerId: me, courseId }]);
    // Someone else's attempt: nothing is described or granted, the save is refused as ever.
    expect((await other.fail(attempts.saveAnswer, save([theirs]))).code).toBe('NOT_FOUND');
    expect(grants).toHaveLength(1);
    expect((await learner.call(attempts.submit, { attemptId: a.id })).state).toBe('submitted');
  });

  it('computes the item grade by the grading method', () => {
    expect(gradeByMethod('highest', [1, 3, 2])).toBe(3);
    expect(gradeByMethod('average', [1, 3, 2])).toBe(2);
    expect(gradeByMethod('first', [1, 3, 2])).toBe(1);
    expect(gradeByMethod('last', [1, 3, 2])).toBe(2);
    expect(gradeByMethod('last', [])).toBeNull();
  });

  it('regrades every attempt that used a corrected question, and records it', async () => {
    const q = quiz({ gradingMethod: 'average' });
    const learner = person('learner');
    const a = await learner.call(attempts.start, { quizId: q.quizId });
    const tf = a.questions.find((x) => x.question.type === 'truefalse')?.slot ?? 0;
    await learner.call(attempts.saveAnswer, { attemptId: a.id, slot: tf, response: { type: 'truefalse', value: false } });
    await learner.call(attempts.submit, { attemptId: a.id });
    const slot = q.sections[0]?.slots[0];
    if (slot?.from !== 'fixed') throw new Error('fixture');
    await node.publish(assessmentEvents.questionCorrected, {
      questionId: slot.question.questionId,
      version: 1,
      courseId,
      body: { type: 'truefalse', answer: false },
      correctedBy: randomUUID(),
      reason: 'the key was wrong',
    });
    await drained(pipeline());
    const teacher = person('instructor');
    const r = await teacher.call(attempts.listRegrades, { quizId: q.quizId });
    expect(r.items.map((x) => [x.attemptId, x.kind, x.oldPoints, x.newPoints, x.by])).toEqual([[a.id, 'key', 0, 1, null]]);
    const st = await teacher.call(attempts.statistics, { quizId: q.quizId });
    expect(st.attempts).toBe(1);
    expect(st.questions.map((x) => x.type).sort()).toEqual(['single', 'truefalse']);
    const again = graded.filter((e) => e.attemptId === a.id);
    expect(again.map((e) => [e.regrade, e.attempt.points])).toEqual([
      [false, 0],
      [true, 1],
    ]);
  });
});
