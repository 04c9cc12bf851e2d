/**
 * Quiz authoring through the procedures (embedded node, in-memory PGlite, the real courses service): who may see
 * and change banks, questions and quizzes, versions once a question was served, key corrections and their event,
 * GIFT/QTI round trips, and the gradebook's item events.
 */
import { randomUUID } from 'node:crypto';
import { assessmentEvents, assessments, assessmentsInternal, courses, usersInternal, type PayloadOf, type QuestionBody } from '@lms/contracts';
import { consumer, defineService, type Caller } from '@lms/runtime';
import { eventually, testNode, type TestNode } from '@lms/runtime/testing';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coursesService } from '../../courses/src/index.js';
import { assessmentsService } from '../src/index.js';

/** TEST DOUBLE of the users service: courses asks it whether a new member exists. */
const fakeUsers = defineService({
  name: 'users',
  contracts: { byId: usersInternal.byId },
  handlers: {
    byId: ({ input }) =>
      Promise.resolve({
        id: input.id,
        email: 'someone@example.org',
        displayName: 'Someone',
        bio: '',
        avatarFileId: null,
        emailVerified: true,
        roles: ['student' as const],
        locale: 'en',
        timezone: 'UTC',
        status: 'active' as const,
        createdAt: new Date().toISOString(),
        updatedAt: new Date().toISOString(),
      }),
  },
});

/** Stand-in for the gradebook and the attempts service: records the events assessments emits. */
const items: Array<PayloadOf<typeof assessmentEvents.itemChanged>> = [];
const corrections: Array<PayloadOf<typeof assessmentEvents.questionCorrected>> = [];
const probe = defineService({
  name: 'probe',
  contracts: {},
  repository: (db: Kysely<object>) => db,
  handlers: {},
  consumers: [
    consumer({ name: 'items', event: assessmentEvents.itemChanged, handle: async ({ payload }) => void items.push(payload) }),
    consumer({ name: 'corrections', event: assessmentEvents.questionCorrected, handle: async ({ payload }) => void corrections.push(payload) }),
  ],
});

const person = (roles = ['student']): Caller => ({ userId: randomUUID(), roles });
const single = (right = 'a'): QuestionBody => ({
  type: 'single',
  shuffle: true,
  choices: [
    { id: 'a', text: 'Paris', fraction: right === 'a' ? 1 : 0 },
    { id: 'b', text: 'Lyon', fraction: right === 'b' ? 1 : 0 },
  ],
});

let node: TestNode;
const owner = person(['instructor']);
const otherOwner = person(['instructor']);
const ta = person();
const learner = person();
const stranger = person();
let courseId = '';
let otherCourseId = '';

beforeAll(async () => {
  node = await testNode([assessmentsService, coursesService, fakeUsers, probe]);
  courseId = (await node.as(owner).call(courses.create, { title: 'Geography', category: 'geo' })).id;
  otherCourseId = (await node.as(otherOwner).call(courses.create, { title: 'History', category: 'history' })).id;
  await node.as(owner).call(courses.publish, { courseId });
  await node.as(owner).call(courses.addMember, { courseId, userId: ta.userId, role: 'ta' });
  await node.as(owner).call(courses.addMember, { courseId, userId: learner.userId, role: 'learner' });
}, 120_000);
afterAll(async () => {
  await node?.stop();
});

async function bankWithQuestion(name = 'Capitals') {
  const bank = await node.as(owner).call(assessments.createBank, { courseId, name });
  const cat = await node.as(owner).call(assessments.createCategory, { bankId: bank.id, name: 'Europe' });
  const q = await node
    .as(owner)
    .call(assessments.createQuestion, { bankId: bank.id, categoryId: cat.id, title: 'France', prompt: 'Capital of France?', body: single(), tags: ['eu'] });
  return { bank, cat, q };
}

describe('assessments: banks and questions', () => {
  it('shows banks and questions to course staff only: learners and strangers get 404, a TA reads but may not edit', async () => {
    const { bank, q } = await bankWithQuestion();
    expect(q).toMatchObject({ version: 1, type: 'single', tags: ['eu'], createdBy: owner.userId });
    for (const who of [learner, stranger]) {
      const c = node.as(who);
      expect(await c.fail(assessments.getBank, { bankId: bank.id })).toMatchObject({ code: 'NOT_FOUND', status: 404 });
      expect(await c.fail(assessments.getQuestion, { questionId: q.id })).toMatchObject({ code: 'NOT_FOUND', status: 404 });
      expect(await c.fail(assessments.listQuestions, { bankId: bank.id })).toMatchObject({ code: 'NOT_FOUND' });
      expect(await c.fail(assessments.updateQuestion, { questionId: q.id, title: 'mine' })).toMatchObject({ code: 'NOT_FOUND' });
      expect(await c.fail(assessments.createBank, { courseId, name: 'x' })).toMatchObject({ code: 'NOT_FOUND' });
      expect(await c.fail(assessments.exportQuestions, { bankId: bank.id, format: 'gift' })).toMatchObject({ code: 'NOT_FOUND' });
    }
    expect((await node.as(ta).call(assessments.getQuestion, { questionId: q.id })).body).toEqual(single());
    expect(await node.as(ta).fail(assessments.updateQuestion, { questionId: q.id, title: 'TA' })).toMatchObject({ code: 'FORBIDDEN', status: 403 });
    // Filters and pages.
    await node
      .as(owner)
      .call(assessments.createQuestion, { bankId: bank.id, title: 'TF', prompt: 'Paris is in France', body: { type: 'truefalse', answer: true } });
    const page1 = await node.as(owner).call(assessments.listQuestions, { bankId: bank.id, limit: 1 });
    expect(page1.items).toHaveLength(1);
    const page2 = await node.as(owner).call(assessments.listQuestions, { bankId: bank.id, limit: 1, cursor: page1.nextCursor ?? undefined });
    expect(page2.items.map((x) => x.id)).toEqual([q.id]);
    expect((await node.as(owner).call(assessments.listQuestions, { bankId: bank.id, tag: 'eu' })).items.map((x) => x.id)).toEqual([q.id]);
    expect((await node.as(owner).call(assessments.listQuestions, { bankId: bank.id, type: 'truefalse' })).items).toHaveLength(1);
  });

  it('shares a bank with another course: its staff read and use it, but do not edit it', async () => {
    const { bank, q } = await bankWithQuestion('Shared');
    // The caller needs course:edit in both courses.
    expect(await node.as(owner).fail(assessments.shareBank, { bankId: bank.id, courseId: otherCourseId })).toMatchObject({ code: 'NOT_FOUND' });
    await node.as(owner).call(courses.addMember, { courseId, userId: otherOwner.userId, role: 'ta' });
    expect(await node.as(otherOwner).fail(assessments.shareBank, { bankId: bank.id, courseId: otherCourseId })).toMatchObject({ code: 'FORBIDDEN' });
    await node.as(owner).call(courses.removeMember, { courseId, userId: otherOwner.userId });
    const admin = node.as({ userId: randomUUID(), roles: ['admin'] });
    expect((await admin.call(assessments.shareBank, { bankId: bank.id, courseId: otherCourseId })).sharedWith).toEqual([otherCourseId]);

    const other = node.as(otherOwner);
    expect(await other.call(assessments.getBank, { bankId: bank.id })).toMatchObject({ id: bank.id, editable: false });
    expect((await other.call(assessments.listBanks, { courseId: otherCourseId })).items.map((b) => b.id)).toContain(bank.id);
    expect(await other.fail(assessments.renameBank, { bankId: bank.id, name: 'Mine' })).toMatchObject({ code: 'FORBIDDEN' });
    expect(await other.fail(assessments.updateQuestion, { questionId: q.id, title: 'Mine' })).toMatchObject({ code: 'FORBIDDEN' });
    const quiz = await other.call(assessments.createQuiz, {
      courseId: otherCourseId,
      title: 'Borrowed',
      sections: [{ title: '', slots: [{ from: 'fixed', questionId: q.id, points: 2 }] }],
    });
    expect(quiz.maxPoints).toBe(2);
    // Unused banks go; used ones stay.
    expect(await node.as(owner).fail(assessments.deleteBank, { bankId: bank.id })).toMatchObject({ code: 'IN_USE', status: 409 });
    expect(await node.as(owner).fail(assessments.deleteQuestion, { questionId: q.id })).toMatchObject({ code: 'IN_USE' });
    await other.call(assessments.deleteQuiz, { quizId: quiz.id });
    expect(await node.as(owner).call(assessments.deleteBank, { bankId: bank.id })).toEqual({ deleted: true });
  });

  it('edits in place until served; after quizForAttempt an edit makes a new version and the old one stays', async () => {
    const { q } = await bankWithQuestion('Versions');
    const edited = await node.as(owner).call(assessments.updateQuestion, { questionId: q.id, prompt: 'What is the capital of France?' });
    expect(edited.version).toBe(1);
    const quiz = await node.as(owner).call(assessments.createQuiz, {
      courseId,
      title: 'Served',
      sections: [{ title: 'A', slots: [{ from: 'fixed', questionId: q.id, points: 1 }] }],
    });
    const forAttempt = await node.internal().call(assessmentsInternal.quizForAttempt, { quizId: quiz.id });
    const slot = forAttempt.sections[0]?.slots[0];
    expect(slot).toMatchObject({ from: 'fixed', question: { questionId: q.id, version: 1, prompt: 'What is the capital of France?' } });

    const v2 = await node.as(owner).call(assessments.updateQuestion, { questionId: q.id, body: single('b'), title: 'France v2' });
    expect(v2).toMatchObject({ version: 2, title: 'France v2' });
    const both = await node.internal().call(assessmentsInternal.questionVersions, {
      refs: [
        { questionId: q.id, version: 1 },
        { questionId: q.id, version: 2 },
      ],
    });
    const byVersion = new Map(both.versions.map((v) => [v.version, v]));
    expect(byVersion.get(1)).toMatchObject({ title: 'France', body: single('a') });
    expect(byVersion.get(2)).toMatchObject({ title: 'France v2', body: single('b') });
    // Not served yet: edited in place.
    expect((await node.as(owner).call(assessments.updateQuestion, { questionId: q.id, title: 'France v2b' })).version).toBe(2);
    const got = await node.as(owner).call(assessments.getQuestion, { questionId: q.id });
    expect(got.versions.map((v) => [v.version, v.served])).toEqual([
      [1, true],
      [2, false],
    ]);
    // Learners never read questions: the internal procedures are not theirs.
    expect(await node.as(learner).fail(assessmentsInternal.quizForAttempt, { quizId: quiz.id })).toMatchObject({ code: 'FORBIDDEN' });
  });

  it('corrects a version in place, records it, and emits question_corrected', async () => {
    const { q } = await bankWithQuestion('Corrections');
    expect(
      await node.as(owner).fail(assessments.correctQuestion, { questionId: q.id, version: 1, body: { type: 'truefalse', answer: true }, reason: 'x' }),
    ).toMatchObject({ code: 'VALIDATION_FAILED', status: 422 });
    expect(await node.as(learner).fail(assessments.correctQuestion, { questionId: q.id, version: 1, body: single('b'), reason: 'x' })).toMatchObject({
      code: 'NOT_FOUND',
    });
    const r = await node.as(owner).call(assessments.correctQuestion, { questionId: q.id, version: 1, body: single('b'), reason: 'Wrong key' });
    expect(r).toMatchObject({ questionId: q.id, version: 1 });
    expect((await node.as(owner).call(assessments.getQuestion, { questionId: q.id })).body).toEqual(single('b'));
    const seen = await eventually(() => {
      const e = corrections.find((c) => c.questionId === q.id);
      if (!e) throw new Error('no question_corrected yet');
      return e;
    });
    expect(seen).toMatchObject({ version: 1, courseId, correctedBy: owner.userId, reason: 'Wrong key', body: single('b') });
  });
});

describe('assessments: quizzes', () => {
  it('emits the gradebook item on create, update and delete; learners see the summary of a published quiz only', async () => {
    const { cat, q } = await bankWithQuestion('Quiz bank');
    await node
      .as(owner)
      .call(assessments.createQuestion, { bankId: cat.bankId, categoryId: cat.id, title: 'Spain', prompt: 'Capital of Spain?', body: single(), tags: ['eu'] });
    const quiz = await node.as(owner).call(assessments.createQuiz, {
      courseId,
      title: 'Capitals',
      settings: { passPercent: 60, closesAt: '2027-01-01T00:00:00.000Z', timeLimitS: 600, attemptsAllowed: 2 },
      sections: [
        { title: 'Fixed', slots: [{ from: 'fixed', questionId: q.id, points: 2 }] },
        { title: 'Random', slots: [{ from: 'random', categoryId: cat.id, tags: ['eu'], count: 2, points: 3 }] },
      ],
    });
    expect(quiz.maxPoints).toBe(8);
    await eventually(() => expect(items.filter((i) => i.assessmentId === quiz.id)).toHaveLength(1));
    expect(items.find((i) => i.assessmentId === quiz.id)).toEqual({
      kind: 'quiz',
      assessmentId: quiz.id,
      courseId,
      title: 'Capitals',
      maxPoints: 8,
      passPercent: 60,
      dueAt: '2027-01-01T00:00:00.000Z',
      deleted: false,
    });

    expect(await node.as(learner).fail(assessments.quizSummary, { quizId: quiz.id })).toMatchObject({ code: 'NOT_FOUND' });
    expect(await node.as(learner).fail(assessments.getQuiz, { quizId: quiz.id })).toMatchObject({ code: 'NOT_FOUND' });
    expect(await node.as(learner).fail(assessments.publishQuiz, { quizId: quiz.id })).toMatchObject({ code: 'NOT_FOUND' });
    await node.as(owner).call(assessments.publishQuiz, { quizId: quiz.id });
    expect(await node.as(learner).call(assessments.quizSummary, { quizId: quiz.id })).toMatchObject({
      title: 'Capitals',
      questions: 3,
      timeLimitS: 600,
      attemptsAllowed: 2,
      navigation: 'all',
    });
    expect(await node.as(stranger).fail(assessments.quizSummary, { quizId: quiz.id })).toMatchObject({ code: 'NOT_FOUND' });

    // Reorder: sections in another order keep the slots.
    const reordered = await node.as(owner).call(assessments.updateQuiz, {
      quizId: quiz.id,
      title: 'Capitals (v2)',
      sections: [
        { title: 'Random', slots: [{ from: 'random', categoryId: cat.id, tags: ['eu'], count: 1, points: 3 }] },
        { title: 'Fixed', slots: [{ from: 'fixed', questionId: q.id, points: 2 }] },
      ],
    });
    expect(reordered.sections.map((s) => s.title)).toEqual(['Random', 'Fixed']);
    await eventually(() => expect(items.filter((i) => i.assessmentId === quiz.id).at(-1)).toMatchObject({ title: 'Capitals (v2)', maxPoints: 5 }));

    const forAttempt = await node.internal().call(assessmentsInternal.quizForAttempt, { quizId: quiz.id });
    const random = forAttempt.sections[0]?.slots[0];
    expect(random?.from === 'random' && random.candidates.map((c) => c.title).sort()).toEqual(['France', 'Spain']);

    // A question from a bank the course may not use is refused.
    const foreign = await node.as(otherOwner).call(assessments.createBank, { courseId: otherCourseId, name: 'Foreign' });
    const fq = await node.as(otherOwner).call(assessments.createQuestion, { bankId: foreign.id, title: 'F', prompt: 'F?', body: single() });
    expect(
      await node
        .as(owner)
        .fail(assessments.updateQuiz, { quizId: quiz.id, sections: [{ title: '', slots: [{ from: 'fixed', questionId: fq.id, points: 1 }] }] }),
    ).toMatchObject({ code: 'VALIDATION_FAILED' });

    expect(await node.as(owner).call(assessments.deleteQuiz, { quizId: quiz.id })).toEqual({ deleted: true });
    await eventually(() => expect(items.filter((i) => i.assessmentId === quiz.id).at(-1)).toMatchObject({ deleted: true }));
    expect(await node.internal().fail(assessmentsInternal.quizForAttempt, { quizId: quiz.id })).toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('assessments: import and export', () => {
  it('exports a bank as GIFT and QTI and imports it into another bank with the same questions', async () => {
    const { bank } = await bankWithQuestion('Round trip');
    await node
      .as(owner)
      .call(assessments.createQuestion, { bankId: bank.id, title: 'TF', prompt: 'Paris is in France', body: { type: 'truefalse', answer: true } });
    const shape = async (bankId: string) =>
      (await node.as(owner).call(assessments.listQuestions, { bankId, limit: 100 })).items
        // GIFT has no choice ids: the importer numbers them; the rest must come back as it was.
        .map((q) => ({
          title: q.title,
          prompt: q.prompt,
          body: q.body.type === 'single' ? { ...q.body, choices: q.body.choices.map(({ id: _, ...c }) => c) } : q.body,
        }))
        .sort((a, b) => a.title.localeCompare(b.title));
    for (const format of ['gift', 'qti'] as const) {
      const out = await node.as(owner).call(assessments.exportQuestions, { bankId: bank.id, format });
      expect(out.skipped).toEqual([]);
      const target = await node.as(owner).call(assessments.createBank, { courseId, name: `Imported ${format}` });
      const r = await node.as(owner).call(assessments.importQuestions, { bankId: target.id, format, text: out.text });
      expect(r).toEqual({ created: 2, errors: [] });
      expect(await shape(target.id)).toEqual(await shape(bank.id));
      if (format === 'gift')
        expect((await node.as(owner).call(assessments.listCategories, { bankId: target.id })).items.map((c) => c.name)).toContain('Europe');
    }
    const bad = await node.as(owner).fail(assessments.importQuestions, { bankId: bank.id, format: 'gift', text: '{{{ not gift at all' });
    expect(bad).toMatchObject({ code: 'IMPORT_INVALID', status: 422 });
  });
});
