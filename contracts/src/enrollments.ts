import { z } from 'zod';
import { domain, event, isoDate, mutation, page, pageInput, query } from './core.js';

export const enrollmentStatus = z.enum(['pending', 'waitlisted', 'active', 'completed', 'dropped', 'failed']);
export type EnrollmentStatus = z.infer<typeof enrollmentStatus>;

export const enrollment = z
  .object({
    id: z.uuid(),
    courseId: z.uuid(),
    userId: z.uuid(),
    status: enrollmentStatus,
    /** 1 = next in line, while waitlisted. */
    waitlistPosition: z.number().int().nullable(),
    enrolledAt: isoDate.nullable(),
    completedAt: isoDate.nullable(),
    createdAt: isoDate,
    updatedAt: isoDate,
    /** Why it failed, when it did (e.g. PREREQUISITES_NOT_MET). */
    reason: z.string().nullable(),
  })
  .meta({ id: 'Enrollment' });
export type Enrollment = z.infer<typeof enrollment>;

const lessonState = z.object({ id: z.uuid(), title: z.string(), complete: z.boolean(), unlocked: z.boolean() });
export const courseProgress = z
  .object({
    courseId: z.uuid(),
    version: z.number().int(),
    percent: z.number().min(0).max(100),
    completedLessons: z.number().int(),
    totalLessons: z.number().int(),
    completedAt: isoDate.nullable(),
    nextLesson: z.object({ id: z.uuid(), title: z.string(), moduleId: z.uuid() }).nullable(),
    modules: z.array(z.object({ id: z.uuid(), title: z.string(), complete: z.boolean(), unlocked: z.boolean(), lessons: z.array(lessonState) })),
  })
  .meta({ id: 'CourseProgress' });

const bulkOutcome = z.enum(['enrolled', 'waitlisted', 'already_enrolled', 'unknown_user', 'invalid', 'failed']);

export const enrollments = domain('enrollments', {
  /**
   * Enrol the caller (the enrollment saga): eligibility, a seat (or the waitlist), payment, the record,
   * a welcome message, analytics. Answers once the saga has settled, or `pending` if it is still going.
   */
  enrol: mutation({
    input: z.object({ courseId: z.uuid() }),
    output: enrollment,
    permission: 'authenticated',
    rest: { method: 'POST', path: '/courses/{courseId}/enrollments', status: 201 },
    summary: 'Enrol in a course',
    errors: ['COURSE_NOT_FOUND', 'CONFLICT', 'ENROLLMENT_CLOSED', 'PREREQUISITES_NOT_MET', 'PAYMENT_DECLINED'],
  }),
  /** Leave a course: the seat goes to the first of the waitlist. */
  drop: mutation({
    input: z.object({ courseId: z.uuid() }),
    output: enrollment,
    permission: 'authenticated',
    rest: { method: 'DELETE', path: '/courses/{courseId}/enrollments/me' },
    summary: 'Leave a course',
    errors: ['NOT_FOUND'],
  }),
  /** Enrol many learners by email (course staff who manage members, or admins): a report per row. */
  bulkEnrol: mutation({
    input: z.object({
      courseId: z.uuid(),
      csv: z.string().min(1).max(1_000_000).meta({ description: 'One email per line, or CSV with an `email` column' }),
    }),
    output: z.object({
      rows: z.array(
        z.object({ line: z.number().int(), email: z.string(), outcome: bulkOutcome, enrollmentId: z.uuid().nullable(), message: z.string().nullable() }),
      ),
      summary: z.object(Object.fromEntries(bulkOutcome.options.map((o) => [o, z.number().int()])) as Record<z.infer<typeof bulkOutcome>, z.ZodNumber>),
    }),
    permission: 'authenticated',
    rest: { method: 'POST', path: '/courses/{courseId}/enrollments/bulk' },
    summary: 'Enrol learners in bulk',
    errors: ['COURSE_NOT_FOUND', 'FORBIDDEN'],
  }),
  /** The caller's enrollments, newest first. */
  mine: query({
    input: pageInput.extend({ status: enrollmentStatus.optional() }),
    output: page(enrollment),
    permission: 'authenticated',
    rest: { method: 'GET', path: '/me/enrollments' },
    summary: 'My enrollments',
  }),
  /** An enrollment with its status history: its learner, the course's staff, or an admin. */
  history: query({
    input: z.object({ enrollmentId: z.uuid() }),
    output: z.object({
      enrollment,
      history: z.array(z.object({ status: enrollmentStatus, at: isoDate, reason: z.string().nullable(), by: z.uuid().nullable() })),
    }),
    permission: 'authenticated',
    rest: { method: 'GET', path: '/enrollments/{enrollmentId}' },
    summary: 'Enrollment status history',
    errors: ['NOT_FOUND'],
  }),
  /** Learners of a course with their progress (course staff and admins). */
  roster: query({
    input: pageInput.extend({ courseId: z.uuid(), status: enrollmentStatus.optional() }),
    output: page(
      z.object({
        userId: z.uuid(),
        displayName: z.string().nullable().meta({ description: 'Null if the account is gone' }),
        email: z.string().nullable().optional().meta({ description: "Only for who may manage the course's members (or users)" }),
        enrollmentId: z.uuid(),
        status: enrollmentStatus,
        percent: z.number(),
        lastActivityAt: isoDate.nullable(),
        completedAt: isoDate.nullable(),
        enrolledAt: isoDate.nullable(),
      }),
    ),
    permission: 'authenticated',
    rest: { method: 'GET', path: '/courses/{courseId}/roster' },
    summary: 'Course roster',
    errors: ['COURSE_NOT_FOUND', 'FORBIDDEN'],
  }),
  /**
   * Mark a lesson done (the caller must be enrolled, and the lesson unlocked). A video lesson completes
   * when `watchedPercent` reaches its `completeAtPercent`.
   */
  completeLesson: mutation({
    input: z.object({ lessonId: z.uuid(), courseId: z.uuid().optional(), watchedPercent: z.number().min(0).max(100).optional() }),
    output: courseProgress,
    permission: 'authenticated',
    rest: { method: 'POST', path: '/lessons/{lessonId}/complete' },
    summary: 'Complete a lesson',
    errors: ['NOT_FOUND', 'LESSON_LOCKED', 'LESSON_NEEDS_ASSESSMENT'],
  }),
  /** The caller's progress in a course, by module and lesson, with what is unlocked and what is next. */
  progress: query({
    input: z.object({ courseId: z.uuid() }),
    output: courseProgress,
    permission: 'authenticated',
    rest: { method: 'GET', path: '/courses/{courseId}/progress' },
    summary: 'My progress in a course',
    errors: ['NOT_FOUND'],
  }),
  /** My courses with progress, the next lesson and the last activity. */
  dashboard: query({
    input: z.object({}),
    output: z.object({
      courses: z.array(
        z.object({
          courseId: z.uuid(),
          title: z.string(),
          status: enrollmentStatus,
          percent: z.number(),
          nextLesson: z.object({ id: z.uuid(), title: z.string() }).nullable(),
          lastActivityAt: isoDate.nullable(),
        }),
      ),
    }),
    permission: 'authenticated',
    rest: { method: 'GET', path: '/me/dashboard' },
    summary: 'My dashboard',
  }),
});

/** Service-to-service: who learns in a course (announcements, course updates). */
export const enrollmentsInternal = domain('enrollments', {
  /** Learners holding a seat (active or completed), by user id, in pages. */
  learnerIds: query({
    input: z.object({ courseId: z.uuid(), after: z.uuid().optional(), limit: z.number().int().min(1).max(1000).default(500) }),
    output: z.object({ userIds: z.array(z.uuid()), next: z.uuid().nullable() }),
    permission: 'internal',
    summary: "A course's learners",
  }),
});

const ref = { enrollmentId: z.uuid(), courseId: z.uuid(), userId: z.uuid() };
export const enrollmentEvents = {
  /** The seed's UserEnrolled: a learner holds a seat. */
  created: event({
    subject: 'lms.enrollment.created.v1',
    stream: 'LMS_ENROLLMENT',
    version: 1,
    summary: 'A learner was enrolled (holds a seat)',
    payload: z.object({ ...ref, promotedFromWaitlist: z.boolean() }),
  }),
  changed: event({
    subject: 'lms.enrollment.changed.v1',
    stream: 'LMS_ENROLLMENT',
    version: 1,
    summary: "An enrollment's status changed",
    payload: z.object({ ...ref, status: enrollmentStatus, previous: enrollmentStatus.nullable(), reason: z.string().nullable() }),
  }),
  moduleCompleted: event({
    subject: 'lms.enrollment.module_completed.v1',
    stream: 'LMS_ENROLLMENT',
    version: 1,
    summary: 'A learner completed a module',
    payload: z.object({ ...ref, moduleId: z.uuid() }),
  }),
  courseCompleted: event({
    subject: 'lms.enrollment.course_completed.v1',
    stream: 'LMS_ENROLLMENT',
    version: 1,
    summary: 'A learner completed a course',
    payload: z.object({ ...ref, version: z.number().int() }),
  }),
  /** A module became available to a learner (its prerequisites, or the module before it, are now complete). Once per module. */
  moduleUnlocked: event({
    subject: 'lms.enrollment.module_unlocked.v1',
    stream: 'LMS_ENROLLMENT',
    version: 1,
    summary: 'A module was unlocked for a learner',
    payload: z.object({ ...ref, moduleId: z.uuid() }),
  }),
};
