import { analytics, courses } from '@lms/contracts';
import { coursesService } from '../../courses/src/index.js';
import { eventually, testNode, type TestNode } from '@lms/runtime/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyticsService } from '../src/index.js';

let node: TestNode;
beforeAll(async () => {
  node = await testNode([analyticsService, coursesService]);
});
afterAll(() => node?.stop());

describe('analytics handlers (unit: with courses as the source of events)', () => {
  it('counts published courses per category once the event is projected', async () => {
    const owner = node.as({ roles: ['instructor'] });
    for (const category of ['maths', 'maths', 'music']) {
      const c = await owner.call(courses.create, { title: `A ${category} course`, category });
      await owner.call(courses.publish, { courseId: c.id });
    }
    await owner.call(courses.create, { title: 'A draft', category: 'maths' }); // never published: not counted
    const stats = await eventually(async () => {
      const r = await owner.call(analytics.publishedByCategory, {});
      expect(r.total).toBe(3);
      return r;
    });
    expect(stats.categories).toEqual(
      expect.arrayContaining([
        { category: 'maths', published: 2 },
        { category: 'music', published: 1 },
      ]),
    );
  });

  it('answers enrollments per course as an empty list when nothing was enrolled, and checks the limit', async () => {
    expect(await node.as({ roles: ['admin'] }).call(analytics.enrollmentsByCourse, { limit: 5 })).toEqual({ courses: [] });
    expect(await node.as({ roles: ['admin'] }).fail(analytics.enrollmentsByCourse, { limit: 0 })).toMatchObject({ code: 'VALIDATION_FAILED', status: 422 });
  });

  it('is for analytics readers only', async () => {
    expect(await node.as({ roles: ['learner'] }).fail(analytics.publishedByCategory, {})).toMatchObject({ code: 'FORBIDDEN', status: 403 });
    expect(await node.anonymous().fail(analytics.enrollmentsByCourse, {})).toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });
  });
});
