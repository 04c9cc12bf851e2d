/**
 * The assignments service over an in-process broker with the real courses, files and grades services: authoring, the
 * submission window, resubmission, anonymous marking, the marking workflow, release and the audited change of a
 * released grade; markers reading submitted files; group submission; names on the staff list. Enrolment is stood in
 * for by the enrollments service's event (`node.publish`): an enrolled learner is a course member with the `learner`
 * role; an erasure by the users service's event. A TEST DOUBLE service records the assessment events, another stands
 * in for the users service's names.
 */
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  assessmentEvents,
  assignments,
  assignmentsInternal,
  courses,
  enrollmentEvents,
  files,
  filesInternal,
  grades,
  userEvents,
  usersInternal,
  type PayloadOf,
} from '@lms/contracts';
import { consumer, defineService, type Caller } from '@lms/runtime';
import { eventually, testNode, type TestNode } from '@lms/runtime/testing';
import { defined } from '../../../tools/test/support.ts';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { coursesService } from '../../courses/src/index.js';
import { filesService } from '../../files/src/index.js';
import { gradesService } from '../../grades/src/index.js';
import { assignmentsService } from '../src/index.js';

/** TEST DOUBLE: a service that only records the assessment events it receives. */
const seen = {
  graded: [] as PayloadOf<typeof assessmentEvents.graded>[],
  submitted: [] as PayloadOf<typeof assessmentEvents.submitted>[],
  items: [] as PayloadOf<typeof assessmentEvents.itemChanged>[],
};
const listener = defineService({
  name: 'listener',
  contracts: {},
  handlers: {},
  consumers: [
    consumer({ name: 'graded', event: assessmentEvents.graded, handle: async ({ payload }) => void seen.graded.push(payload) }),
    consumer({ name: 'submitted', event: assessmentEvents.submitted, handle: async ({ payload }) => void seen.submitted.push(payload) }),
    consumer({ name: 'items', event: assessmentEvents.itemChanged, handle: async ({ payload }) => void seen.items.push(payload) }),
  ],
});

/** TEST DOUBLE of the users service's names: who has which name, and who was erased. */
const profiles = new Map<string, { displayName: string; status: 'active' | 'erased' }>();
const summaryCalls: string[][] = [];
const fakeUsers = defineService({
  name: 'users',
  contracts: { summaries: usersInternal.summaries },
  handlers: {
    summaries: ({ input }) => {
      summaryCalls.push(input.ids);
      return Promise.resolve({
        items: input.ids.flatMap((id) => {
          const p = profiles.get(id);
          return p ? [{ id, displayName: p.displayName, email: null, status: p.status }] : [];
        }),
      });
    },
  },
});

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lms-assignments-'));
let node: TestNode;
beforeAll(async () => {
  process.env.FILES_DIR = dir;
  node = await testNode([assignmentsService, coursesService, filesService, gradesService, fakeUsers, listener]);
}, 300_000); // the first run builds the database snapshot of these services
afterAll(async () => {
  await node?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
  delete process.env.FILES_DIR;
});
afterEach(() => {
  vi.useRealTimers();
});

const person = (roles = ['student']): Caller => ({ userId: randomUUID(), roles });
const HOUR = 3_600_000;

/** A published course of its own instructor, with `learners` enrolled. */
async function course(learners: Caller[]) {
  const owner = person(['instructor']);
  const c = await node.as(owner).call(courses.create, { title: `Course ${randomUUID()}`, category: 'maths' });
  await node.as(owner).call(courses.publish, { courseId: c.id });
  for (const l of learners) {
    await node.publish(enrollmentEvents.changed, {
      enrollmentId: randomUUID(),
      courseId: c.id,
      userId: l.userId,
      status: 'active',
      previous: 'pending',
      reason: null,
    });
  }
  return { owner, courseId: c.id };
}

function upload(caller: Caller, text: string) {
  const bytes = Buffer.from(text);
  const tmpKey = `tmp/${randomUUID()}`;
  fs.mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  fs.writeFileSync(path.join(dir, tmpKey), bytes);
  const blob = { tmpKey, sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length, head: bytes.subarray(0, 4096).toString('base64') };
  return node.internal(caller).call(filesInternal.register, { name: 'essay.txt', declaredType: 'text/plain', blob });
}

describe('authoring', () => {
  it('creates assignments for course editors; learners see published ones only; strangers see nothing (404)', async () => {
    const learner = person();
    const { owner, courseId } = await course([learner]);
    const rubric = {
      criteria: [
        {
          title: 'Argument',
          levels: [
            { title: 'Weak', points: 0 },
            { title: 'Strong', points: 6 },
          ],
        },
        {
          title: 'Style',
          levels: [
            { title: 'Poor', points: 1 },
            { title: 'Good', points: 4 },
          ],
        },
      ],
    };
    const draft = await node.as(owner).call(assignments.create, { courseId, title: 'Essay', instructions: '# Write', rubric });
    expect(draft).toMatchObject({ maxPoints: 10, published: false, submissionTypes: 'text' });
    expect(draft.rubric?.criteria[0]?.levels).toHaveLength(2);
    expect(await node.as(owner).fail(assignments.create, { courseId, title: 'No max' })).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(await node.as(owner).fail(assignments.create, { courseId, title: 'Bad max', rubric, maxPoints: 12 })).toMatchObject({ code: 'VALIDATION_FAILED' });
    // A learner: no draft, no authoring.
    expect(await node.as(learner).fail(assignments.get, { assignmentId: draft.id })).toMatchObject({ code: 'NOT_FOUND', status: 404 });
    expect((await node.as(learner).call(assignments.list, { courseId })).items).toEqual([]);
    expect(await node.as(learner).fail(assignments.create, { courseId, title: 'Mine', maxPoints: 1 })).toMatchObject({ code: 'FORBIDDEN' });
    const published = await node.as(owner).call(assignments.update, { assignmentId: draft.id, published: true });
    expect(published).toMatchObject({ published: true, maxPoints: 10 });
    expect((await node.as(learner).call(assignments.get, { assignmentId: draft.id })).title).toBe('Essay');
    expect((await node.as(learner).call(assignments.list, { courseId })).items.map((a) => a.id)).toEqual([draft.id]);
    expect(await node.as(learner).fail(assignments.update, { assignmentId: draft.id, title: 'Hijacked' })).toMatchObject({ code: 'FORBIDDEN' });
    // Strangers (signed in, not in the course) learn nothing.
    const stranger = node.as(person(['instructor']));
    const refusals = await Promise.all([
      stranger.fail(assignments.get, { assignmentId: draft.id }),
      stranger.fail(assignments.update, { assignmentId: draft.id, title: 'x' }),
      stranger.fail(assignments.delete, { assignmentId: draft.id }),
      stranger.fail(assignments.submit, { assignmentId: draft.id, text: 'x' }),
      stranger.fail(assignments.mySubmission, { assignmentId: draft.id }),
      stranger.fail(assignments.submissions, { assignmentId: draft.id }),
      stranger.fail(assignments.release, { assignmentId: draft.id }),
      stranger.fail(assignments.list, { courseId }),
      stranger.fail(assignments.create, { courseId, title: 'x', maxPoints: 1 }),
    ]);
    expect(refusals.map((r) => r.status)).toEqual(refusals.map(() => 404));
    // A rubric sets the maximum; without one the maximum is as given (or stays).
    expect(await node.as(owner).fail(assignments.update, { assignmentId: draft.id, rubric, maxPoints: 3 })).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(await node.as(owner).call(assignments.update, { assignmentId: draft.id, rubric: null, maxPoints: 20 })).toMatchObject({
      maxPoints: 20,
      rubric: null,
    });
    expect(await node.as(owner).call(assignments.delete, { assignmentId: draft.id })).toEqual({ deleted: true });
    expect(await node.as(owner).fail(assignments.get, { assignmentId: draft.id })).toMatchObject({ code: 'NOT_FOUND' });
    await eventually(() =>
      expect(seen.items.filter((i) => i.assessmentId === draft.id).map((i) => [i.kind, i.maxPoints, i.deleted])).toEqual([
        ['assignment', 10, false],
        ['assignment', 10, false],
        ['assignment', 20, false],
        ['assignment', 20, true],
      ]),
    );
  });
});

describe('submissions', () => {
  it('accepts hand-ins until the cut-off, late after the due date (server clock), and keeps every version', async () => {
    const learner = person();
    const other = person();
    const { owner, courseId } = await course([learner, other]);
    const t0 = Math.floor(Date.now() / 1000) * 1000;
    const a = await node.as(owner).call(assignments.create, {
      courseId,
      title: 'Report',
      maxPoints: 100,
      submissionTypes: 'both',
      dueAt: new Date(t0 + HOUR).toISOString(),
      cutoffAt: new Date(t0 + 3 * HOUR).toISOString(),
      latePolicy: { per: 'hour', percent: 10, floorPercent: 50 },
      allowResubmission: true,
      published: true,
    });
    expect(await node.as(learner).fail(assignments.mySubmission, { assignmentId: a.id })).toMatchObject({ code: 'NOT_FOUND' });
    expect(await node.as(learner).fail(assignments.submit, { assignmentId: a.id })).toMatchObject({ code: 'VALIDATION_FAILED' });
    const first = await node.as(learner).call(assignments.submit, { assignmentId: a.id, text: 'On time' });
    expect(first).toMatchObject({ version: 1, status: 'submitted', grade: null });
    expect(first.versions[0]).toMatchObject({ late: false, lateSeconds: 0, text: 'On time' });
    // Files: the submitter's own only.
    const mine = await upload(learner, 'my essay');
    const theirs = await upload(other, 'not mine');
    expect(await node.as(learner).fail(assignments.submit, { assignmentId: a.id, fileIds: [theirs.id] })).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(await node.as(learner).fail(assignments.submit, { assignmentId: a.id, fileIds: [randomUUID()] })).toMatchObject({ code: 'VALIDATION_FAILED' });
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(t0 + 2 * HOUR + 1000);
    const second = await node.as(learner).call(assignments.submit, { assignmentId: a.id, text: 'Late', fileIds: [mine.id] });
    expect(second.version).toBe(2);
    expect(second.versions.map((v) => [v.version, v.late, v.lateSeconds, v.fileIds])).toEqual([
      [1, false, 0, []],
      [2, true, HOUR / 1000 + 1, [mine.id]],
    ]);
    vi.setSystemTime(t0 + 3 * HOUR + 1000);
    expect(await node.as(learner).fail(assignments.submit, { assignmentId: a.id, text: 'Too late' })).toMatchObject({ code: 'SUBMISSION_CLOSED', status: 409 });
    expect(await node.as(other).fail(assignments.submit, { assignmentId: a.id, text: 'Too late' })).toMatchObject({ code: 'SUBMISSION_CLOSED' });
    vi.useRealTimers();
    // Late penalty at marking: 1 h 1 s late is 2 started hours, 20 % off.
    const [sub] = (await node.as(owner).call(assignments.submissions, { assignmentId: a.id })).items;
    const graded = await node.as(owner).call(assignments.grade, { submissionId: defined(sub).id, points: 80 });
    expect(graded.grade).toMatchObject({ rawPoints: 80, penaltyPercent: 20, points: 64, percent: 64 });
    await eventually(() =>
      expect(seen.submitted.filter((s) => s.assessmentId === a.id).map((s) => [s.attemptId, s.userId, s.kind])).toEqual([
        [first.id, learner.userId, 'assignment'],
        [first.id, learner.userId, 'assignment'],
      ]),
    );
  });

  it('refuses a second hand-in when resubmission is not allowed, and only enrolled learners hand in', async () => {
    const learner = person();
    const { owner, courseId } = await course([learner]);
    const a = await node.as(owner).call(assignments.create, { courseId, title: 'Once', maxPoints: 5, published: true });
    await node.as(learner).call(assignments.submit, { assignmentId: a.id, text: 'Done' });
    expect(await node.as(learner).fail(assignments.submit, { assignmentId: a.id, text: 'Again' })).toMatchObject({ code: 'SUBMISSION_CLOSED', status: 409 });
    expect(await node.as(learner).fail(assignments.submit, { assignmentId: a.id, fileIds: [randomUUID()] })).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(await node.as(owner).fail(assignments.submit, { assignmentId: a.id, text: 'Staff' })).toMatchObject({ code: 'FORBIDDEN' });
    expect(await node.as(person()).fail(assignments.submit, { assignmentId: a.id, text: 'Stranger' })).toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('marking', () => {
  it('keeps markers blind until release, moves forward only, and shows learners released grades only', async () => {
    const [l1, l2, l3] = [person(), person(), person()];
    const { owner, courseId } = await course([l1, l2, l3]);
    const a = await node.as(owner).call(assignments.create, {
      courseId,
      title: 'Blind',
      anonymousMarking: true,
      passPercent: 50,
      published: true,
      rubric: {
        criteria: [
          {
            title: 'Content',
            levels: [
              { title: 'None', points: 0 },
              { title: 'Some', points: 3 },
              { title: 'All', points: 6 },
            ],
          },
          {
            title: 'Form',
            levels: [
              { title: 'Poor', points: 0 },
              { title: 'Good', points: 4 },
            ],
          },
        ],
      },
    });
    const [content, form] = defined(a.rubric).criteria as [NonNullable<typeof a.rubric>['criteria'][number], NonNullable<typeof a.rubric>['criteria'][number]];
    const s1 = await node.as(l1).call(assignments.submit, { assignmentId: a.id, text: 'The first essay' });
    const s2 = await node.as(l2).call(assignments.submit, { assignmentId: a.id, text: 'The second essay' });
    const list = await node.as(owner).call(assignments.submissions, { assignmentId: a.id });
    expect(list.items.map((s) => [s.id, s.participant, s.userId, s.state])).toEqual([
      [s1.id, 'Participant 1', null, 'not_marked'],
      [s2.id, 'Participant 2', null, 'not_marked'],
    ]);
    expect(JSON.stringify(list)).not.toContain(l1.userId);
    // Pages of one: the cursor follows the participant numbers.
    const p1 = await node.as(owner).call(assignments.submissions, { assignmentId: a.id, limit: 1 });
    const p2 = await node.as(owner).call(assignments.submissions, { assignmentId: a.id, limit: 1, cursor: defined(p1.nextCursor) });
    expect([...p1.items, ...p2.items].map((s) => s.participant)).toEqual(['Participant 1', 'Participant 2']);
    expect(p2.nextCursor).toBeNull();
    // Rubric selections: points are computed; an unknown level is refused.
    const pick = (c: typeof content, i: number) => ({ criterionId: c.id, levelId: defined(c.levels[i]).id });
    expect(
      await node.as(owner).fail(assignments.grade, { submissionId: s1.id, rubric: [pick(content, 1), { criterionId: form.id, levelId: randomUUID() }] }),
    ).toMatchObject({
      code: 'VALIDATION_FAILED',
    });
    expect(await node.as(owner).fail(assignments.grade, { submissionId: s1.id, points: 5 })).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(
      await node
        .as(owner)
        .fail(assignments.grade, { submissionId: s1.id, rubric: [pick(content, 1), pick(form, 1)], comments: [{ start: 4, end: 99, comment: 'x' }] }),
    ).toMatchObject({ code: 'VALIDATION_FAILED' });
    const marked = await node.as(owner).call(assignments.grade, {
      submissionId: s1.id,
      rubric: [pick(content, 1), pick(form, 1)],
      feedback: 'Good start',
      comments: [{ start: 4, end: 9, comment: 'Which one?' }],
    });
    expect(marked).toMatchObject({ state: 'in_marking', userId: null, grade: { rawPoints: 7, points: 7, maxPoints: 10, percent: 70, passed: true } });
    // The learner sees nothing of it yet; nor does the outcome call it graded.
    expect(await node.as(l1).call(assignments.mySubmission, { assignmentId: a.id })).toMatchObject({ status: 'submitted', grade: null });
    expect(await node.internal().call(assignmentsInternal.outcome, { attemptId: s1.id })).toMatchObject({ status: 'submitted', grade: null, released: false });
    const ready = await node.as(owner).call(assignments.grade, { submissionId: s1.id, rubric: [pick(content, 2), pick(form, 1)], state: 'ready_for_release' });
    expect(ready).toMatchObject({ state: 'ready_for_release', grade: { points: 10, feedback: 'Good start' } });
    expect(await node.as(owner).fail(assignments.grade, { submissionId: s1.id, rubric: [pick(content, 2), pick(form, 1)], state: 'in_marking' })).toMatchObject(
      {
        code: 'CONFLICT',
      },
    );
    expect(await node.internal().call(assignmentsInternal.outcome, { attemptId: s1.id })).toMatchObject({
      kind: 'assignment',
      userId: l1.userId,
      status: 'graded',
      grade: { points: 10, maxPoints: 10, percent: 100 },
      passed: true,
      released: false,
    });
    expect(await node.as(l1).call(assignments.mySubmission, { assignmentId: a.id })).toMatchObject({ grade: null });
    // A learner cannot mark (another's submission does not exist for them), release or read the marking.
    expect(await node.as(l2).fail(assignments.grade, { submissionId: s1.id, points: 1 })).toMatchObject({ code: 'NOT_FOUND' });
    expect(await node.as(l2).fail(assignments.release, { assignmentId: a.id })).toMatchObject({ code: 'FORBIDDEN' });
    expect(await node.as(l2).fail(assignments.submissions, { assignmentId: a.id })).toMatchObject({ code: 'FORBIDDEN' });
    expect(await node.as(person()).fail(assignments.grade, { submissionId: s1.id, points: 1 })).toMatchObject({ code: 'NOT_FOUND' });
    // s2 is in marking, not ready: releasing "all" releases s1 only.
    await node.as(owner).call(assignments.grade, { submissionId: s2.id, rubric: [pick(content, 0), pick(form, 0)] });
    expect(await node.as(owner).call(assignments.release, { assignmentId: a.id })).toEqual({ released: [s1.id] });
    expect(await node.as(owner).call(assignments.release, { assignmentId: a.id, submissionIds: [s2.id] })).toEqual({ released: [] });
    const mine = await node.as(l1).call(assignments.mySubmission, { assignmentId: a.id });
    expect(mine).toMatchObject({ status: 'graded', grade: { points: 10, feedback: 'Good start', comments: [{ start: 4, end: 9, comment: 'Which one?' }] } });
    expect(await node.as(l2).call(assignments.mySubmission, { assignmentId: a.id })).toMatchObject({ status: 'submitted', grade: null });
    // Released: the marker sees who it was; the others stay anonymous.
    const after = await node.as(owner).call(assignments.submissions, { assignmentId: a.id });
    expect(after.items.map((s) => [s.participant, s.userId, s.state])).toEqual([
      ['Participant 1', l1.userId, 'released'],
      ['Participant 2', null, 'in_marking'],
    ]);
    // A released grade changes with a reason only, and each change is recorded.
    expect(await node.as(owner).fail(assignments.grade, { submissionId: s1.id, rubric: [pick(content, 1), pick(form, 1)] })).toMatchObject({
      code: 'GRADE_RELEASED',
      status: 409,
    });
    const changed = await node
      .as(owner)
      .call(assignments.grade, { submissionId: s1.id, rubric: [pick(content, 1), pick(form, 1)], reason: 'Misread the rubric' });
    expect(changed).toMatchObject({ state: 'released', grade: { points: 7 } });
    expect((await node.as(owner).call(assignments.gradeChanges, { submissionId: s1.id })).items).toEqual([
      expect.objectContaining({
        by: owner.userId,
        reason: 'Misread the rubric',
        before: { rawPoints: 10, points: 10, feedback: 'Good start' },
        after: { rawPoints: 7, points: 7, feedback: 'Good start' },
      }),
    ]);
    expect(await node.as(l1).fail(assignments.gradeChanges, { submissionId: s1.id })).toMatchObject({ code: 'FORBIDDEN' });
    expect(await node.as(l1).fail(assignments.submit, { assignmentId: a.id, text: 'Again' })).toMatchObject({ code: 'SUBMISSION_CLOSED' });
    await eventually(() =>
      expect(seen.graded.filter((g) => g.assessmentId === a.id).map((g) => [g.attemptId, g.userId, g.grade.points, g.released, g.regrade])).toEqual([
        [s1.id, l1.userId, 10, true, false],
        [s1.id, l1.userId, 7, true, true],
      ]),
    );
  });
});

describe('files handed in', () => {
  it("lets the course's markers read a submitted file; another learner of the course, a stranger, nobody else; erasure takes it away", async () => {
    const [learner, classmate] = [person(), person()];
    const { owner, courseId } = await course([learner, classmate]);
    const a = await node.as(owner).call(assignments.create, { courseId, title: 'Upload', maxPoints: 10, submissionTypes: 'file', published: true });
    const essay = await upload(learner, 'my essay, for the markers only');
    // Before it is handed in, it is the learner's alone.
    expect(await node.as(owner).fail(files.get, { fileId: essay.id })).toMatchObject({ code: 'NOT_FOUND', status: 404 });
    await node.as(learner).call(assignments.submit, { assignmentId: a.id, fileIds: [essay.id] });
    const [sub] = (await node.as(owner).call(assignments.submissions, { assignmentId: a.id })).items;
    expect(defined(sub).versions[0]?.fileIds).toEqual([essay.id]);
    expect((await node.as(owner).call(files.get, { fileId: essay.id })).name).toBe('essay.txt');
    // The download itself (the gateway streams what openForRead answers).
    const opened = await node.as(owner).call(filesInternal.openForRead, { fileId: essay.id });
    expect(fs.readFileSync(path.join(dir, opened.blobKey), 'utf8')).toBe('my essay, for the markers only');
    expect((await node.as(owner).call(files.signedUrl, { fileId: essay.id })).url).toContain(essay.id);
    // Read, never change.
    expect(await node.as(owner).fail(files.delete, { fileId: essay.id })).toMatchObject({ code: 'FORBIDDEN' });
    for (const other of [classmate, person(), person(['instructor'])]) {
      expect(await node.as(other).fail(files.get, { fileId: essay.id })).toMatchObject({ code: 'NOT_FOUND', status: 404 });
      expect(await node.as(other).fail(filesInternal.openForRead, { fileId: essay.id })).toMatchObject({ code: 'NOT_FOUND', status: 404 });
    }
    // Staff of another course, granted nothing there, read nothing either.
    const elsewhere = await course([]);
    expect(await node.as(elsewhere.owner).fail(files.get, { fileId: essay.id })).toMatchObject({ code: 'NOT_FOUND' });
    // The grant is internal: not callable at the edge.
    expect(await node.as(learner).fail(filesInternal.grantRead, { fileIds: [essay.id], ownerId: learner.userId, courseId })).toMatchObject({
      code: 'FORBIDDEN',
    });
    // Nor may it grant another's file.
    expect(await node.internal().fail(filesInternal.grantRead, { fileIds: [essay.id], ownerId: classmate.userId, userIds: [classmate.userId] })).toMatchObject({
      code: 'NOT_FOUND',
    });
    expect(await node.as(classmate).fail(files.get, { fileId: essay.id })).toMatchObject({ code: 'NOT_FOUND' });
    // The learner is erased: their file goes, and the markers' grant with it.
    await node.publish(userEvents.deleted, { userId: learner.userId, requestId: randomUUID(), by: learner.userId });
    await eventually(async () => expect(await node.as(owner).fail(files.get, { fileId: essay.id })).toMatchObject({ code: 'NOT_FOUND' }));
    expect(await node.as(owner).call(assignments.submissions, { assignmentId: a.id })).toMatchObject({ items: [] });
  });
});

describe('group submission', () => {
  it('takes one submission per group: any member hands in and again, all see it, the grade reaches every member', async () => {
    const [ann, bob, cid, dee] = [person(), person(), person(), person()];
    const { owner, courseId } = await course([ann, bob, cid, dee]);
    profiles.set(ann.userId, { displayName: 'Ann Archer', status: 'active' });
    profiles.set(bob.userId, { displayName: 'Bob Baker', status: 'active' });
    const a = await node.as(owner).call(assignments.create, {
      courseId,
      title: 'Team project',
      maxPoints: 20,
      submissionTypes: 'both',
      allowResubmission: true,
      groupSubmission: true,
      published: true,
    });
    expect(a.groupSubmission).toBe(true);
    // Groups: learners of the course only, each in one group; learners may neither set nor list them.
    expect(await node.as(owner).fail(assignments.setGroups, { assignmentId: a.id, groups: [{ name: 'X', memberIds: [person().userId] }] })).toMatchObject({
      code: 'VALIDATION_FAILED',
    });
    expect(
      await node.as(owner).fail(assignments.setGroups, {
        assignmentId: a.id,
        groups: [
          { name: 'X', memberIds: [ann.userId] },
          { name: 'Y', memberIds: [ann.userId] },
        ],
      }),
    ).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(await node.as(ann).fail(assignments.setGroups, { assignmentId: a.id, groups: [] })).toMatchObject({ code: 'FORBIDDEN' });
    expect(await node.as(ann).fail(assignments.groups, { assignmentId: a.id })).toMatchObject({ code: 'FORBIDDEN' });
    expect(await node.as(person()).fail(assignments.groups, { assignmentId: a.id })).toMatchObject({ code: 'NOT_FOUND' });
    const set = await node.as(owner).call(assignments.setGroups, {
      assignmentId: a.id,
      groups: [
        { name: 'Red', memberIds: [ann.userId, bob.userId] },
        { name: 'Blue', memberIds: [dee.userId] },
      ],
    });
    const red = defined(set.items.find((g) => g.name === 'Red'));
    expect(red.members).toEqual(
      expect.arrayContaining([
        { userId: ann.userId, displayName: 'Ann Archer' },
        { userId: bob.userId, displayName: 'Bob Baker' },
      ]),
    );
    expect(await node.as(owner).call(assignments.groups, { assignmentId: a.id })).toEqual(set);
    // Cid is in no group: a clear refusal.
    expect(await node.as(cid).fail(assignments.submit, { assignmentId: a.id, text: 'Alone' })).toMatchObject({ code: 'NOT_IN_GROUP', status: 409 });
    expect(await node.as(cid).fail(assignments.mySubmission, { assignmentId: a.id })).toMatchObject({ code: 'NOT_IN_GROUP' });
    // Ann hands in for Red, with a file; Bob sees it, reads the file, and hands in again.
    const plan = await upload(ann, 'our plan');
    const first = await node.as(ann).call(assignments.submit, { assignmentId: a.id, text: 'Draft by Ann', fileIds: [plan.id] });
    expect(first).toMatchObject({ version: 1, group: { id: red.id, name: 'Red' } });
    expect(first.group?.memberIds.sort()).toEqual([ann.userId, bob.userId].sort());
    const seenByBob = await node.as(bob).call(assignments.mySubmission, { assignmentId: a.id });
    expect(seenByBob).toMatchObject({ id: first.id, version: 1, versions: [{ text: 'Draft by Ann', fileIds: [plan.id] }] });
    expect((await node.as(bob).call(files.get, { fileId: plan.id })).id).toBe(plan.id);
    expect(await node.as(dee).fail(files.get, { fileId: plan.id })).toMatchObject({ code: 'NOT_FOUND' });
    expect(await node.as(dee).fail(assignments.mySubmission, { assignmentId: a.id })).toMatchObject({ code: 'NOT_FOUND' });
    const second = await node.as(bob).call(assignments.submit, { assignmentId: a.id, text: 'Final by Bob' });
    expect(second).toMatchObject({ id: first.id, version: 2 });
    expect((await node.as(ann).call(assignments.mySubmission, { assignmentId: a.id })).versions.map((v) => v.text)).toEqual(['Draft by Ann', 'Final by Bob']);
    // The staff see one submission, the group's, with its members' names.
    const list = await node.as(owner).call(assignments.submissions, { assignmentId: a.id });
    expect(list.items).toHaveLength(1);
    expect(list.items[0]).toMatchObject({ id: first.id, userId: null, displayName: 'Red', group: { id: red.id, name: 'Red' } });
    // A group that handed in stays; groupSubmission stays on.
    expect(await node.as(owner).fail(assignments.setGroups, { assignmentId: a.id, groups: [] })).toMatchObject({ code: 'CONFLICT' });
    expect(await node.as(owner).fail(assignments.update, { assignmentId: a.id, groupSubmission: false })).toMatchObject({ code: 'CONFLICT' });
    // Marked and released: each member has the grade, in their own gradebook.
    await node.as(owner).call(assignments.grade, { submissionId: first.id, points: 15, feedback: 'Well done, Red', state: 'ready_for_release' });
    expect(await node.as(owner).call(assignments.release, { assignmentId: a.id })).toEqual({ released: [first.id] });
    for (const m of [ann, bob]) {
      expect(await node.as(m).call(assignments.mySubmission, { assignmentId: a.id })).toMatchObject({ status: 'graded', grade: { points: 15 } });
      await eventually(async () =>
        expect((await node.as(m).call(grades.myGrades, { courseId })).grades).toEqual([
          expect.objectContaining({ itemId: a.id, points: 15, maxPoints: 20, feedback: 'Well done, Red' }),
        ]),
      );
    }
    expect((await node.as(dee).call(grades.myGrades, { courseId })).grades.filter((g) => g.points !== null)).toEqual([]);
    // Per member in the events (the gradebook and the completion saga are per learner): an attempt id each.
    await eventually(() => {
      const graded = seen.graded.filter((g) => g.assessmentId === a.id);
      expect(graded.map((g) => g.userId).sort()).toEqual([ann.userId, bob.userId].sort());
      expect(new Set(graded.map((g) => g.attemptId)).size).toBe(2);
    });
    const graded = seen.graded.filter((g) => g.assessmentId === a.id);
    for (const g of graded)
      expect(await node.internal().call(assignmentsInternal.outcome, { attemptId: g.attemptId })).toMatchObject({
        userId: g.userId,
        attemptId: g.attemptId,
        status: 'graded',
        released: true,
        grade: { points: 15 },
      });
    expect(await node.internal().fail(assignmentsInternal.outcome, { attemptId: first.id })).toMatchObject({ code: 'NOT_FOUND' });
    const submitted = seen.submitted.filter((e) => e.assessmentId === a.id);
    expect(submitted.map((e) => e.userId).sort()).toEqual([ann.userId, ann.userId, bob.userId, bob.userId].sort());
    // Bob is erased: he leaves the group, the group's work stays Ann's; his grant to read her file goes.
    await node.publish(userEvents.deleted, { userId: bob.userId, requestId: randomUUID(), by: bob.userId });
    expect(await node.as(bob).fail(files.get, { fileId: plan.id })).toMatchObject({ code: 'NOT_FOUND' });
    expect((await node.as(owner).call(assignments.groups, { assignmentId: a.id })).items.find((g) => g.id === red.id)?.members).toEqual([
      { userId: ann.userId, displayName: 'Ann Archer' },
    ]);
    expect((await node.as(ann).call(assignments.mySubmission, { assignmentId: a.id })).version).toBe(2);
  });
});

describe('names on the staff list', () => {
  it('shows markers the learner’s name, a pseudonym while marking is anonymous and unreleased, none for an erased user; one users call per page', async () => {
    const [eve, fay, gus] = [person(), person(), person()];
    const { owner, courseId } = await course([eve, fay, gus]);
    profiles.set(eve.userId, { displayName: 'Eve Evans', status: 'active' });
    profiles.set(fay.userId, { displayName: 'Fay Fox', status: 'active' });
    profiles.set(gus.userId, { displayName: 'Former user', status: 'erased' });
    const open = await node.as(owner).call(assignments.create, { courseId, title: 'Named', maxPoints: 5, published: true });
    const blind = await node.as(owner).call(assignments.create, { courseId, title: 'Blind', maxPoints: 5, anonymousMarking: true, published: true });
    for (const l of [eve, fay, gus]) for (const x of [open, blind]) await node.as(l).call(assignments.submit, { assignmentId: x.id, text: 'Work' });
    const before = summaryCalls.length;
    const named = await node.as(owner).call(assignments.submissions, { assignmentId: open.id });
    expect(summaryCalls.length - before).toBe(1);
    expect(named.items.map((s) => [s.userId, s.displayName])).toEqual([
      [eve.userId, 'Eve Evans'],
      [fay.userId, 'Fay Fox'],
      [gus.userId, null],
    ]);
    // Anonymous: pseudonyms, no ids, and the users service is not even asked.
    const asked = summaryCalls.length;
    const hidden = await node.as(owner).call(assignments.submissions, { assignmentId: blind.id });
    expect(hidden.items.map((s) => [s.userId, s.displayName, s.group])).toEqual([
      [null, 'Participant 1', null],
      [null, 'Participant 2', null],
      [null, 'Participant 3', null],
    ]);
    expect(JSON.stringify(hidden)).not.toContain('Eve Evans');
    expect(summaryCalls.length).toBe(asked);
    const [first] = hidden.items;
    const marked = await node.as(owner).call(assignments.grade, { submissionId: defined(first).id, points: 4, state: 'ready_for_release' });
    expect(marked).toMatchObject({ userId: null, displayName: 'Participant 1' });
    await node.as(owner).call(assignments.release, { assignmentId: blind.id });
    // Released: that one has its name back; the others stay pseudonymous (the number is stable).
    const after = await node.as(owner).call(assignments.submissions, { assignmentId: blind.id });
    expect(after.items.map((s) => [s.participant, s.userId, s.displayName])).toEqual([
      ['Participant 1', eve.userId, 'Eve Evans'],
      ['Participant 2', null, 'Participant 2'],
      ['Participant 3', null, 'Participant 3'],
    ]);
  });
});
