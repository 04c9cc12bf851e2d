/**
 * Quiz execution (the `attempts` service): starting an attempt (the server draws its questions), autosaving
 * answers, submitting (by the learner, or by the server at the deadline), review as the quiz's review options
 * allow, per-learner overrides, manual grading, regrades and item statistics. Authoring lives in `assessments`.
 */
import { z } from 'zod';
import { domain, isoDate, mutation, page, pageInput, query } from './core.js';
import { gradeValue } from './grading.js';
import { presentedQuestion, questionResponse, questionTypes } from './questions.js';

const attemptId = z.uuid();
const quizId = z.uuid();
/** A question's position in the attempt (1-based, in the order it is shown). */
const slot = z.coerce.number().int().min(1).max(1000);

export const attemptState = z.enum(['in_progress', 'submitted', 'graded']);

export const attemptQuestion = z
  .object({
    slot: z.number().int(),
    points: z.number(),
    question: presentedQuestion,
    /** The saved answer (null: none yet). */
    response: questionResponse.nullable(),
    /** The saved answer's sequence number: a save with a lower one is stale and ignored. */
    seq: z.number().int(),
    savedAt: isoDate.nullable(),
  })
  .meta({ id: 'AttemptQuestion' });

export const attempt = z
  .object({
    id: z.uuid(),
    quizId: z.uuid(),
    courseId: z.uuid(),
    userId: z.uuid(),
    /** 1 for the first attempt; 0 for a staff preview (counted nowhere). */
    number: z.number().int(),
    preview: z.boolean(),
    state: attemptState,
    startedAt: isoDate,
    /** When the server submits it (time limit and closing time, with the learner's override). Null: none. */
    deadline: isoDate.nullable(),
    submittedAt: isoDate.nullable(),
    /** Submitted by the server at the deadline. */
    auto: z.boolean(),
    /** The server's clock when it answered (clients count down from it, not their own clock). */
    serverTime: isoDate,
    /**
     * A quiz shown one question at a time (`navigation: 'one-at-a-time'`): the slot the learner is on, the only one
     * in `questions` and the only one that takes answers; `next` moves on, never back. Null: every question at once
     * (`all`), and once the attempt is submitted.
     */
    currentSlot: z.number().int().nullable(),
    /** How many questions the attempt has (with one at a time, `questions` holds only the current one). */
    questionCount: z.number().int(),
    questions: z.array(attemptQuestion),
  })
  .meta({ id: 'Attempt' });
export type Attempt = z.infer<typeof attempt>;

/** What review shows of one question; every key-derived field is absent unless the review options allow it. */
export const reviewQuestion = z
  .object({
    slot: z.number().int(),
    question: presentedQuestion,
    response: questionResponse.nullable(),
    maxPoints: z.number(),
    points: z.number().nullable().optional(),
    /** Null: waiting for a person to grade it. */
    correct: z.enum(['correct', 'partial', 'incorrect']).nullable().optional(),
    feedback: z.array(z.string()).optional(),
    generalFeedback: z.string().nullable().optional(),
    rightAnswer: z.string().optional(),
    comment: z.string().nullable().optional(),
  })
  .meta({ id: 'ReviewQuestion' });

export const attemptReview = z
  .object({
    attemptId: z.uuid(),
    state: attemptState,
    /** Null when the review options hide the score (or it is not graded yet). */
    grade: gradeValue.nullable(),
    questions: z.array(reviewQuestion),
  })
  .meta({ id: 'AttemptReview' });

export const quizOverride = z
  .object({
    quizId: z.uuid(),
    userId: z.uuid(),
    /** This learner's closing time instead of the quiz's (an extension). */
    closesAt: isoDate.nullable(),
    extraTimeS: z.number().int(),
    extraAttempts: z.number().int(),
    updatedAt: isoDate,
  })
  .meta({ id: 'QuizOverride' });

export const attemptSummary = z
  .object({
    id: z.uuid(),
    userId: z.uuid(),
    number: z.number().int(),
    state: attemptState,
    startedAt: isoDate,
    submittedAt: isoDate.nullable(),
    auto: z.boolean(),
    grade: gradeValue.nullable(),
    /** Slots waiting for a person to grade them. */
    ungraded: z.array(z.number().int()),
  })
  .meta({ id: 'AttemptSummary' });

export const regrade = z
  .object({
    attemptId: z.uuid(),
    userId: z.uuid(),
    slot: z.number().int(),
    questionId: z.uuid(),
    version: z.number().int(),
    oldPoints: z.number().nullable(),
    newPoints: z.number().nullable(),
    at: isoDate,
    /** key: a key correction rescored the question; manual: a person changed the grade of an attempt already graded. */
    kind: z.enum(['key', 'manual']),
    /** Who changed it (manual; null for a key correction, whose author is in the question's corrections). */
    by: z.uuid().nullable(),
    reason: z.string().nullable(),
  })
  .meta({ id: 'Regrade' });

export const attempts = domain('attempts', {
  /** Starts an attempt (or resumes the open one): the server draws the questions and fixes the deadline. */
  start: mutation({
    input: z.object({ quizId }),
    output: attempt,
    permission: 'authenticated',
    rest: { method: 'POST', path: '/quizzes/{quizId}/attempts', status: 201 },
    summary: 'Start (or resume) a quiz attempt',
    errors: ['NOT_FOUND', 'ASSESSMENT_NOT_OPEN', 'ATTEMPT_LIMIT_REACHED'],
  }),
  get: query({
    input: z.object({ attemptId }),
    output: attempt,
    permission: 'authenticated',
    rest: { method: 'GET', path: '/attempts/{attemptId}' },
    summary: 'Resume an attempt (its owner only)',
    errors: ['NOT_FOUND'],
  }),
  /**
   * Autosave of one answer. A save with `seq` at or below the stored one is stale: ignored (`applied: false`). With
   * `seq` a save is idempotent by itself (a repeat is stale), so it keeps no Idempotency-Key record (`idempotentBy`):
   * autosave runs every few seconds per learner, and the record cost more than the save (issue 14).
   */
  saveAnswer: mutation({
    input: z.object({ attemptId, slot, response: questionResponse, seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional() }),
    idempotentBy: 'seq',
    output: z.object({ slot: z.number().int(), seq: z.number().int(), savedAt: isoDate, applied: z.boolean() }),
    permission: 'authenticated',
    rest: { method: 'PUT', path: '/attempts/{attemptId}/answers/{slot}' },
    summary: 'Save one answer of an attempt',
    errors: ['NOT_FOUND', 'ATTEMPT_CLOSED', 'VALIDATION_FAILED', 'QUESTION_NOT_CURRENT'],
  }),
  /**
   * One question at a time: leaves question `from` (the current one) for the next, never back; what was saved of it
   * stays. A repeat (`from` before the current one) changes nothing and answers the attempt as it is.
   */
  next: mutation({
    input: z.object({ attemptId, from: slot }),
    output: attempt,
    permission: 'authenticated',
    rest: { method: 'POST', path: '/attempts/{attemptId}/next' },
    summary: 'Move on to the next question (one-at-a-time quizzes)',
    errors: ['NOT_FOUND', 'ATTEMPT_CLOSED', 'CONFLICT', 'QUESTION_NOT_CURRENT'],
  }),
  /** Immediate-feedback quizzes: the saved answer's feedback, as the review options show after submitting. */
  checkAnswer: mutation({
    input: z.object({ attemptId, slot }),
    output: reviewQuestion,
    permission: 'authenticated',
    rest: { method: 'POST', path: '/attempts/{attemptId}/answers/{slot}/check' },
    summary: 'Check one answer (immediate feedback)',
    errors: ['NOT_FOUND', 'ATTEMPT_CLOSED', 'FORBIDDEN', 'QUESTION_NOT_CURRENT'],
  }),
  /** Submits once; a repeat (or a submit after the deadline) answers what was submitted. */
  submit: mutation({
    input: z.object({ attemptId }),
    output: attempt,
    permission: 'authenticated',
    rest: { method: 'POST', path: '/attempts/{attemptId}/submit' },
    summary: 'Submit an attempt',
    errors: ['NOT_FOUND'],
  }),
  review: query({
    input: z.object({ attemptId }),
    output: attemptReview,
    permission: 'authenticated',
    rest: { method: 'GET', path: '/attempts/{attemptId}/review' },
    summary: 'Review an attempt (what the review options allow)',
    errors: ['NOT_FOUND'],
  }),
  setOverride: mutation({
    input: z.object({
      quizId,
      userId: z.uuid(),
      closesAt: isoDate.nullable().default(null),
      extraTimeS: z
        .number()
        .int()
        .min(0)
        .max(7 * 86_400)
        .default(0),
      extraAttempts: z.number().int().min(0).max(100).default(0),
    }),
    output: quizOverride,
    permission: 'authenticated',
    rest: { method: 'PUT', path: '/quizzes/{quizId}/overrides/{userId}' },
    summary: "Set a learner's extension, extra time and extra attempts",
    errors: ['NOT_FOUND', 'FORBIDDEN'],
  }),
  listOverrides: query({
    input: z.object({ quizId }),
    output: z.object({ items: z.array(quizOverride) }),
    permission: 'authenticated',
    rest: { method: 'GET', path: '/quizzes/{quizId}/overrides' },
    summary: "A quiz's overrides",
    errors: ['NOT_FOUND', 'FORBIDDEN'],
  }),
  deleteOverride: mutation({
    input: z.object({ quizId, userId: z.uuid() }),
    output: z.object({ deleted: z.boolean() }),
    permission: 'authenticated',
    rest: { method: 'DELETE', path: '/quizzes/{quizId}/overrides/{userId}' },
    summary: "Remove a learner's override",
    errors: ['NOT_FOUND', 'FORBIDDEN'],
  }),
  /** A person grades one manually graded question (essay, file). */
  grade: mutation({
    input: z.object({
      attemptId,
      slot: z.number().int().min(1),
      points: z.number().min(0),
      comment: z.string().max(20_000).nullable().default(null),
      /** Required once the attempt is graded (GRADE_RELEASED without): the change is recorded with it (listRegrades). */
      reason: z.string().trim().min(1).max(2000).optional(),
    }),
    output: attemptSummary,
    permission: 'authenticated',
    rest: { method: 'POST', path: '/attempts/{attemptId}/grade' },
    summary: 'Grade a question of a submitted attempt',
    errors: ['NOT_FOUND', 'FORBIDDEN', 'CONFLICT', 'VALIDATION_FAILED', 'GRADE_RELEASED'],
  }),
  listAttempts: query({
    input: pageInput.extend({ quizId, state: attemptState.optional() }),
    output: page(attemptSummary),
    permission: 'authenticated',
    rest: { method: 'GET', path: '/quizzes/{quizId}/attempts' },
    summary: "A quiz's attempts (staff)",
    errors: ['NOT_FOUND', 'FORBIDDEN', 'BAD_REQUEST'],
  }),
  listRegrades: query({
    input: z.object({ quizId }),
    output: z.object({ items: z.array(regrade) }),
    permission: 'authenticated',
    rest: { method: 'GET', path: '/quizzes/{quizId}/regrades' },
    summary: "A quiz's regrades (staff)",
    errors: ['NOT_FOUND', 'FORBIDDEN'],
  }),
  statistics: query({
    input: z.object({ quizId }),
    output: z.object({
      attempts: z.number().int(),
      alpha: z.number().nullable(),
      questions: z.array(
        z.object({
          questionId: z.uuid(),
          type: z.enum(questionTypes),
          n: z.number().int(),
          facility: z.number().nullable(),
          discrimination: z.number().nullable(),
        }),
      ),
    }),
    permission: 'authenticated',
    rest: { method: 'GET', path: '/quizzes/{quizId}/statistics' },
    summary: "Item statistics of a quiz's first attempts (staff)",
    errors: ['NOT_FOUND', 'FORBIDDEN'],
  }),
});
