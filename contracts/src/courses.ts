import { z } from 'zod';
import { courseRoles, domain, event, isoDate, mutation, page, pageInput, query } from './core.js';
import { assessmentKind } from './grading.js';

/** draft → in_review → published → archived; a published course keeps a draft working copy for edits. */
export const courseStatus = z.enum(['draft', 'in_review', 'published', 'archived']);
const category = z
  .string()
  .trim()
  .min(1)
  .max(60)
  .regex(/^[\p{L}\p{N} _&-]+$/u, 'letters, digits, spaces, _ & - only');
const tag = z
  .string()
  .trim()
  .toLowerCase()
  .min(1)
  .max(40)
  .regex(/^[\p{L}\p{N} _&-]+$/u, 'letters, digits, spaces, _ & - only');
export const courseLevel = z.enum(['beginner', 'intermediate', 'advanced', 'all']);
export const courseVisibility = z.enum(['public', 'unlisted', 'private']).meta({
  description: 'public: in the catalogue; unlisted: reachable by id or slug; private: staff and enrolled learners only',
});
const slug = z
  .string()
  .trim()
  .toLowerCase()
  .min(3)
  .max(80)
  .regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'lowercase letters and digits, dash-separated');
const language = z.string().regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, 'a BCP 47 language tag such as en or pt-BR');

/** What instructors set about a course besides its content. */
const courseMeta = {
  slug: slug.optional(),
  summary: z.string().max(500).optional(),
  description: z.string().max(20_000).optional(),
  language: language.optional(),
  level: courseLevel.optional(),
  durationMinutes: z.number().int().min(0).max(100_000).optional(),
  categories: z.array(category).max(10).optional(),
  tags: z.array(tag).max(30).optional(),
  coverFileId: z.uuid().nullable().optional(),
  visibility: courseVisibility.optional(),
  enrollOpensAt: isoDate.nullable().optional(),
  enrollClosesAt: isoDate.nullable().optional(),
  capacity: z.number().int().min(1).max(1_000_000).nullable().optional().meta({ description: 'Seats; null: unlimited' }),
  sequential: z.boolean().optional().meta({ description: 'Modules unlock one after the other' }),
  prerequisites: z.array(z.uuid()).max(20).optional().meta({ description: 'Courses a learner must have completed' }),
};

export const course = z
  .object({
    id: z.uuid(),
    title: z.string(),
    slug: z.string(),
    summary: z.string(),
    description: z.string(),
    category: z.string(),
    categories: z.array(z.string()),
    tags: z.array(z.string()),
    language: z.string(),
    level: courseLevel,
    durationMinutes: z.number().int(),
    coverFileId: z.uuid().nullable(),
    visibility: courseVisibility,
    enrollOpensAt: isoDate.nullable(),
    enrollClosesAt: isoDate.nullable(),
    capacity: z.number().int().nullable(),
    sequential: z.boolean(),
    prerequisites: z.array(z.uuid()),
    status: courseStatus,
    /** The last published version (0: never published). Learners see that version, not the working copy. */
    version: z.number().int(),
    /** The working copy differs from the published version. */
    hasUnpublishedChanges: z.boolean(),
    ownerId: z.uuid(),
    createdAt: isoDate,
    updatedAt: isoDate,
    publishedAt: isoDate.nullable(),
  })
  .meta({ id: 'Course' });
export type Course = z.infer<typeof course>;

const courseId = z.uuid();
const moduleId = z.uuid();
const lessonId = z.uuid();

/** Lesson types and what each holds. Markdown is rendered to sanitised HTML when read. */
export const lessonContent = z
  .discriminatedUnion('type', [
    z.object({ type: z.literal('markdown'), body: z.string().max(200_000) }),
    z.object({
      type: z.literal('video'),
      fileId: z.uuid(),
      durationSeconds: z.number().int().min(1).max(86_400),
      completeAtPercent: z.number().int().min(1).max(100).default(90).meta({ description: 'Watched this far, the lesson completes itself' }),
    }),
    z.object({ type: z.literal('file'), fileId: z.uuid() }),
    z.object({ type: z.literal('link'), url: z.url({ protocol: /^https?$/ }).max(2000) }),
    z.object({ type: z.literal('quiz'), quizId: z.uuid(), passPercent: z.number().int().min(0).max(100).default(70) }),
    /** Completes when the learner's grade on the assignment reaches passPercent (see the completion saga). */
    z.object({ type: z.literal('assignment'), assignmentId: z.uuid(), passPercent: z.number().int().min(0).max(100).default(70) }),
    z.object({ type: z.literal('scorm'), packageFileId: z.uuid() }),
  ])
  .meta({ id: 'LessonContent' });
export type LessonContent = z.infer<typeof lessonContent>;

export const lesson = z
  .object({
    id: z.uuid(),
    moduleId: z.uuid(),
    courseId: z.uuid(),
    title: z.string(),
    position: z.string().meta({ description: 'Sort key within the module (fractional index)' }),
    durationMinutes: z.number().int(),
    content: lessonContent,
    html: z.string().nullable().meta({ description: 'Markdown lessons: the body rendered and sanitised' }),
    updatedAt: isoDate,
  })
  .meta({ id: 'Lesson' });
export type Lesson = z.infer<typeof lesson>;

export const courseModule = z
  .object({
    id: z.uuid(),
    courseId: z.uuid(),
    title: z.string(),
    summary: z.string(),
    position: z.string(),
    requires: z.array(z.uuid()).meta({ description: 'Modules to complete first (besides the previous one in a sequential course)' }),
    updatedAt: isoDate,
  })
  .meta({ id: 'Module' });
export type CourseModule = z.infer<typeof courseModule>;

export const courseContent = z
  .object({
    course,
    version: z.union([z.number().int(), z.literal('draft')]).meta({ description: 'The published version shown, or the working copy' }),
    modules: z.array(courseModule.extend({ lessons: z.array(lesson) })),
  })
  .meta({ id: 'CourseContent' });
export type CourseContent = z.infer<typeof courseContent>;

export const courseRole = z.enum(courseRoles as ['owner', 'instructor', 'ta', 'learner']);
export const courseMember = z
  .object({
    userId: z.uuid(),
    /** Lists only: who the member is. Null if the account is gone. */
    displayName: z.string().nullable().optional(),
    /** Lists only, and only for who may manage the course's members (or users): their email. */
    email: z.string().nullable().optional(),
    role: courseRole,
    addedBy: z.uuid().nullable(),
    addedAt: isoDate,
  })
  .meta({ id: 'CourseMember' });

export const courses = domain('courses', {
  /** Create a draft course owned by the caller. */
  create: mutation({
    input: z.object({
      ...courseMeta,
      title: z.string().trim().min(3).max(200),
      category,
    }),
    output: course,
    permission: 'courses:write',
    rest: { method: 'POST', path: '/courses', status: 201 },
    summary: 'Create a course',
    /** CONFLICT: the slug is taken. */
    errors: ['CONFLICT'],
  }),
  /** Change a course's metadata (its owner or instructors, or an admin); learners see it at the next publish. */
  update: mutation({
    input: z.object({
      ...courseMeta,
      courseId,
      title: z.string().trim().min(3).max(200).optional(),
      category: category.optional(),
    }),
    output: course,
    permission: 'authenticated',
    rest: { method: 'PATCH', path: '/courses/{courseId}' },
    summary: 'Update a course',
    errors: ['COURSE_NOT_FOUND', 'CONFLICT'],
  }),
  /**
   * One course: published ones for anyone signed in (private ones for members), as their published version
   * describes them; the working copy for its staff (owner, instructors, TAs) and admins.
   */
  get: query({
    input: z.object({ courseId }),
    output: course,
    permission: 'authenticated',
    rest: { method: 'GET', path: '/courses/{courseId}' },
    summary: 'Get a course',
    errors: ['COURSE_NOT_FOUND'],
  }),
  /**
   * Courses newest first, cursor-paginated: public published ones and those the caller is a learner in (as
   * published), and, as they stand, those where the caller is staff; admins see every course.
   */
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
  /** The course with its modules and lessons: the published version, or (staff, `version=draft`) the working copy. */
  content: query({
    input: z.object({ courseId, version: z.enum(['published', 'draft']).default('published') }),
    output: courseContent,
    permission: 'authenticated',
    rest: { method: 'GET', path: '/courses/{courseId}/content' },
    summary: 'Get course content',
    errors: ['COURSE_NOT_FOUND'],
  }),
  /** Published, public courses for anyone, signed in or not: filters, cursor pages, newest first or by title. */
  catalog: query({
    input: pageInput.extend({
      q: z.string().trim().min(1).max(100).optional().meta({ description: 'Words in the title or summary' }),
      category: z.string().max(60).optional(),
      tag: z.string().max(40).optional(),
      language: z.string().max(20).optional(),
      level: courseLevel.optional(),
      sort: z.enum(['newest', 'title']).default('newest'),
    }),
    output: page(course),
    permission: 'public',
    rest: { method: 'GET', path: '/catalog' },
    summary: 'Browse the catalogue',
    errors: ['BAD_REQUEST'],
  }),
  /** Add a module at the end of the course (or after a given one). */
  createModule: mutation({
    input: z.object({
      courseId,
      title: z.string().trim().min(1).max(200),
      summary: z.string().max(2000).default(''),
      requires: z.array(moduleId).max(20).default([]),
    }),
    output: courseModule,
    permission: 'authenticated',
    rest: { method: 'POST', path: '/courses/{courseId}/modules', status: 201 },
    summary: 'Add a module',
    errors: ['COURSE_NOT_FOUND', 'CONFLICT'],
  }),
  updateModule: mutation({
    input: z.object({
      moduleId,
      title: z.string().trim().min(1).max(200).optional(),
      summary: z.string().max(2000).optional(),
      requires: z.array(moduleId).max(20).optional(),
    }),
    output: courseModule,
    permission: 'authenticated',
    rest: { method: 'PATCH', path: '/modules/{moduleId}' },
    summary: 'Update a module',
    errors: ['NOT_FOUND', 'CONFLICT'],
  }),
  /** Remove a module and its lessons from the working copy (published versions keep them). */
  deleteModule: mutation({
    input: z.object({ moduleId }),
    output: z.object({ deleted: z.literal(true) }),
    permission: 'authenticated',
    rest: { method: 'DELETE', path: '/modules/{moduleId}' },
    summary: 'Delete a module',
    errors: ['NOT_FOUND'],
  }),
  createLesson: mutation({
    input: z.object({
      moduleId,
      title: z.string().trim().min(1).max(200),
      durationMinutes: z.number().int().min(0).max(10_000).default(0),
      content: lessonContent,
    }),
    output: lesson,
    permission: 'authenticated',
    rest: { method: 'POST', path: '/modules/{moduleId}/lessons', status: 201 },
    summary: 'Add a lesson',
    errors: ['NOT_FOUND'],
  }),
  updateLesson: mutation({
    input: z.object({
      lessonId,
      title: z.string().trim().min(1).max(200).optional(),
      durationMinutes: z.number().int().min(0).max(10_000).optional(),
      content: lessonContent.optional(),
    }),
    output: lesson,
    permission: 'authenticated',
    rest: { method: 'PATCH', path: '/lessons/{lessonId}' },
    summary: 'Update a lesson',
    errors: ['NOT_FOUND'],
  }),
  deleteLesson: mutation({
    input: z.object({ lessonId }),
    output: z.object({ deleted: z.literal(true) }),
    permission: 'authenticated',
    rest: { method: 'DELETE', path: '/lessons/{lessonId}' },
    summary: 'Delete a lesson',
    errors: ['NOT_FOUND'],
  }),
  /**
   * Move one module, or one lesson (possibly into another module), between two neighbours. Only the moved
   * row changes: positions are fractional keys.
   */
  reorder: mutation({
    input: z.object({
      courseId,
      moduleId: moduleId.optional(),
      lessonId: lessonId.optional(),
      toModuleId: moduleId.optional().meta({ description: 'Lessons: the module to move into (default: its own)' }),
      after: z.uuid().nullable().optional().meta({ description: 'The sibling it goes after; null or absent: first' }),
    }),
    output: z.object({ id: z.uuid(), position: z.string() }),
    permission: 'authenticated',
    rest: { method: 'POST', path: '/courses/{courseId}/reorder' },
    summary: 'Reorder modules or lessons',
    errors: ['NOT_FOUND', 'BAD_REQUEST'],
  }),
  /** Ask for review: the course waits in `in_review` until someone who may publish does. */
  submitForReview: mutation({
    input: z.object({ courseId }),
    output: course,
    permission: 'authenticated',
    rest: { method: 'POST', path: '/courses/{courseId}/submit-for-review' },
    summary: 'Submit a course for review',
    errors: ['COURSE_NOT_FOUND', 'CONFLICT'],
  }),
  /** Take a course out of the catalogue; enrolled learners keep read access. */
  archive: mutation({
    input: z.object({ courseId }),
    output: course,
    permission: 'authenticated',
    rest: { method: 'POST', path: '/courses/{courseId}/archive' },
    summary: 'Archive a course',
    errors: ['COURSE_NOT_FOUND', 'CONFLICT'],
  }),
  /**
   * Publish the working copy as a new version (its owner or instructors, or an admin): learners see it from now
   * on. Emits lms.course.published.v1.
   */
  publish: mutation({
    input: z.object({ courseId }),
    output: course,
    permission: 'authenticated',
    rest: { method: 'POST', path: '/courses/{courseId}/publish' },
    summary: 'Publish a course',
    errors: ['COURSE_NOT_FOUND', 'COURSE_ALREADY_PUBLISHED', 'CONFLICT'],
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
      version: z.number().int().default(1),
    }),
  }),
  contentUpdated: event({
    subject: 'lms.course.content_updated.v1',
    stream: 'LMS_COURSE',
    version: 1,
    summary: "A course's working copy changed (metadata, a module or a lesson)",
    payload: z.object({
      courseId: z.uuid(),
      kind: z.enum(['course', 'module', 'lesson']),
      id: z.uuid(),
      change: z.enum(['created', 'updated', 'deleted', 'moved']),
      by: z.uuid(),
    }),
  }),
  moduleAdded: event({
    subject: 'lms.course.module_added.v1',
    stream: 'LMS_COURSE',
    version: 1,
    summary: 'A module was added to a course',
    payload: z.object({ courseId: z.uuid(), moduleId: z.uuid(), title: z.string(), by: z.uuid() }),
  }),
  statusChanged: event({
    subject: 'lms.course.status_changed.v1',
    stream: 'LMS_COURSE',
    version: 1,
    summary: 'A course went into review or was archived',
    payload: z.object({ courseId: z.uuid(), status: courseStatus, by: z.uuid() }),
  }),
};

/** Service-to-service: what enrollments and progress need to know about a course. */
export const coursesInternal = domain('courses', {
  /** Whether and how a course can be enrolled in now. */
  enrollmentTerms: query({
    input: z.object({ courseId }),
    output: z.object({
      courseId: z.uuid(),
      title: z.string(),
      status: courseStatus,
      visibility: courseVisibility,
      version: z.number().int(),
      capacity: z.number().int().nullable(),
      enrollOpensAt: isoDate.nullable(),
      enrollClosesAt: isoDate.nullable(),
      prerequisites: z.array(z.uuid()),
    }),
    permission: 'internal',
    summary: 'Enrollment terms of a course',
    errors: ['COURSE_NOT_FOUND'],
  }),
  /** The published structure: modules in order with their lesson ids and completion rules. */
  publishedOutline: query({
    input: z.object({ courseId }),
    output: z.object({
      courseId: z.uuid(),
      title: z.string(),
      version: z.number().int(),
      sequential: z.boolean(),
      modules: z.array(
        z.object({
          id: z.uuid(),
          title: z.string(),
          requires: z.array(z.uuid()),
          lessons: z.array(
            z.object({
              id: z.uuid(),
              title: z.string(),
              type: z.string(),
              completeAtPercent: z.number().int().nullable(),
              /** Quiz and assignment lessons: the assessment whose pass completes the lesson. */
              assessment: z.object({ kind: assessmentKind, assessmentId: z.uuid(), passPercent: z.number() }).nullable().default(null),
            }),
          ),
        }),
      ),
    }),
    permission: 'internal',
    summary: 'Published outline of a course',
    errors: ['COURSE_NOT_FOUND'],
  }),
  /**
   * What search indexes of a course: its published version (metadata, modules, lessons with their markdown), and, for a
   * course never published or not published now, the working copy's metadata only (staff search their drafts). Never the
   * unpublished edits of a published course.
   */
  searchDocument: query({
    input: z.object({ courseId }),
    output: z.object({
      courseId: z.uuid(),
      status: courseStatus,
      visibility: courseVisibility,
      ownerId: z.uuid(),
      /** The working copy's metadata (title, summary, tags…): what a draft is searched by. */
      draft: z.object({ title: z.string(), summary: z.string(), language: z.string(), category: z.string(), tags: z.array(z.string()), updatedAt: isoDate }),
      published: z
        .object({
          version: z.number().int(),
          publishedAt: isoDate,
          course: z.object({
            title: z.string(),
            summary: z.string(),
            description: z.string(),
            category: z.string(),
            tags: z.array(z.string()),
            language: z.string(),
            level: courseLevel,
            durationMinutes: z.number().int(),
          }),
          modules: z.array(
            z.object({
              id: z.uuid(),
              title: z.string(),
              lessons: z.array(z.object({ id: z.uuid(), title: z.string(), type: z.string(), markdown: z.string().nullable() })),
            }),
          ),
        })
        .nullable(),
    }),
    permission: 'internal',
    summary: 'Search document of a course',
    errors: ['COURSE_NOT_FOUND'],
  }),
  /** The course a lesson belongs to (working copy). */
  lessonCourse: query({
    input: z.object({ lessonId }),
    output: z.object({ courseId: z.uuid() }),
    permission: 'internal',
    summary: 'Course of a lesson',
    errors: ['NOT_FOUND'],
  }),
  /**
   * A user's course role (for services that check course-scoped permissions), and whether the course is
   * `visible` to them without admin rights: a course they may not see must not exist for them (404, never 403).
   */
  roleOf: query({
    input: z.object({ courseId, userId: z.uuid() }),
    output: z.object({ role: courseRole.nullable(), exists: z.boolean(), visible: z.boolean() }),
    permission: 'internal',
    summary: "A user's role in a course",
  }),
});
