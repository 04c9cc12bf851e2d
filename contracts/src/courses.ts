import { z } from 'zod';
import { courseRoles, domain, event, isoDate, mutation, page, pageInput, query } from './core.js';

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
export const courseRole = z.enum(courseRoles as ['owner', 'instructor', 'ta', 'learner']);
export const courseMember = z
  .object({ userId: z.uuid(), role: courseRole, addedBy: z.uuid().nullable(), addedAt: isoDate })
  .meta({ id: 'CourseMember' });

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
  /** Change a course's title, description or category (its owner or instructors, or an admin). */
  update: mutation({
    input: z.object({
      courseId,
      title: z.string().trim().min(3).max(200).optional(),
      description: z.string().max(20_000).optional(),
      category: category.optional(),
    }),
    output: course,
    permission: 'authenticated',
    rest: { method: 'PATCH', path: '/courses/{courseId}' },
    summary: 'Update a course',
    errors: ['COURSE_NOT_FOUND'],
  }),
  /** One course: published ones for anyone signed in, drafts for its staff (owner, instructors, TAs) and admins. */
  get: query({
    input: z.object({ courseId }),
    output: course,
    permission: 'authenticated',
    rest: { method: 'GET', path: '/courses/{courseId}' },
    summary: 'Get a course',
    errors: ['COURSE_NOT_FOUND'],
  }),
  /** Courses newest first, cursor-paginated: published ones, and drafts where the caller is staff. */
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
  /** The course's members and their course roles (its staff and admins). */
  members: query({
    input: pageInput.extend({ courseId, role: courseRole.optional() }),
    output: page(courseMember),
    permission: 'authenticated',
    rest: { method: 'GET', path: '/courses/{courseId}/members' },
    summary: 'List course members',
    errors: ['COURSE_NOT_FOUND'],
  }),
  /**
   * Give a user a role in the course, or change it. The owner (and admins) add instructors and TAs;
   * instructors add TAs and learners. There is one owner.
   */
  addMember: mutation({
    input: z.object({ courseId, userId: z.uuid(), role: courseRole.exclude(['owner']) }),
    output: courseMember,
    permission: 'authenticated',
    rest: { method: 'PUT', path: '/courses/{courseId}/members/{userId}' },
    summary: 'Add or change a course member',
    errors: ['COURSE_NOT_FOUND', 'USER_NOT_FOUND', 'CONFLICT'],
  }),
  /** Take a user's role in the course away (same rules as adding; the owner stays). */
  removeMember: mutation({
    input: z.object({ courseId, userId: z.uuid() }),
    output: z.object({ removed: z.boolean() }),
    permission: 'authenticated',
    rest: { method: 'DELETE', path: '/courses/{courseId}/members/{userId}' },
    summary: 'Remove a course member',
    errors: ['COURSE_NOT_FOUND', 'CONFLICT'],
  }),
  /** Publish a draft course (its owner or instructors, or an admin); emits lms.course.published.v1. */
  publish: mutation({
    input: z.object({ courseId }),
    output: course,
    permission: 'authenticated',
    rest: { method: 'POST', path: '/courses/{courseId}/publish' },
    summary: 'Publish a course',
    errors: ['COURSE_NOT_FOUND', 'COURSE_ALREADY_PUBLISHED'],
  }),
});

export const courseEvents = {
  memberChanged: event({
    subject: 'lms.course.member_changed.v1',
    stream: 'LMS_COURSE',
    version: 1,
    summary: "A user's role in a course was given, changed or taken away",
    payload: z.object({ courseId: z.uuid(), userId: z.uuid(), role: courseRole.nullable(), by: z.uuid() }),
  }),
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
