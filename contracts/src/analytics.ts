import { z } from 'zod';
import { domain, query } from './core.js';

export const analytics = domain('analytics', {
  /** How many courses are published in each category: a projection of lms.course.published.v1. */
  publishedByCategory: query({
    input: z.object({}),
    output: z.object({
      categories: z.array(z.object({ category: z.string(), published: z.number().int() })),
      total: z.number().int(),
    }),
    permission: 'analytics:read',
    rest: { method: 'GET', path: '/analytics/courses/published-by-category' },
    summary: 'Published courses per category',
  }),
  /** Enrollments per course, most first: a projection of lms.enrollment.created.v1. */
  enrollmentsByCourse: query({
    input: z.object({ limit: z.coerce.number().int().min(1).max(100).default(20) }),
    output: z.object({ courses: z.array(z.object({ courseId: z.uuid(), enrolled: z.number().int(), fromWaitlist: z.number().int() })) }),
    permission: 'analytics:read',
    rest: { method: 'GET', path: '/analytics/courses/enrollments' },
    summary: 'Enrollments per course',
  }),
});
