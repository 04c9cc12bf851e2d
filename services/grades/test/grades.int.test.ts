import { assessmentEvents, courses, grades, gradesInternal, usersInternal } from '@lms/contracts';
import { eventually, testNode, type TestClient, type TestNode } from '@lms/runtime/testing';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coursesService } from '../../courses/src/index.js';
import { usersService } from '../../users/src/index.js';
import { gradesService } from '../src/index.js';

let node: TestNode;
let teacher: TestClient;
let ann: TestClient;
let bob: TestClient;
let stranger: TestClient;
let courseId: string;
const quizId = randomUUID();
const userOf = (c: TestClient) => c.caller?.userId ?? '';

async function learner(name: string): Promise<TestClient> {
  const id = randomUUID();
  await node.internal().call(usersInternal.create, { id, email: `${name}-${id}@example.org`, displayName: name });
  await teacher.call(courses.addMember, { courseId, userId: id, role: 'learner' });
  return node.as({ userId: id, roles: ['student'] });
}

function graded(userId: string, points: number, released: boolean) {
  const grade = { points, maxPoints: 10, percent: points * 10 };
  return node.publish(assessmentEvents.graded, {
    kind: 'quiz',
    assessmentId: quizId,
    courseId,
    userId,
    attemptId: randomUUID(),
    attempt: grade,
    grade,
    passed: null,
    released,
    regrade: false,
    gradedAt: new Date().toISOString(),
    feedback: 'well done',
  });
}

beforeAll(async () => {
  const t0 = Date.now();
  const step = (what: string) => process.stderr.write(`${what} ${Date.now() - t0} ms\n`);
  node = await testNode([gradesService, coursesService, usersService]);
  step('node');
  teacher = node.as({ roles: ['instructor'] });
  courseId = (await teacher.call(courses.create, { title: 'Algebra', category: 'maths' })).id;
  await teacher.call(courses.publish, { courseId });
  ann = await learner('ann');
  bob = await learner('bob');
  stranger = node.as({ roles: ['student'] });
  step('course');
  await node.publish(assessmentEvents.itemChanged, {
    kind: 'quiz',
    assessmentId: quizId,
    courseId,
    title: 'Quiz 1',
    maxPoints: 10,
    passPercent: null,
    dueAt: null,
    deleted: false,
  });
  await graded(userOf(ann), 8, false);
  await graded(userOf(bob), 5, true);
  step('events');
}, 240_000);
afterAll(() => node?.stop());

describe('the gradebook from assessment events', () => {
  it('shows graders every learner with the item as a column and the total', async () => {
    const grid = await eventually(async () => {
      const g = await teacher.call(grades.gradebook, { courseId, limit: 200 });
      expect(g.rows).toHaveLength(2);
      return g;
    });
    expect(grid.items.map((i) => [i.id, i.source, i.title])).toEqual([[quizId, 'quiz', 'Quiz 1']]);
    const annRow = grid.rows.find((r) => r.userId === userOf(ann));
    expect(annRow).toMatchObject({ displayName: 'ann', percent: 80, letter: 'B', grades: [{ itemId: quizId, points: 8, visible: false }] });
    // Paging by learner: one per page, then none.
    const first = await teacher.call(grades.gradebook, { courseId, limit: 1 });
    expect(first.rows).toHaveLength(1);
    const second = await teacher.call(grades.gradebook, { courseId, limit: 1, cursor: first.nextCursor ?? undefined });
    expect(second.rows[0]?.userId).not.toBe(first.rows[0]?.userId);
    expect(second.nextCursor).toBeNull();
    expect(await teacher.fail(grades.gradebook, { courseId, cursor: 'nope' })).toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  it('shows a learner their own released grades only; strangers and learners find no gradebook (404)', async () => {
    await eventually(async () => expect((await bob.call(grades.myGrades, { courseId })).grades).toHaveLength(1));
    expect(await bob.call(grades.myGrades, { courseId })).toMatchObject({
      grades: [{ itemId: quizId, points: 5, percent: 50, feedback: 'well done' }],
      percent: 50,
      letter: 'F',
    });
    // Ann's grade is not released: neither it nor a total shows.
    expect(await ann.call(grades.myGrades, { courseId })).toEqual({ grades: [], percent: null, letter: null });
    expect(await stranger.fail(grades.myGrades, { courseId })).toMatchObject({ code: 'NOT_FOUND', status: 404 });
    expect(await stranger.fail(grades.gradebook, { courseId })).toMatchObject({ code: 'NOT_FOUND', status: 404 });
    expect(await ann.fail(grades.gradebook, { courseId })).toMatchObject({ code: 'NOT_FOUND', status: 404 });
    expect(await ann.fail(grades.history, { courseId, userId: userOf(ann) })).toMatchObject({ code: 'NOT_FOUND', status: 404 });
    expect(await bob.fail(grades.overrideGrade, { itemId: quizId, userId: userOf(bob), points: 10, reason: 'me' })).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('overrides with a reason and keeps the history of every change', async () => {
    await teacher.call(grades.overrideGrade, { itemId: quizId, userId: userOf(ann), points: 9, reason: 'appeal upheld' });
    const item = await teacher.call(grades.createItem, { courseId, title: 'Essay', maxPoints: 20 });
    await teacher.call(grades.setGrade, { itemId: item.id, userId: userOf(ann), points: 15 });
    await teacher.call(grades.releaseItem, { itemId: item.id, released: true });
    await eventually(async () => expect((await ann.call(grades.myGrades, { courseId })).grades.map((g) => g.itemId)).toEqual([item.id]));
    // A grade the learner sees changes only with a reason.
    expect(await teacher.fail(grades.setGrade, { itemId: item.id, userId: userOf(ann), points: 10 })).toMatchObject({ code: 'GRADE_RELEASED', status: 409 });
    await teacher.call(grades.setGrade, { itemId: item.id, userId: userOf(ann), points: 10, reason: 'marking error' });
    await teacher.call(grades.overrideTotal, { courseId, userId: userOf(bob), percent: 95, reason: 'board decision' });
    const h = await teacher.call(grades.history, { courseId, userId: userOf(ann) });
    expect(h.items.map((e) => [e.field, e.source, e.before, e.after, e.reason])).toEqual([
      ['grade', 'event', null, 8, null],
      ['override', 'manual', null, 9, 'appeal upheld'],
      ['grade', 'manual', null, 15, null],
      ['grade', 'manual', 15, 10, 'marking error'],
    ]);
    expect(h.items[0]?.eventId).toBeTruthy();
    expect(h.items[1]?.by).toBe(userOf(teacher));
    // Ann: (9 + 10) / 30 incl. the unreleased quiz, for completion; Bob: his total override.
    expect(await node.internal().call(gradesInternal.courseGrade, { courseId, userId: userOf(ann) })).toEqual({
      percent: 63.33,
      letter: 'D',
      minimumPercent: null,
    });
    await teacher.call(grades.updateSettings, { courseId, minimumPassPercent: 60 });
    expect(await node.internal().call(gradesInternal.courseGrade, { courseId, userId: userOf(bob) })).toEqual({ percent: 95, letter: 'A', minimumPercent: 60 });
    expect(await teacher.fail(grades.setGrade, { itemId: quizId, userId: userOf(ann), points: 1 })).toMatchObject({ code: 'CONFLICT' });
  });
});

describe('CSV', () => {
  it('neutralises formula cells on export', async () => {
    await teacher.call(grades.createItem, { courseId, title: '=HYPERLINK("http://evil","x")', maxPoints: 5 });
    await teacher.call(grades.createItem, { courseId, title: '@SUM(A1)', maxPoints: 5 });
    const { csv } = await teacher.call(grades.exportCsv, { courseId });
    const header = csv.split('\r\n')[0] ?? '';
    expect(header).toContain(`"'=HYPERLINK(""http://evil"",""x"")"`);
    expect(header).toContain(`'@SUM(A1)`);
    expect(header).not.toMatch(/(^|,)[=+\-@]/);
    expect(csv.endsWith('\r\n')).toBe(true);
    // Each learner's name beside their id (a column an import ignores).
    expect(header.startsWith('userId,name,')).toBe(true);
    expect(csv).toContain(`\r\n${userOf(ann)},ann,`);
  });

  it('previews an import with per-row errors and applies nothing while any remains', async () => {
    const item = await teacher.call(grades.createItem, { courseId, title: 'Lab', maxPoints: 10 });
    const bad = ['userId,Lab,Nope', `not-a-uuid,1,`, `${randomUUID()},2,`, `${userOf(ann)},x,`].join('\r\n');
    const preview = await teacher.call(grades.importCsv, { courseId, csv: bad, apply: true });
    expect(preview.applied).toBe(false);
    expect(preview.errors).toEqual([
      { line: 1, column: 'Nope', message: 'no such item in this gradebook' },
      { line: 2, column: 'userId', message: 'not a user id' },
      { line: 3, column: 'userId', message: 'not a learner of this course' },
      { line: 4, column: 'Lab', message: 'not a number' },
    ]);
    const good = `userId,${item.id}\r\n${userOf(ann)},7\n${userOf(bob)},'-1\n`;
    expect(await teacher.call(grades.importCsv, { courseId, csv: good })).toEqual({ applied: false, rows: 2, changes: 2, errors: [] });
    expect((await teacher.call(grades.history, { courseId, userId: userOf(bob) })).items.some((e) => e.source === 'import')).toBe(false);
    expect(await teacher.call(grades.importCsv, { courseId, csv: good, apply: true })).toEqual({ applied: true, rows: 2, changes: 2, errors: [] });
    const row = (await teacher.call(grades.gradebook, { courseId })).rows.find((r) => r.userId === userOf(bob));
    expect(row?.grades.find((g) => g.itemId === item.id)?.points).toBe(-1);
    expect(await teacher.call(grades.importCsv, { courseId, csv: 'userId\r\n"unclosed' })).toMatchObject({ applied: false, errors: [{ line: 2 }] });
  });
});
