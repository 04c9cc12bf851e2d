import { z } from 'zod';
import { domain, event, isoDate, mutation, page, pageInput, query } from './core.js';

export const courseStatus = z.enum(['draft', 'published']);
const category = z.string().trim().min(1).max(60).regex(/^[\p{L}\p{N} _&-]+$/u, 'letters, digits, spaces, _ & - only');

export const course = z
  .object({
    id: z.uuid(),
    title: z.string(),
    description: z.string(),
    category: z.string(),
    status: courseStatus,
    ownerId: z.uuid(),
    createdAt: isoDate,
    updatedAt: isoDate,
    publishedAt: isoDate.nullable(),
  })
  .meta({ id: 'Course' });
export type Course = z.infer<typeof course>;

const courseId = z.uuid();

export const courses = domain('courses', {
  /** Create a draft course owned by the caller. */
  create: mutation({
    input: z.object({
      title: z.string().trim().min(3).max(200),
      description: z.string().max(20_000).default(''),
      category,
    }),
    output: course,
    permission: 'courses:write',
    rest: { method: 'POST', path: '/courses', status: 201 },
    summary: 'Create a course',
  }),
  /** Change a course's title, description or category (owner or admin). */
  update: mutation({
    input: z.object({
      courseId,
      title: z.string().trim().min(3).max(200).optional(),
      description: z.string().max(20_000).optional(),
      category: category.optional(),
    }),
    output: course,
    permission: 'courses:write',
    rest: { method: 'PATCH', path: '/courses/{courseId}' },
    summary: 'Update a course',
    errors: ['COURSE_NOT_FOUND'],
  }),
  /** One course: published ones for anyone signed in, drafts for their owner and admins. */
  get: query({
    input: z.object({ courseId }),
    output: course,
    permission: 'authenticated',
    rest: { method: 'GET', path: '/courses/{courseId}' },
    summary: 'Get a course',
    errors: ['COURSE_NOT_FOUND'],
  }),
  /** Courses newest first, cursor-paginated; drafts only the caller may see. */
  list: query({
    input: pageInput.extend({
      status: courseStatus.optional(),
      category: z.string().max(60).optional(),
      mine: z
        .union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')])
        .optional()
        .meta({ description: 'Only courses the caller owns' }),
    }),
    output: page(course),
    permission: 'authenticated',
    rest: { method: 'GET', path: '/courses' },
    summary: 'List courses',
  }),
  /** Publish a draft course (owner or admin); emits lms.course.published.v1. */
  publish: mutation({
    input: z.object({ courseId }),
    output: course,
    permission: 'courses:write',
    rest: { method: 'POST', path: '/courses/{courseId}/publish' },
    summary: 'Publish a course',
    errors: ['COURSE_NOT_FOUND', 'COURSE_ALREADY_PUBLISHED'],
  }),
});

export const courseEvents = {
  published: event({
    subject: 'lms.course.published.v1',
    stream: 'LMS_COURSE',
    version: 1,
    summary: 'A course became visible to learners',
    payload: z.object({
      courseId: z.uuid(),
      title: z.string(),
      category: z.string(),
      ownerId: z.uuid(),
      publishedAt: isoDate,
    }),
  }),
};
