/**
 * Assignments: work a learner hands in (text and/or files), marked by the course staff by rubric or by points,
 * with late penalties, anonymous marking and a marking workflow that ends in release. The shared events and
 * `assignmentsInternal` live in grading.ts.
 */
import { z } from 'zod';
import { domain, isoDate, mutation, page, pageInput, query } from './core.js';

const assignmentId = z.uuid();
const courseId = z.uuid();
const submissionId = z.uuid();

export const submissionTypes = z.enum(['text', 'file', 'both']);

/** Points off per started day or hour late, never below `floorPercent` of the raw grade. */
export const latePolicy = z
  .object({
    per: z.enum(['day', 'hour']),
    percent: z.number().min(0).max(100),
    floorPercent: z.number().min(0).max(100).default(0),
  })
  .meta({ id: 'LatePolicy' });
export type LatePolicy = z.infer<typeof latePolicy>;

const rubricLevelInput = z.object({ title: z.string().min(1).max(200), description: z.string().max(2000).default(''), points: z.number().min(0).max(10_000) });
const rubricCriterionInput = z.object({
  title: z.string().min(1).max(200),
  description: z.string().max(2000).default(''),
  levels: z.array(rubricLevelInput).min(1).max(20),
});
/** As authored: the server gives every criterion and level its id. */
export const rubricInput = z.object({ criteria: z.array(rubricCriterionInput).min(1).max(50) });

export const rubric = z
  .object({
    criteria: z.array(
      z.object({
        id: z.uuid(),
        title: z.string(),
        description: z.string(),
        levels: z.array(z.object({ id: z.uuid(), title: z.string(), description: z.string(), points: z.number() })),
      }),
    ),
  })
  .meta({ id: 'Rubric' });
export type Rubric = z.infer<typeof rubric>;

const settings = {
  title: z.string().min(1).max(200),
  /** Markdown. */
  instructions: z.string().max(100_000),
  submissionTypes,
  dueAt: isoDate.nullable(),
  /** After this, nothing is accepted. Null: open for good. */
  cutoffAt: isoDate.nullable(),
  latePolicy: latePolicy.nullable(),
  allowResubmission: z.boolean(),
  anonymousMarking: z.boolean(),
  /** Learners hand in as a group (the assignment's groups, set by the staff): one submission per group, its grade every member's. */
  groupSubmission: z.boolean(),
  passPercent: z.number().min(0).max(100).nullable(),
  published: z.boolean(),
};

export const assignment = z
  .object({
    id: assignmentId,
    courseId,
    ...settings,
    /** With a rubric: the sum of each criterion's top level. */
    maxPoints: z.number().min(0),
    rubric: rubric.nullable(),
    createdAt: isoDate,
    updatedAt: isoDate,
  })
  .meta({ id: 'Assignment' });
export type Assignment = z.infer<typeof assignment>;

const authored = z.object({
  title: settings.title,
  instructions: settings.instructions.default(''),
  /** Required without a rubric; with one it is computed (and must match if given). */
  maxPoints: z.number().min(0).max(100_000).optional(),
  submissionTypes: submissionTypes.default('text'),
  dueAt: isoDate.nullable().default(null),
  cutoffAt: isoDate.nullable().default(null),
  latePolicy: latePolicy.nullable().default(null),
  allowResubmission: z.boolean().default(false),
  anonymousMarking: z.boolean().default(false),
  groupSubmission: z.boolean().default(false),
  passPercent: z.number().min(0).max(100).nullable().default(null),
  published: z.boolean().default(false),
  rubric: rubricInput.nullable().default(null),
});

export const markingState = z.enum(['not_marked', 'in_marking', 'ready_for_release', 'released']);
export type MarkingState = z.infer<typeof markingState>;

/** A comment anchored to a range [start, end) of the submitted text. */
export const inlineComment = z.object({ start: z.number().int().min(0), end: z.number().int().min(0), comment: z.string().min(1).max(5000) });
export const rubricSelection = z.object({ criterionId: z.uuid(), levelId: z.uuid() });

export const submissionVersion = z.object({
  version: z.number().int().min(1),
  text: z.string().nullable(),
  fileIds: z.array(z.uuid()),
  submittedAt: isoDate,
  late: z.boolean(),
  lateSeconds: z.number().int().min(0),
});

/** A grade as marked: raw (rubric or points), the late penalty applied, the final points. */
export const assignmentGrade = z
  .object({
    rawPoints: z.number(),
    penaltyPercent: z.number(),
    points: z.number(),
    maxPoints: z.number(),
    percent: z.number(),
    passed: z.boolean().nullable(),
    rubric: z.array(rubricSelection).nullable(),
    feedback: z.string().nullable(),
    comments: z.array(inlineComment),
    gradedAt: isoDate,
  })
  .meta({ id: 'AssignmentGrade' });

const groupId = z.uuid();

/** A group of a group assignment, as the staff see it: names of members (null for an erased user or one without a profile). */
export const assignmentGroup = z
  .object({
    id: groupId,
    name: z.string(),
    members: z.array(z.object({ userId: z.uuid(), displayName: z.string().nullable() })),
  })
  .meta({ id: 'AssignmentGroup' });

/** A learner's own submission (their group's, on a group assignment): the grade and feedback only once released. */
export const mySubmission = z
  .object({
    id: submissionId,
    assignmentId,
    /** The group it is the submission of (group assignments), with its members' ids. */
    group: z.object({ id: groupId, name: z.string(), memberIds: z.array(z.uuid()) }).nullable(),
    version: z.number().int(),
    versions: z.array(submissionVersion),
    status: z.enum(['submitted', 'graded']),
    grade: assignmentGrade.nullable(),
  })
  .meta({ id: 'MySubmission' });

/**
 * What the staff see: the learner's name (or the group with its members' names). While marking is anonymous and the
 * grade unreleased: a stable "Participant N" as the name, and no user id, group or member.
 */
export const staffSubmission = z
  .object({
    id: submissionId,
    assignmentId,
    participant: z.string(),
    /** The learner's user id (null: anonymous, or a group's submission). */
    userId: z.uuid().nullable(),
    /** The learner's (or group's) name; "Participant N" while anonymous; null for an erased user. */
    displayName: z.string().nullable(),
    group: assignmentGroup.nullable(),
    state: markingState,
    version: z.number().int(),
    versions: z.array(submissionVersion),
    grade: assignmentGrade.nullable(),
  })
  .meta({ id: 'StaffSubmission' });

export const gradeChange = z.object({
  at: isoDate,
  by: z.uuid(),
  reason: z.string(),
  before: z.object({ rawPoints: z.number().nullable(), points: z.number().nullable(), feedback: z.string().nullable() }),
  after: z.object({ rawPoints: z.number().nullable(), points: z.number().nullable(), feedback: z.string().nullable() }),
});

export const assignments = domain('assignments', {
  create: mutation({
    input: authored.extend({ courseId }),
    output: assignment,
    permission: 'authenticated',
    rest: { method: 'POST', path: '/courses/{courseId}/assignments', status: 201 },
    summary: 'Create an assignment (course:edit)',
    errors: ['NOT_FOUND'],
  }),
  update: mutation({
    input: authored.partial().extend({ assignmentId }),
    output: assignment,
    permission: 'authenticated',
    rest: { method: 'PATCH', path: '/assignments/{assignmentId}' },
    summary: 'Change an assignment (course:edit)',
    errors: ['NOT_FOUND'],
  }),
  delete: mutation({
    input: z.object({ assignmentId }),
    output: z.object({ deleted: z.literal(true) }),
    permission: 'authenticated',
    rest: { method: 'DELETE', path: '/assignments/{assignmentId}' },
    summary: 'Delete an assignment (course:edit)',
    errors: ['NOT_FOUND'],
  }),
  /** Staff see every assignment of their course; enrolled learners the published ones. */
  get: query({
    input: z.object({ assignmentId }),
    output: assignment,
    permission: 'authenticated',
    rest: { method: 'GET', path: '/assignments/{assignmentId}' },
    summary: 'Get an assignment',
    errors: ['NOT_FOUND'],
  }),
  list: query({
    input: z.object({ courseId }),
    output: z.object({ items: z.array(assignment) }),
    permission: 'authenticated',
    rest: { method: 'GET', path: '/courses/{courseId}/assignments' },
    summary: "List a course's assignments",
    errors: ['NOT_FOUND'],
  }),
  /** Hand in (or, where allowed, hand in again) before the cut-off; lateness is measured by the server's clock. */
  submit: mutation({
    input: z.object({ assignmentId, text: z.string().max(200_000).optional(), fileIds: z.array(z.uuid()).max(20).default([]) }),
    output: mySubmission,
    permission: 'authenticated',
    rest: { method: 'POST', path: '/assignments/{assignmentId}/submissions', status: 201 },
    summary: 'Submit an assignment',
    errors: ['NOT_FOUND', 'SUBMISSION_CLOSED', 'NOT_IN_GROUP'],
  }),
  mySubmission: query({
    input: z.object({ assignmentId }),
    output: mySubmission,
    permission: 'authenticated',
    rest: { method: 'GET', path: '/assignments/{assignmentId}/submissions/mine' },
    summary: 'My submission (grade and feedback once released)',
    errors: ['NOT_FOUND', 'NOT_IN_GROUP'],
  }),
  /** The submissions to mark (course:grade), anonymised while marking is anonymous and unreleased. */
  submissions: query({
    input: pageInput.extend({ assignmentId, state: markingState.optional() }),
    output: page(staffSubmission),
    permission: 'authenticated',
    rest: { method: 'GET', path: '/assignments/{assignmentId}/submissions' },
    summary: 'List submissions to mark',
    errors: ['NOT_FOUND'],
  }),
  /**
   * Mark a submission (course:grade): rubric selections (points are their sum) or points, feedback and inline
   * comments. The workflow only moves forward; a released grade changes only with a `reason` (audited).
   */
  grade: mutation({
    input: z.object({
      submissionId,
      rubric: z.array(rubricSelection).max(50).optional(),
      points: z.number().min(0).max(100_000).optional(),
      feedback: z.string().max(100_000).nullable().optional(),
      comments: z.array(inlineComment).max(500).optional(),
      state: z.enum(['in_marking', 'ready_for_release']).optional(),
      reason: z.string().min(1).max(2000).optional(),
    }),
    output: staffSubmission,
    permission: 'authenticated',
    rest: { method: 'PUT', path: '/submissions/{submissionId}/grade' },
    summary: 'Mark a submission',
    errors: ['NOT_FOUND', 'GRADE_RELEASED', 'CONFLICT'],
  }),
  /** Release the grades that are ready (all of them, or those named): learners see them from now on. */
  release: mutation({
    input: z.object({ assignmentId, submissionIds: z.array(z.uuid()).max(1000).optional() }),
    output: z.object({ released: z.array(z.uuid()) }),
    permission: 'authenticated',
    rest: { method: 'POST', path: '/assignments/{assignmentId}/release' },
    summary: 'Release grades',
    errors: ['NOT_FOUND'],
  }),
  /**
   * Set the groups of a group assignment (course:edit), all of them: a group given with its `id` keeps it, one
   * without is new, one left out is deleted (CONFLICT if it has handed in). Members must be learners of the course,
   * each in one group at most.
   */
  setGroups: mutation({
    input: z.object({
      assignmentId,
      groups: z.array(z.object({ id: groupId.optional(), name: z.string().trim().min(1).max(100), memberIds: z.array(z.uuid()).max(100) })).max(200),
    }),
    output: z.object({ items: z.array(assignmentGroup) }),
    permission: 'authenticated',
    rest: { method: 'PUT', path: '/assignments/{assignmentId}/groups' },
    summary: "Set an assignment's groups",
    errors: ['NOT_FOUND', 'CONFLICT'],
  }),
  /** The groups of an assignment with their members' names (course staff). */
  groups: query({
    input: z.object({ assignmentId }),
    output: z.object({ items: z.array(assignmentGroup) }),
    permission: 'authenticated',
    rest: { method: 'GET', path: '/assignments/{assignmentId}/groups' },
    summary: "List an assignment's groups",
    errors: ['NOT_FOUND'],
  }),
  /** Every change of a released grade: who, when, before, after and why (course:grade). */
  gradeChanges: query({
    input: z.object({ submissionId }),
    output: z.object({ items: z.array(gradeChange) }),
    permission: 'authenticated',
    rest: { method: 'GET', path: '/submissions/{submissionId}/grade-changes' },
    summary: 'Changes of a released grade',
    errors: ['NOT_FOUND'],
  }),
});
