/**
 * Enrollment flows through the real courses and users services in one node (unit tier): what a learner sees end to end.
 * (enrollments.test.ts, beside it, uses stand-in services to test outages.)
 */
import { randomUUID } from 'node:crypto';
import { courses, enrollments, usersInternal, type Course } from '@lms/contracts';
import { eventually, testNode, type TestClient, type TestNode } from '@lms/runtime/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { z } from 'zod';
import { coursesService } from '../../courses/src/index.js';
import { usersService } from '../../users/src/index.js';
import { createEnrollmentsService } from '../src/index.js';
import type { PaymentProvider } from '../src/index.js';

/** The payment provider the saga is given: free, unless a test sets `decline`. */
let decline = false;
const payments: PaymentProvider = {
  async charge(req) {
    return decline ? { status: 'declined', paymentId: 'declined' } : { status: 'paid', paymentId: `test:${req.idempotencyKey}` };
  },
};

let node: TestNode;
let owner: TestClient;
beforeAll(async () => {
  node = await testNode([createEnrollmentsService({ payments }), coursesService, usersService]);
  owner = node.as({ roles: ['instructor'] });
});
afterAll(() => node?.stop());
afterEach(() => {
  decline = false;
  vi.useRealTimers();
});

/** A learner with a profile (the saga checks the account is active). */
async function learner(): Promise<TestClient> {
  const id = randomUUID();
  await node.internal().call(usersInternal.create, { id, email: `l.${id.slice(0, 8)}@example.test`, displayName: 'Learner' });
  return node.as({ userId: id, roles: ['student'] });
}

async function publishedCourse(settings: Partial<z.input<typeof courses.create.input>> = {}): Promise<Course> {
  const c = await owner.call(courses.create, { title: 'Enrol here', category: 'maths', ...settings });
  return owner.call(courses.publish, { courseId: c.id });
}

describe('enrollments handlers (unit: with courses and users in the node, an injected payment provider)', () => {
  it('enrols a learner once, lists it as theirs, and lets them leave', async () => {
    const course = await publishedCourse();
    const ann = await learner();
    const e = await ann.call(enrollments.enrol, { courseId: course.id });
    expect(e).toMatchObject({ courseId: course.id, userId: ann.caller?.userId, status: 'active', reason: null });
    expect(await ann.fail(enrollments.enrol, { courseId: course.id })).toMatchObject({ code: 'CONFLICT', status: 409 });
    expect((await ann.call(enrollments.mine, {})).items.map((x) => x.id)).toEqual([e.id]);
    expect((await ann.call(enrollments.drop, { courseId: course.id })).status).toBe('dropped');
    expect(await ann.fail(enrollments.drop, { courseId: course.id })).toMatchObject({ code: 'NOT_FOUND', status: 404 });
    const history = await ann.call(enrollments.history, { enrollmentId: e.id });
    expect(history.history.map((h) => h.status)).toEqual(expect.arrayContaining(['active', 'dropped']));
  });

  it("answers 404 for a course the learner may not see, and for someone else's enrollment", async () => {
    const ann = await learner();
    const draft = await owner.call(courses.create, { title: 'Not yet', category: 'maths' });
    expect(await ann.fail(enrollments.enrol, { courseId: draft.id })).toMatchObject({ code: 'COURSE_NOT_FOUND', status: 404 });
    expect(await ann.fail(enrollments.enrol, { courseId: randomUUID() })).toMatchObject({ code: 'COURSE_NOT_FOUND', status: 404 });
    const course = await publishedCourse();
    const e = await ann.call(enrollments.enrol, { courseId: course.id });
    const bob = await learner();
    expect(await bob.fail(enrollments.history, { enrollmentId: e.id })).toMatchObject({ code: 'NOT_FOUND', status: 404 });
    expect(await bob.fail(enrollments.roster, { courseId: course.id })).toMatchObject({ status: 403 });
    expect((await owner.call(enrollments.roster, { courseId: course.id })).items.map((r) => r.userId)).toEqual([ann.caller?.userId]);
    expect(await node.anonymous().fail(enrollments.enrol, { courseId: course.id })).toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });
  });

  it('waitlists past capacity and hands a freed seat to the first in line', async () => {
    const course = await publishedCourse({ capacity: 1 });
    const [a, b, c] = [await learner(), await learner(), await learner()];
    expect((await a.call(enrollments.enrol, { courseId: course.id })).status).toBe('active');
    expect(await b.call(enrollments.enrol, { courseId: course.id })).toMatchObject({ status: 'waitlisted', waitlistPosition: 1 });
    expect(await c.call(enrollments.enrol, { courseId: course.id })).toMatchObject({ status: 'waitlisted', waitlistPosition: 2 });
    await a.call(enrollments.drop, { courseId: course.id });
    await eventually(async () => expect((await b.call(enrollments.mine, {})).items[0]?.status).toBe('active'));
    expect((await c.call(enrollments.mine, {})).items[0]).toMatchObject({ status: 'waitlisted', waitlistPosition: 1 });
  });

  it('fails a declined payment with PAYMENT_DECLINED and gives its seat back', async () => {
    const course = await publishedCourse({ capacity: 1 });
    const poor = await learner();
    decline = true;
    expect(await poor.fail(enrollments.enrol, { courseId: course.id })).toMatchObject({ code: 'PAYMENT_DECLINED', status: 402 });
    expect((await poor.call(enrollments.mine, {})).items[0]?.status).toBe('failed');
    decline = false;
    expect((await (await learner()).call(enrollments.enrol, { courseId: course.id })).status).toBe('active');
  });

  it('refuses enrolment once its window closed (fake clock)', async () => {
    const closes = Math.floor(Date.now() / 1000) * 1000 + 3_600_000;
    const course = await publishedCourse({ enrollClosesAt: new Date(closes).toISOString() });
    const late = await learner();
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(closes + 1000);
    expect(await late.fail(enrollments.enrol, { courseId: course.id })).toMatchObject({ code: 'ENROLLMENT_CLOSED', status: 409 });
    vi.setSystemTime(closes - 60_000);
    expect((await (await learner()).call(enrollments.enrol, { courseId: course.id })).status).toBe('active');
  });

  it('tracks progress through the published lessons, in order, to completion', async () => {
    const draft = await owner.call(courses.create, { title: 'Two lessons', category: 'maths', sequential: true });
    const m1 = await owner.call(courses.createModule, { courseId: draft.id, title: 'One' });
    const l1 = await owner.call(courses.createLesson, { moduleId: m1.id, title: 'First', content: { type: 'markdown', body: '# 1' } });
    const m2 = await owner.call(courses.createModule, { courseId: draft.id, title: 'Two' });
    const l2 = await owner.call(courses.createLesson, { moduleId: m2.id, title: 'Second', content: { type: 'markdown', body: '# 2' } });
    await owner.call(courses.publish, { courseId: draft.id });
    const ann = await learner();
    expect(await ann.fail(enrollments.completeLesson, { lessonId: l1.id, courseId: draft.id })).toMatchObject({ code: 'NOT_FOUND', status: 404 });
    await ann.call(enrollments.enrol, { courseId: draft.id });
    expect(await ann.fail(enrollments.completeLesson, { lessonId: l2.id, courseId: draft.id })).toMatchObject({ code: 'LESSON_LOCKED', status: 409 });
    expect(await ann.call(enrollments.completeLesson, { lessonId: l1.id })).toMatchObject({ percent: 50, completedLessons: 1, nextLesson: { id: l2.id } });
    const done = await ann.call(enrollments.completeLesson, { lessonId: l2.id, courseId: draft.id });
    expect(done).toMatchObject({ percent: 100, completedLessons: 2, totalLessons: 2 });
    expect(done.completedAt).not.toBeNull();
    expect((await ann.call(enrollments.mine, {})).items[0]?.status).toBe('completed');
  });
});
