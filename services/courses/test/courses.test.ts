import { courses } from '@lms/contracts';
import { testNode, type TestNode } from '@lms/runtime/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coursesService } from '../src/index.js';

let node: TestNode;
beforeAll(async () => {
  node = await testNode([coursesService]);
});
afterAll(() => node?.stop());

describe('courses handlers (unit: one service, in-memory database, test verifier)', () => {
  it('creates a draft that only its staff can see', async () => {
    const owner = node.as({ roles: ['instructor'] });
    const c = await owner.call(courses.create, { title: 'Algebra', summary: 'Numbers', category: 'maths' });
    expect(c.status).toBe('draft');
    expect((await owner.call(courses.get, { courseId: c.id })).title).toBe('Algebra');
    const stranger = node.as();
    expect(await stranger.fail(courses.get, { courseId: c.id })).toMatchObject({ code: 'COURSE_NOT_FOUND', status: 404 });
  });

  it('refuses a learner creating a course, and an anonymous caller', async () => {
    expect(await node.as().fail(courses.create, { title: 'Nope', category: 'maths' })).toMatchObject({ code: 'FORBIDDEN', status: 403 });
    expect(await node.anonymous().fail(courses.create, { title: 'Nope', category: 'maths' })).toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });
  });
});
