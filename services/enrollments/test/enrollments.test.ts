/**
 * Enrollments handlers over an in-process broker (unit tier): the courses and users services are stand-ins that
 * answer the internal procedures enrollments calls, so a test can make them fail; the payment provider is injected.
 */
import { randomUUID } from 'node:crypto';
import { coursesInternal, DomainError, enrollments, usersInternal } from '@lms/contracts';
import { defineService } from '@lms/runtime';
import { testNode, type TestNode } from '@lms/runtime/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEnrollmentsService, freePayments } from '../src/index.js';

/** How the stand-ins answer, per test. */
const world = {
  courseId: randomUUID(),
  lessonId: randomUUID(),
  /** `lessonCourse` and `publishedOutline`: answer, say "not found", or fail like an outage. */
  courses: 'ok' as 'ok' | 'not-found' | 'outage',
  payments: freePayments,
};
const outage = () => new Error('connection reset'); // not a domain error: what a timeout or a crash looks like

const fakeCourses = defineService({
  name: 'courses',
  contracts: { ...coursesInternal },
  handlers: {
    roleOf: () => Promise.resolve({ exists: true, visible: true, role: null }),
    searchDocument: () => Promise.reject(new DomainError('COURSE_NOT_FOUND', 'Not in this stand-in')),
    enrollmentTerms: ({ input }) =>
      Promise.resolve({
        courseId: input.courseId,
        title: 'Stand-in',
        status: 'published' as const,
        visibility: 'public' as const,
        version: 1,
        capacity: 1,
        enrollOpensAt: null,
        enrollClosesAt: null,
        prerequisites: [],
      }),
    publishedOutline: ({ input }) => {
      if (world.courses === 'outage') return Promise.reject(outage());
      if (world.courses === 'not-found') return Promise.reject(new DomainError('COURSE_NOT_FOUND', 'No such course'));
      return Promise.resolve({
        courseId: input.courseId,
        title: 'Stand-in',
        version: 1,
        sequential: false,
        modules: [{ id: randomUUID(), title: 'M', requires: [], lessons: [{ id: world.lessonId, title: 'L', type: 'markdown', completeAtPercent: null }] }],
      });
    },
    lessonCourse: () => {
      if (world.courses === 'outage') return Promise.reject(outage());
      if (world.courses === 'not-found') return Promise.reject(new DomainError('NOT_FOUND', 'No such lesson'));
      return Promise.resolve({ courseId: world.courseId });
    },
  },
});

const fakeUsers = defineService({
  name: 'users',
  contracts: { byId: usersInternal.byId },
  handlers: {
    byId: ({ input }) =>
      Promise.resolve({
        id: input.id,
        email: 'learner@example.org',
        displayName: 'Learner',
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

let node: TestNode;
beforeAll(async () => {
  node = await testNode([fakeCourses, fakeUsers, createEnrollmentsService({ payments: { charge: (req) => world.payments.charge(req) } })]);
});
afterAll(() => node?.stop());

describe('enrollments handlers (unit: stand-in courses and users, injected payments)', () => {
  it('answers a declined payment with its code (kept in its own column) and gives the seat back', async () => {
    world.payments = { charge: () => Promise.resolve({ status: 'declined', paymentId: 'no' }) };
    const courseId = randomUUID();
    const learner = node.as();
    expect(await learner.fail(enrollments.enrol, { courseId })).toMatchObject({ code: 'PAYMENT_DECLINED', status: 402, message: 'The payment was declined' });
    const [failed] = (await learner.call(enrollments.mine, { limit: 10 })).items;
    expect(failed).toMatchObject({ status: 'failed', reason: 'PAYMENT_DECLINED: The payment was declined' });
    world.payments = freePayments;
    expect((await node.as().call(enrollments.enrol, { courseId })).status).toBe('active'); // capacity 1: the seat is free
  });

  it('says "no such lesson" only when courses says so; an outage stays an error', async () => {
    world.courses = 'ok';
    const learner = node.as();
    expect((await learner.call(enrollments.enrol, { courseId: world.courseId })).status).toBe('active');
    try {
      world.courses = 'not-found';
      expect(await learner.fail(enrollments.completeLesson, { lessonId: randomUUID() })).toMatchObject({ code: 'NOT_FOUND', message: 'No such lesson' });
      world.courses = 'outage';
      const failure = await learner.fail(enrollments.completeLesson, { lessonId: randomUUID() });
      expect(failure.message).not.toBe('No such lesson');
      expect(failure.code).not.toBe('NOT_FOUND');
    } finally {
      world.courses = 'ok';
    }
  });
});
