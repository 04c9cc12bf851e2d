/** The gradebook (service `grades`): items, categories, grades, the instructor grid, a learner's own grades, CSV. */
import { z } from 'zod';
import { domain, isoDate, mutation, query } from './core.js';

const courseId = z.uuid();
const points = z.number().min(-1_000_000).max(1_000_000);
const percent = z.number().min(0).max(1000);
const reason = z.string().trim().min(1).max(1000);

export const letterThreshold = z.object({ letter: z.string().trim().min(1).max(20), min: z.number().min(0).max(1000) });
export const gradebookSettings = z
  .object({
    /** weighted: category percents × weights, normalised over categories with grades; natural: points / maximum points. */
    aggregation: z.enum(['weighted', 'natural']),
    /** Missing grades count as 0 (else they are ignored). */
    treatMissingAsZero: z.boolean(),
    /** Weight of uncategorised items, as one implicit category (weighted only). */
    uncategorisedWeight: z.number().min(0).max(1000),
    /** Letter thresholds; a percent gets the letter of the highest threshold it reaches. */
    scale: z.array(letterThreshold).min(1).max(30),
    /** The minimum course percent to pass (used by completion rules); null: none. */
    minimumPassPercent: z.number().min(0).max(100).nullable(),
  })
  .meta({ id: 'GradebookSettings' });

export const gradeCategory = z
  .object({
    id: z.uuid(),
    courseId,
    name: z.string(),
    weight: z.number(),
    dropLowest: z.number().int(),
    aggregation: z.enum(['mean', 'natural']),
  })
  .meta({ id: 'GradeCategory' });

export const gradeItem = z
  .object({
    id: z.uuid(),
    courseId,
    /** manual: entered in the gradebook; quiz/assignment: kept from the assessment's events. */
    source: z.enum(['manual', 'quiz', 'assignment']),
    title: z.string(),
    categoryId: z.uuid().nullable(),
    maxPoints: z.number(),
    extraCredit: z.boolean(),
    excluded: z.boolean(),
    /** Released: every grade of the item is visible to its learner. */
    released: z.boolean(),
    /** Hidden: none is, whatever the assessment said. */
    hidden: z.boolean(),
    dueAt: isoDate.nullable(),
  })
  .meta({ id: 'GradeItem' });

const cell = z.object({
  itemId: z.uuid(),
  points: z.number().nullable(),
  override: z.number().nullable(),
  /** Visible to the learner. */
  visible: z.boolean(),
});

export const gradebookRow = z
  .object({
    userId: z.uuid(),
    /** The learner's display name (an erased learner's pseudonym); null: no profile found. */
    displayName: z.string().nullable(),
    grades: z.array(cell),
    percent: z.number().nullable(),
    letter: z.string().nullable(),
    totalOverride: z.number().nullable(),
  })
  .meta({ id: 'GradebookRow' });

const itemRef = z.object({ itemId: z.uuid() });
const courseRef = z.object({ courseId });
const itemFields = {
  title: z.string().trim().min(1).max(200),
  maxPoints: z.number().min(0).max(100_000),
  categoryId: z.uuid().nullable(),
  extraCredit: z.boolean(),
  excluded: z.boolean(),
};

const historyEntry = z.object({
  id: z.string(),
  itemId: z.uuid().nullable(),
  userId: z.uuid(),
  by: z.uuid().nullable(),
  at: isoDate,
  field: z.enum(['grade', 'override', 'total']),
  before: z.number().nullable(),
  after: z.number().nullable(),
  reason: z.string().nullable(),
  source: z.enum(['manual', 'event', 'import']),
  eventId: z.uuid().nullable(),
});

const importRowError = z.object({ line: z.number().int(), column: z.string().nullable(), message: z.string() });

const notFound = ['NOT_FOUND'] as const;

export const grades = domain('grades', {
  settings: query({
    input: courseRef,
    output: gradebookSettings,
    permission: 'authenticated',
    rest: { method: 'GET', path: '/courses/{courseId}/gradebook/settings' },
    summary: "A course's gradebook settings",
    errors: [...notFound],
  }),
  updateSettings: mutation({
    input: courseRef.extend(gradebookSettings.partial().shape),
    output: gradebookSettings,
    permission: 'authenticated',
    rest: { method: 'PATCH', path: '/courses/{courseId}/gradebook/settings' },
    summary: "Change a course's gradebook settings",
    errors: [...notFound],
  }),
  categories: query({
    input: courseRef,
    output: z.object({ items: z.array(gradeCategory) }),
    permission: 'authenticated',
    rest: { method: 'GET', path: '/courses/{courseId}/gradebook/categories' },
    summary: "A course's grade categories",
    errors: [...notFound],
  }),
  createCategory: mutation({
    input: courseRef.extend({
      name: z.string().trim().min(1).max(200),
      weight: z.number().min(0).max(1000).default(1),
      dropLowest: z.number().int().min(0).max(100).default(0),
      aggregation: z.enum(['mean', 'natural']).default('natural'),
    }),
    output: gradeCategory,
    permission: 'authenticated',
    rest: { method: 'POST', path: '/courses/{courseId}/gradebook/categories', status: 201 },
    summary: 'Add a grade category',
    errors: [...notFound],
  }),
  updateCategory: mutation({
    input: z.object({
      categoryId: z.uuid(),
      name: z.string().trim().min(1).max(200).optional(),
      weight: z.number().min(0).max(1000).optional(),
      dropLowest: z.number().int().min(0).max(100).optional(),
      aggregation: z.enum(['mean', 'natural']).optional(),
    }),
    output: gradeCategory,
    permission: 'authenticated',
    rest: { method: 'PATCH', path: '/gradebook/categories/{categoryId}' },
    summary: 'Change a grade category',
    errors: [...notFound],
  }),
  /** Its items become uncategorised. */
  deleteCategory: mutation({
    input: z.object({ categoryId: z.uuid() }),
    output: z.object({ deleted: z.literal(true) }),
    permission: 'authenticated',
    rest: { method: 'DELETE', path: '/gradebook/categories/{categoryId}' },
    summary: 'Delete a grade category',
    errors: [...notFound],
  }),
  items: query({
    input: courseRef,
    output: z.object({ items: z.array(gradeItem) }),
    permission: 'authenticated',
    rest: { method: 'GET', path: '/courses/{courseId}/gradebook/items' },
    summary: "A course's gradebook items",
    errors: [...notFound],
  }),
  createItem: mutation({
    input: courseRef.extend({
      ...itemFields,
      categoryId: itemFields.categoryId.default(null),
      extraCredit: itemFields.extraCredit.default(false),
      excluded: itemFields.excluded.default(false),
    }),
    output: gradeItem,
    permission: 'authenticated',
    rest: { method: 'POST', path: '/courses/{courseId}/gradebook/items', status: 201 },
    summary: 'Add a manual gradebook item',
    errors: [...notFound],
  }),
  /** Quiz and assignment items: only the category, extra credit and excluded flags change here. */
  updateItem: mutation({
    input: itemRef.extend(z.object(itemFields).partial().shape),
    output: gradeItem,
    permission: 'authenticated',
    rest: { method: 'PATCH', path: '/gradebook/items/{itemId}' },
    summary: 'Change a gradebook item',
    errors: [...notFound, 'CONFLICT'],
  }),
  /** Manual items only (an assessment's item goes with the assessment). */
  deleteItem: mutation({
    input: itemRef,
    output: z.object({ deleted: z.literal(true) }),
    permission: 'authenticated',
    rest: { method: 'DELETE', path: '/gradebook/items/{itemId}' },
    summary: 'Delete a manual gradebook item',
    errors: [...notFound, 'CONFLICT'],
  }),
  /** released: every grade of the item becomes visible to its learner; hidden: none is. */
  releaseItem: mutation({
    input: itemRef.extend({ released: z.boolean() }),
    output: gradeItem,
    permission: 'authenticated',
    rest: { method: 'POST', path: '/gradebook/items/{itemId}/release' },
    summary: "Release or hide an item's grades",
    errors: [...notFound],
  }),
  /** A manual item's grade (null: none). A grade the learner already sees changes only with a reason. */
  setGrade: mutation({
    input: itemRef.extend({ userId: z.uuid(), points: points.nullable(), feedback: z.string().max(10_000).nullable().optional(), reason: reason.optional() }),
    output: cell,
    permission: 'authenticated',
    rest: { method: 'PUT', path: '/gradebook/items/{itemId}/grades/{userId}' },
    summary: 'Enter a grade on a manual item',
    errors: [...notFound, 'CONFLICT', 'GRADE_RELEASED'],
  }),
  /** Override any item's grade (null: remove the override), with a reason. */
  overrideGrade: mutation({
    input: itemRef.extend({ userId: z.uuid(), points: points.nullable(), reason }),
    output: cell,
    permission: 'authenticated',
    rest: { method: 'PUT', path: '/gradebook/items/{itemId}/overrides/{userId}' },
    summary: "Override a learner's grade on an item",
    errors: [...notFound],
  }),
  /** Override a learner's course total (a percent; null: remove), with a reason. */
  overrideTotal: mutation({
    input: courseRef.extend({ userId: z.uuid(), percent: percent.nullable(), reason }),
    output: z.object({ userId: z.uuid(), totalOverride: z.number().nullable() }),
    permission: 'authenticated',
    rest: { method: 'PUT', path: '/courses/{courseId}/gradebook/totals/{userId}' },
    summary: "Override a learner's course total",
    errors: [...notFound],
  }),
  /** The instructor grid: learners (by id) in pages, every item as a column, each learner's total and letter. */
  gradebook: query({
    input: courseRef.extend({
      limit: z.coerce.number().int().min(1).max(200).default(50),
      cursor: z.string().max(200).optional().meta({ description: 'Opaque cursor from the previous page' }),
    }),
    output: z.object({ items: z.array(gradeItem), categories: z.array(gradeCategory), rows: z.array(gradebookRow), nextCursor: z.string().nullable() }),
    permission: 'authenticated',
    rest: { method: 'GET', path: '/courses/{courseId}/gradebook' },
    summary: "A course's gradebook (course graders)",
    errors: [...notFound, 'VALIDATION_FAILED'],
  }),
  /** The caller's own grades in a course: released grades only, with feedback; the total over them. */
  myGrades: query({
    input: courseRef,
    output: z.object({
      grades: z.array(
        z.object({
          itemId: z.uuid(),
          title: z.string(),
          categoryId: z.uuid().nullable(),
          points: z.number().nullable(),
          maxPoints: z.number(),
          percent: z.number().nullable(),
          feedback: z.string().nullable(),
        }),
      ),
      percent: z.number().nullable(),
      letter: z.string().nullable(),
    }),
    permission: 'authenticated',
    rest: { method: 'GET', path: '/courses/{courseId}/grades/me' },
    summary: 'My grades in a course',
    errors: [...notFound],
  }),
  history: query({
    input: courseRef.extend({ userId: z.uuid() }),
    output: z.object({ items: z.array(historyEntry) }),
    permission: 'authenticated',
    rest: { method: 'GET', path: '/courses/{courseId}/gradebook/history' },
    summary: "A learner's grade history (course graders)",
    errors: [...notFound],
  }),
  /** The grid as CSV (RFC 4180); a cell that a spreadsheet would read as a formula is prefixed with an apostrophe. */
  exportCsv: query({
    input: courseRef,
    output: z.object({ csv: z.string() }),
    permission: 'authenticated',
    rest: { method: 'GET', path: '/courses/{courseId}/gradebook/export' },
    summary: 'Export the gradebook as CSV',
    errors: [...notFound],
  }),
  /**
   * Import manual items' grades from CSV (a `userId` column, then one column per item, headed by its id or its exact
   * title). apply=false previews; apply=true applies only when no row has an error (all or nothing, one unit of work).
   */
  importCsv: mutation({
    input: courseRef.extend({ csv: z.string().max(5_000_000), apply: z.boolean().default(false) }),
    output: z.object({
      applied: z.boolean(),
      rows: z.number().int(),
      changes: z.number().int(),
      errors: z.array(importRowError),
    }),
    permission: 'authenticated',
    rest: { method: 'POST', path: '/courses/{courseId}/gradebook/import' },
    summary: 'Import grades from CSV (preview or apply)',
    errors: [...notFound],
  }),
});
