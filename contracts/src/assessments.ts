/**
 * Quiz authoring (`assessments`): question banks (per course, shared with other courses), categories, tags,
 * versioned questions with their keys (course staff only), GIFT/QTI import and export, key corrections, and
 * quizzes (settings, sections, slots). Learners see a quiz's summary only; attempts (`attempts`) draw its
 * questions through `assessmentsInternal` (grading.ts).
 */
import { z } from 'zod';
import { domain, isoDate, mutation, page, pageInput, query } from './core.js';
import { quizSettings } from './grading.js';
import { questionBody, questionDraft, questionTypes } from './questions.js';

const courseId = z.uuid();
const bankId = z.uuid();
const questionId = z.uuid();
const quizId = z.uuid();
const name = z.string().trim().min(1).max(200);
const tag = z.string().trim().min(1).max(50);

export const questionBank = z
  .object({
    id: z.uuid(),
    courseId: z.uuid(),
    name: z.string(),
    /** Courses it is shared with (their staff may read and use its questions). */
    sharedWith: z.array(z.uuid()),
    /** Whether the caller may change it (course:edit in its own course). */
    editable: z.boolean(),
    createdAt: isoDate,
  })
  .meta({ id: 'QuestionBank' });

export const questionCategory = z.object({ id: z.uuid(), bankId: z.uuid(), name: z.string(), parentId: z.uuid().nullable() }).meta({ id: 'QuestionCategory' });

/** A question as its authors see it: the current version, with its key. */
export const question = z
  .object({
    id: z.uuid(),
    bankId: z.uuid(),
    categoryId: z.uuid().nullable(),
    version: z.number().int().min(1),
    type: z.enum(questionTypes),
    title: z.string(),
    prompt: z.string(),
    body: questionBody,
    defaultPoints: z.number(),
    generalFeedback: z.string().nullable(),
    tags: z.array(z.string()),
    createdBy: z.uuid().nullable(),
    createdAt: isoDate,
    updatedAt: isoDate,
  })
  .meta({ id: 'Question' });

const questionFields = {
  categoryId: z.uuid().nullable().optional(),
};

const fixedSlot = z.object({ from: z.literal('fixed'), questionId: z.uuid(), points: z.number().positive().max(1000) });
const randomSlot = z.object({
  from: z.literal('random'),
  categoryId: z.uuid(),
  /** Only questions with every one of these tags. */
  tags: z.array(tag).max(10).default([]),
  count: z.number().int().min(1).max(100),
  points: z.number().positive().max(1000),
});
export const quizSlotInput = z.discriminatedUnion('from', [fixedSlot, randomSlot]);
const sectionInput = z.object({ title: z.string().trim().max(200).default(''), slots: z.array(quizSlotInput).max(200) });
const sectionsInput = z.array(sectionInput).max(50);

export const quiz = z
  .object({
    id: z.uuid(),
    courseId: z.uuid(),
    title: z.string(),
    description: z.string(),
    settings: quizSettings,
    published: z.boolean(),
    sections: z.array(
      z.object({
        title: z.string(),
        slots: z.array(
          z.discriminatedUnion('from', [fixedSlot.extend({ slotId: z.uuid() }), randomSlot.extend({ slotId: z.uuid(), tags: z.array(z.string()) })]),
        ),
      }),
    ),
    /** Sum of the slots' points (random slots: points × count). */
    maxPoints: z.number(),
    createdAt: isoDate,
    updatedAt: isoDate,
  })
  .meta({ id: 'Quiz' });

/** What a learner may know of a quiz before starting it: no questions. */
export const quizSummary = z
  .object({
    id: z.uuid(),
    courseId: z.uuid(),
    title: z.string(),
    description: z.string(),
    opensAt: isoDate.nullable(),
    closesAt: isoDate.nullable(),
    timeLimitS: z.number().int().nullable(),
    attemptsAllowed: z.number().int().nullable(),
    navigation: z.enum(['all', 'one-at-a-time']),
    questions: z.number().int(),
    maxPoints: z.number(),
  })
  .meta({ id: 'QuizSummary' });

const importErrors = z.array(z.object({ at: z.string(), message: z.string() }));

export const assessments = domain('assessments', {
  // ------------------------------------------------------------------ banks
  /** A question bank in a course (its editors: course:edit). */
  createBank: mutation({
    input: z.object({ courseId, name }),
    output: questionBank,
    permission: 'authenticated',
    rest: { method: 'POST', path: '/courses/{courseId}/question-banks', status: 201 },
    summary: 'Create a question bank',
    errors: ['NOT_FOUND', 'FORBIDDEN'],
  }),
  /** The banks a course's staff may use: its own and those shared with it. */
  listBanks: query({
    input: z.object({ courseId }),
    output: z.object({ items: z.array(questionBank) }),
    permission: 'authenticated',
    rest: { method: 'GET', path: '/courses/{courseId}/question-banks' },
    summary: 'List question banks of a course',
    errors: ['NOT_FOUND'],
  }),
  getBank: query({
    input: z.object({ bankId }),
    output: questionBank,
    permission: 'authenticated',
    rest: { method: 'GET', path: '/question-banks/{bankId}' },
    summary: 'Get a question bank',
    errors: ['NOT_FOUND'],
  }),
  renameBank: mutation({
    input: z.object({ bankId, name }),
    output: questionBank,
    permission: 'authenticated',
    rest: { method: 'PATCH', path: '/question-banks/{bankId}' },
    summary: 'Rename a question bank',
    errors: ['NOT_FOUND', 'FORBIDDEN'],
  }),
  /** Deletes a bank none of whose questions or categories a quiz uses (IN_USE otherwise). */
  deleteBank: mutation({
    input: z.object({ bankId }),
    output: z.object({ deleted: z.boolean() }),
    permission: 'authenticated',
    rest: { method: 'DELETE', path: '/question-banks/{bankId}' },
    summary: 'Delete an unused question bank',
    errors: ['NOT_FOUND', 'FORBIDDEN', 'IN_USE'],
  }),
  /** Shares a bank with another course: the caller needs course:edit in both. */
  shareBank: mutation({
    input: z.object({ bankId, courseId }),
    output: questionBank,
    permission: 'authenticated',
    rest: { method: 'POST', path: '/question-banks/{bankId}/shares' },
    summary: 'Share a question bank with another course',
    errors: ['NOT_FOUND', 'FORBIDDEN'],
  }),
  createCategory: mutation({
    input: z.object({ bankId, name, parentId: z.uuid().nullable().default(null) }),
    output: questionCategory,
    permission: 'authenticated',
    rest: { method: 'POST', path: '/question-banks/{bankId}/categories', status: 201 },
    summary: 'Create a question category',
    errors: ['NOT_FOUND', 'FORBIDDEN'],
  }),
  listCategories: query({
    input: z.object({ bankId }),
    output: z.object({ items: z.array(questionCategory) }),
    permission: 'authenticated',
    rest: { method: 'GET', path: '/question-banks/{bankId}/categories' },
    summary: 'List question categories',
    errors: ['NOT_FOUND'],
  }),

  // ------------------------------------------------------------------ questions
  /** A question (version 1); its body is checked by the question engine. */
  createQuestion: mutation({
    input: questionDraft.extend({ bankId, ...questionFields }),
    output: question,
    permission: 'authenticated',
    rest: { method: 'POST', path: '/question-banks/{bankId}/questions', status: 201 },
    summary: 'Create a question',
    errors: ['NOT_FOUND', 'FORBIDDEN', 'VALIDATION_FAILED', 'FORMULA_INVALID'],
  }),
  /** Questions of a bank, newest first; filtered by category, tag, type. */
  listQuestions: query({
    input: pageInput.extend({ bankId, categoryId: z.uuid().optional(), tag: tag.optional(), type: z.enum(questionTypes).optional() }),
    output: page(question),
    permission: 'authenticated',
    rest: { method: 'GET', path: '/question-banks/{bankId}/questions' },
    summary: 'List questions',
    errors: ['NOT_FOUND'],
  }),
  /** A question's current version (or `version`), with its key: course staff only. */
  getQuestion: query({
    input: z.object({ questionId, version: z.coerce.number().int().min(1).max(1_000_000).optional() }),
    output: question.extend({ versions: z.array(z.object({ version: z.number().int(), served: z.boolean(), createdAt: isoDate })) }),
    permission: 'authenticated',
    rest: { method: 'GET', path: '/questions/{questionId}' },
    summary: 'Get a question',
    errors: ['NOT_FOUND'],
  }),
  /**
   * Changes a question. Its current version is edited in place until an attempt has been served it; then the
   * change is a new version (attempts keep the version they saw).
   */
  updateQuestion: mutation({
    input: z.object({
      questionId,
      ...questionFields,
      title: questionDraft.shape.title.optional(),
      prompt: questionDraft.shape.prompt.optional(),
      body: questionBody.optional(),
      defaultPoints: z.number().positive().max(1000).optional(),
      generalFeedback: z.string().max(20_000).nullable().optional(),
      tags: z.array(tag).max(20).optional(),
    }),
    output: question,
    permission: 'authenticated',
    rest: { method: 'PATCH', path: '/questions/{questionId}' },
    summary: 'Update a question',
    errors: ['NOT_FOUND', 'FORBIDDEN', 'VALIDATION_FAILED', 'FORMULA_INVALID'],
  }),
  /** Deletes a question no quiz slot names (IN_USE otherwise); its served versions stay for the attempts that saw them. */
  deleteQuestion: mutation({
    input: z.object({ questionId }),
    output: z.object({ deleted: z.boolean() }),
    permission: 'authenticated',
    rest: { method: 'DELETE', path: '/questions/{questionId}' },
    summary: 'Delete a question',
    errors: ['NOT_FOUND', 'FORBIDDEN', 'IN_USE'],
  }),
  /**
   * Corrects a version's key in place (same type): recorded with who, when, why, before and after, and every
   * attempt that saw the version is regraded (lms.assessment.question_corrected.v1).
   */
  correctQuestion: mutation({
    input: z.object({ questionId, version: z.coerce.number().int().min(1).max(1_000_000), body: questionBody, reason: z.string().trim().min(1).max(2000) }),
    output: z.object({ questionId: z.uuid(), version: z.number().int(), correctedAt: isoDate }),
    permission: 'authenticated',
    rest: { method: 'POST', path: '/questions/{questionId}/versions/{version}/correct' },
    summary: "Correct a question version's key",
    errors: ['NOT_FOUND', 'FORBIDDEN', 'VALIDATION_FAILED', 'FORMULA_INVALID'],
  }),
  /** Imports GIFT or QTI 3.0 questions; `$CATEGORY` lines (GIFT) create categories. IMPORT_INVALID when nothing could be read. */
  importQuestions: mutation({
    input: z.object({ bankId, format: z.enum(['gift', 'qti']), text: z.string().min(1).max(2_000_000) }),
    output: z.object({ created: z.number().int(), errors: importErrors }),
    permission: 'authenticated',
    rest: { method: 'POST', path: '/question-banks/{bankId}/import' },
    summary: 'Import questions (GIFT or QTI)',
    errors: ['NOT_FOUND', 'FORBIDDEN', 'IMPORT_INVALID'],
  }),
  /** A bank's questions as GIFT or QTI 3.0; `skipped`: what the format cannot hold. */
  exportQuestions: query({
    input: z.object({ bankId, format: z.enum(['gift', 'qti']).default('gift') }),
    output: z.object({ format: z.enum(['gift', 'qti']), text: z.string(), skipped: z.array(z.object({ title: z.string(), reason: z.string() })) }),
    permission: 'authenticated',
    rest: { method: 'GET', path: '/question-banks/{bankId}/export' },
    summary: 'Export questions (GIFT or QTI)',
    errors: ['NOT_FOUND'],
  }),

  // ------------------------------------------------------------------ quizzes
  createQuiz: mutation({
    input: z.object({
      courseId,
      title: name,
      description: z.string().max(20_000).default(''),
      settings: quizSettings.default(quizSettings.parse({})),
      sections: sectionsInput.default([]),
    }),
    output: quiz,
    permission: 'authenticated',
    rest: { method: 'POST', path: '/courses/{courseId}/quizzes', status: 201 },
    summary: 'Create a quiz',
    errors: ['NOT_FOUND', 'FORBIDDEN', 'VALIDATION_FAILED'],
  }),
  /** A course's quizzes (its staff). */
  listQuizzes: query({
    input: z.object({ courseId }),
    output: z.object({ items: z.array(quiz) }),
    permission: 'authenticated',
    rest: { method: 'GET', path: '/courses/{courseId}/quizzes' },
    summary: 'List quizzes of a course',
    errors: ['NOT_FOUND'],
  }),
  getQuiz: query({
    input: z.object({ quizId }),
    output: quiz,
    permission: 'authenticated',
    rest: { method: 'GET', path: '/quizzes/{quizId}' },
    summary: 'Get a quiz (staff)',
    errors: ['NOT_FOUND'],
  }),
  /** Title, description, settings; `sections` replaces the structure (reorder by sending it in the new order). */
  updateQuiz: mutation({
    input: z.object({
      quizId,
      title: name.optional(),
      description: z.string().max(20_000).optional(),
      settings: quizSettings.optional(),
      sections: sectionsInput.optional(),
    }),
    output: quiz,
    permission: 'authenticated',
    rest: { method: 'PATCH', path: '/quizzes/{quizId}' },
    summary: 'Update a quiz',
    errors: ['NOT_FOUND', 'FORBIDDEN', 'VALIDATION_FAILED'],
  }),
  publishQuiz: mutation({
    input: z.object({ quizId }),
    output: quiz,
    permission: 'authenticated',
    rest: { method: 'POST', path: '/quizzes/{quizId}/publish' },
    summary: 'Publish a quiz',
    errors: ['NOT_FOUND', 'FORBIDDEN', 'VALIDATION_FAILED'],
  }),
  unpublishQuiz: mutation({
    input: z.object({ quizId }),
    output: quiz,
    permission: 'authenticated',
    rest: { method: 'POST', path: '/quizzes/{quizId}/unpublish' },
    summary: 'Unpublish a quiz',
    errors: ['NOT_FOUND', 'FORBIDDEN'],
  }),
  deleteQuiz: mutation({
    input: z.object({ quizId }),
    output: z.object({ deleted: z.boolean() }),
    permission: 'authenticated',
    rest: { method: 'DELETE', path: '/quizzes/{quizId}' },
    summary: 'Delete a quiz',
    errors: ['NOT_FOUND', 'FORBIDDEN'],
  }),
  /** What a learner of the course sees before starting a published quiz: no questions. */
  quizSummary: query({
    input: z.object({ quizId }),
    output: quizSummary,
    permission: 'authenticated',
    rest: { method: 'GET', path: '/quizzes/{quizId}/summary' },
    summary: 'A quiz summary (learners)',
    errors: ['NOT_FOUND'],
  }),
});
