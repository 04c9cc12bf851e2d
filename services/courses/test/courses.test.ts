import { randomUUID } from 'node:crypto';
import { courses, usersInternal } from '@lms/contracts';
import { testNode, type TestNode } from '@lms/runtime/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usersService } from '../../users/src/index.js';
import { coursesService } from '../src/index.js';

let node: TestNode;
beforeAll(async () => {
  // users: adding a member checks the account exists.
  node = await testNode([coursesService, usersService]);
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

  it('shows learners the published version only, never unpublished edits; staff see the working copy', async () => {
    const owner = node.as({ roles: ['instructor'] });
    const c = await owner.call(courses.create, { title: 'Geometry', category: 'maths' });
    const m = await owner.call(courses.createModule, { courseId: c.id, title: 'Angles' });
    await owner.call(courses.createLesson, { moduleId: m.id, title: 'Right angles', content: { type: 'markdown', body: '**90** degrees' } });
    expect((await owner.call(courses.publish, { courseId: c.id })).status).toBe('published');
    expect(await owner.fail(courses.publish, { courseId: c.id })).toMatchObject({ code: 'COURSE_ALREADY_PUBLISHED' });

    await owner.call(courses.update, { courseId: c.id, title: 'Geometry, revised' });
    await owner.call(courses.createLesson, { moduleId: m.id, title: 'Unpublished lesson', content: { type: 'markdown', body: 'draft' } });
    const learner = node.as();
    expect((await learner.call(courses.get, { courseId: c.id })).title).toBe('Geometry');
    const published = await learner.call(courses.content, { courseId: c.id });
    expect(published.modules[0]?.lessons.map((l) => l.title)).toEqual(['Right angles']);
    expect(published.modules[0]?.lessons[0]?.html).toContain('<strong>90</strong>');
    expect(await learner.fail(courses.content, { courseId: c.id, version: 'draft' })).toMatchObject({ status: 403 });
    expect(await owner.call(courses.get, { courseId: c.id })).toMatchObject({ title: 'Geometry, revised', hasUnpublishedChanges: true });
    expect((await owner.call(courses.content, { courseId: c.id, version: 'draft' })).modules[0]?.lessons).toHaveLength(2);
    // Anyone, signed in or not, finds it in the catalogue as published.
    const found = await node.anonymous().call(courses.catalog, { q: 'Geometry', limit: 50 });
    expect(found.items.find((x) => x.id === c.id)?.title).toBe('Geometry');
    // A learner may see the course but not change it.
    expect(await learner.fail(courses.createLesson, { moduleId: m.id, title: 'Hack', content: { type: 'markdown', body: 'x' } })).toMatchObject({
      code: 'FORBIDDEN',
      status: 403,
    });
  });

  it('moves a course through review and archive only from the right states', async () => {
    const owner = node.as({ roles: ['instructor'] });
    const c = await owner.call(courses.create, { title: 'Workflow', category: 'maths', slug: `workflow-${randomUUID().slice(0, 8)}` });
    expect(await owner.fail(courses.create, { title: 'Same slug', category: 'maths', slug: c.slug ?? undefined })).toMatchObject({
      code: 'CONFLICT',
      status: 409,
    });
    expect(await owner.fail(courses.archive, { courseId: c.id })).toMatchObject({ code: 'CONFLICT', status: 409 });
    expect((await owner.call(courses.submitForReview, { courseId: c.id })).status).toBe('in_review');
    expect(await owner.fail(courses.submitForReview, { courseId: c.id })).toMatchObject({ code: 'CONFLICT', status: 409 });
    await owner.call(courses.publish, { courseId: c.id });
    expect((await owner.call(courses.archive, { courseId: c.id })).status).toBe('archived');
    expect(await owner.fail(courses.publish, { courseId: c.id })).toMatchObject({ code: 'CONFLICT', status: 409 });
    expect(await owner.fail(courses.create, { title: 'x', category: 'maths' })).toMatchObject({ code: 'VALIDATION_FAILED', status: 422 });
  });

  it('lets the owner add staff, checking the account exists; instructors cannot add instructors', async () => {
    const owner = node.as({ roles: ['instructor'] });
    const c = await owner.call(courses.create, { title: 'Team course', category: 'maths' });
    const id = randomUUID();
    await node.internal().call(usersInternal.create, { id, email: `ta.${id.slice(0, 8)}@example.test`, displayName: 'Tessa' });
    expect(await owner.call(courses.addMember, { courseId: c.id, userId: id, role: 'instructor' })).toMatchObject({
      userId: id,
      role: 'instructor',
      addedBy: owner.caller?.userId,
    });
    expect(await owner.fail(courses.addMember, { courseId: c.id, userId: randomUUID(), role: 'ta' })).toMatchObject({ code: 'USER_NOT_FOUND', status: 404 });
    const instructor = node.as({ userId: id, roles: ['instructor'] });
    expect((await instructor.call(courses.get, { courseId: c.id })).id).toBe(c.id); // staff see the draft
    expect((await instructor.fail(courses.addMember, { courseId: c.id, userId: randomUUID(), role: 'instructor' })).status).toBe(403);
    const members = await owner.call(courses.members, { courseId: c.id });
    expect(members.items.map((m) => [m.role, m.displayName])).toEqual(expect.arrayContaining([['instructor', 'Tessa']]));
    expect(await node.as().fail(courses.members, { courseId: c.id })).toMatchObject({ code: 'COURSE_NOT_FOUND', status: 404 });
  });
});
