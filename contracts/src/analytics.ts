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
});
