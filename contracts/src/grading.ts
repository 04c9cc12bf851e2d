/**
 * What the assessment services (quizzes in `assessments`, `assignments`), the gradebook (`grades`), the
 * completion saga (in `enrollments`) and certificates (`credentials`) tell each other: the shared events and
 * the internal procedures they call. Each service's public procedures live in its own file.
 */
import { z } from 'zod';
import { domain, event, isoDate, query, mutation } from './core.js';
import { questionBody, questionTypes } from './questions.js';

export const assessmentKind = z.enum(['quiz', 'assignment']);
export type AssessmentKind = z.infer<typeof assessmentKind>;

const who = { courseId: z.uuid(), userId: z.uuid() };
const what = { kind: assessmentKind, assessmentId: z.uuid() };

/** A learner's grade on one gradable item: points out of maxPoints (extra credit may exceed it). */
export const gradeValue = z.object({ points: z.number(), maxPoints: z.number().min(0), percent: z.number() });

export const assessmentEvents = {
  /**
   * A gradable item was created, changed or removed (its title, points, pass mark, due date). The gradebook
   * keeps one item per assessment from these.
   */
  itemChanged: event({
    subject: 'lms.assessment.item_changed.v1',
    stream: 'LMS_ASSESSMENT',
    version: 1,
    summary: 'A quiz or assignment (a gradable item) was created, changed or deleted',
    payload: z.object({
      ...what,
      courseId: z.uuid(),
      title: z.string(),
      maxPoints: z.number().min(0),
      passPercent: z.number().min(0).max(100).nullable(),
      dueAt: isoDate.nullable(),
      deleted: z.boolean(),
    }),
  }),
  /** The seed's AssessmentSubmitted: an attempt or a submission was handed in (by the learner, or by the deadline). */
  submitted: event({
    subject: 'lms.assessment.submitted.v1',
    stream: 'LMS_ASSESSMENT',
    version: 1,
    summary: 'A quiz attempt or an assignment submission was submitted',
    payload: z.object({
      ...what,
      ...who,
      /** The quiz attempt or the assignment submission. */
      attemptId: z.uuid(),
      submittedAt: isoDate,
      /** Submitted by the server when its deadline passed. */
      auto: z.boolean(),
    }),
  }),
  /**
   * An attempt or a submission has a grade (scored automatically, marked by a person, or regraded). `grade` is
   * the learner's grade on the item now (by the quiz's grading method over all attempts). `released`: the
   * learner may see it; the gradebook shows learners released grades only.
   */
  graded: event({
    subject: 'lms.assessment.graded.v1',
    stream: 'LMS_ASSESSMENT',
    version: 1,
    summary: 'An attempt or a submission was graded (or regraded)',
    payload: z.object({
      ...what,
      ...who,
      attemptId: z.uuid(),
      attempt: gradeValue,
      grade: gradeValue,
      passed: z.boolean().nullable(),
      released: z.boolean(),
      regrade: z.boolean(),
      gradedAt: isoDate,
      feedback: z.string().nullable(),
    }),
  }),

  /**
   * A question version's key was corrected in place (not a new version): every attempt that saw this version
   * is regraded with `body`, and the change recorded.
   */
  questionCorrected: event({
    subject: 'lms.assessment.question_corrected.v1',
    stream: 'LMS_ASSESSMENT',
    version: 1,
    summary: "A question version's key was corrected: attempts that used it are regraded",
    payload: z.object({
      questionId: z.uuid(),
      version: z.number().int(),
      courseId: z.uuid(),
      body: questionBody,
      correctedBy: z.uuid(),
      reason: z.string(),
    }),
  }),
};

export const gradeEvents = {
  /** A grade became visible to its learner (gradebook release, or a released assessment grade). */
  released: event({
    subject: 'lms.grade.released.v1',
    stream: 'LMS_GRADE',
    version: 1,
    summary: 'A grade was released to a learner',
    payload: z.object({ ...who, itemId: z.uuid(), itemTitle: z.string(), percent: z.number().nullable() }),
  }),
};

export const credentialEvents = {
  issued: event({
    subject: 'lms.credential.issued.v1',
    stream: 'LMS_CREDENTIAL',
    version: 1,
    summary: 'A certificate (an Open Badges 3.0 credential) was issued',
    payload: z.object({ ...who, credentialId: z.uuid(), code: z.string() }),
  }),
  revoked: event({
    subject: 'lms.credential.revoked.v1',
    stream: 'LMS_CREDENTIAL',
    version: 1,
    summary: 'A certificate was revoked',
    payload: z.object({ ...who, credentialId: z.uuid(), reason: z.string() }),
  }),
};

/** Where an attempt or a submission stands, for the completion saga. */
const outcome = z.object({
  ...what,
  ...who,
  attemptId: z.uuid(),
  /** submitted: waiting for a person (or the scorer); graded: scored, maybe not released yet. */
  status: z.enum(['in_progress', 'submitted', 'graded']),
  grade: gradeValue.nullable(),
  passed: z.boolean().nullable(),
  released: z.boolean(),
});
export type AssessmentOutcome = z.infer<typeof outcome>;

// ---------------------------------------------------------------- quizzes: authoring (assessments) → execution (attempts)

/** What a learner sees of an attempt, and when. Nothing of a key reaches a client unless these allow it. */
const reviewWhen = z.object({
  score: z.boolean().default(true),
  /** Whether each answer was right. */
  correctness: z.boolean().default(false),
  /** Choice and general feedback. */
  feedback: z.boolean().default(false),
  rightAnswer: z.boolean().default(false),
});
export const reviewOptions = z
  .object({
    /** immediate: a learner may check each answer as they go (and sees the review fields of `afterSubmit` for it); deferred: nothing before submitting. */
    feedback: z.enum(['deferred', 'immediate']).default('deferred'),
    afterSubmit: reviewWhen.default({ score: true, correctness: false, feedback: false, rightAnswer: false }),
    /** Once the quiz has closed for everyone (closesAt passed). */
    afterClose: reviewWhen.default({ score: true, correctness: true, feedback: true, rightAnswer: true }),
  })
  .meta({ id: 'ReviewOptions' });
export type ReviewOptions = z.infer<typeof reviewOptions>;

export const quizSettings = z
  .object({
    opensAt: isoDate.nullable().default(null),
    closesAt: isoDate.nullable().default(null),
    /** Seconds from the start of an attempt; the server submits it at the deadline. Null: no limit. */
    timeLimitS: z
      .number()
      .int()
      .min(30)
      .max(7 * 86_400)
      .nullable()
      .default(null),
    /** Null: unlimited. */
    attemptsAllowed: z.number().int().min(1).max(100).nullable().default(1),
    gradingMethod: z.enum(['highest', 'average', 'first', 'last']).default('highest'),
    passPercent: z.number().min(0).max(100).nullable().default(null),
    shuffleQuestions: z.boolean().default(false),
    navigation: z.enum(['all', 'one-at-a-time']).default('all'),
    review: reviewOptions.default({
      feedback: 'deferred',
      afterSubmit: { score: true, correctness: false, feedback: false, rightAnswer: false },
      afterClose: { score: true, correctness: true, feedback: true, rightAnswer: true },
    }),
  })
  .meta({ id: 'QuizSettings' });
export type QuizSettings = z.infer<typeof quizSettings>;

/** One version of a question, with its key: only services see this. */
export const questionVersion = z.object({
  questionId: z.uuid(),
  version: z.number().int().min(1),
  type: z.enum(questionTypes),
  title: z.string(),
  prompt: z.string(),
  body: questionBody,
  generalFeedback: z.string().nullable(),
});
export type QuestionVersion = z.infer<typeof questionVersion>;

/** A quiz as an attempt starts it: settings and, per slot, the question or the pool to draw from. */
export const quizForAttempt = z.object({
  quizId: z.uuid(),
  courseId: z.uuid(),
  title: z.string(),
  published: z.boolean(),
  settings: quizSettings,
  sections: z.array(
    z.object({
      title: z.string(),
      slots: z.array(
        z.discriminatedUnion('from', [
          z.object({ from: z.literal('fixed'), slotId: z.uuid(), points: z.number().positive(), question: questionVersion }),
          /** Draw `count` distinct questions from `candidates` (a category, filtered by tags); each gets `points`. */
          z.object({
            from: z.literal('random'),
            slotId: z.uuid(),
            points: z.number().positive(),
            count: z.number().int().min(1),
            candidates: z.array(questionVersion),
          }),
        ]),
      ),
    }),
  ),
});
export type QuizForAttempt = z.infer<typeof quizForAttempt>;

/** Service-to-service: quiz authoring. */
export const assessmentsInternal = domain('assessments', {
  /** A quiz's settings and questions (current versions) for starting an attempt; NOT_FOUND for a deleted quiz. */
  quizForAttempt: query({
    input: z.object({ quizId: z.uuid() }),
    output: quizForAttempt,
    permission: 'internal',
    summary: 'A quiz as an attempt starts it',
    errors: ['NOT_FOUND'],
  }),
  /** Question versions by (id, version), with their keys (for review and regrading). */
  questionVersions: query({
    input: z.object({ refs: z.array(z.object({ questionId: z.uuid(), version: z.number().int() })).max(1000) }),
    output: z.object({ versions: z.array(questionVersion) }),
    permission: 'internal',
    summary: 'Question versions with their keys',
  }),
});

/** Service-to-service: quiz attempts. */
export const attemptsInternal = domain('attempts', {
  /** An attempt's state; scores it first if it was submitted and is automatically gradable (idempotent). */
  outcome: mutation({
    input: z.object({ attemptId: z.uuid() }),
    output: outcome,
    permission: 'internal',
    summary: 'Score (if due) and read a quiz attempt',
    errors: ['NOT_FOUND'],
  }),
});

/** Service-to-service: assignments. */
export const assignmentsInternal = domain('assignments', {
  outcome: query({
    input: z.object({ attemptId: z.uuid() }),
    output: outcome,
    permission: 'internal',
    summary: 'Read an assignment submission',
    errors: ['NOT_FOUND'],
  }),
});

/** Service-to-service: the gradebook. */
export const gradesInternal = domain('grades', {
  /** A learner's overall course grade as the gradebook computes it (released and unreleased), for completion rules. */
  courseGrade: query({
    input: z.object(who),
    output: z.object({ percent: z.number().nullable(), letter: z.string().nullable(), minimumPercent: z.number().nullable() }),
    permission: 'internal',
    summary: "A learner's course grade",
  }),
});

/** Service-to-service: certificates. */
export const credentialsInternal = domain('credentials', {
  /** Issue the course certificate to a learner who completed it; idempotent per (user, course). */
  issue: mutation({
    input: z.object({ ...who, completedAt: isoDate }),
    output: z.object({ credentialId: z.uuid(), code: z.string(), created: z.boolean() }),
    permission: 'internal',
    summary: 'Issue a course certificate',
  }),
});
