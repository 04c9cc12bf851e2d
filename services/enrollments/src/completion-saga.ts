import { assignmentsInternal, attemptsInternal, credentialsInternal, gradesInternal, type AssessmentOutcome, type ErrorCode } from '@lms/contracts';
import { isNotFound, SagaRefusal, type Call, type SagaDefinition, type SagaState, type SagaStore } from '@lms/runtime';
import { consultsGradebook, courseCompletion, lockedModules, passes, recordCompletion, recordLesson, recordUnlocks } from './completion.js';
import type { CompletionData, CompletionRow, CompletionStep, EnrollmentRow, EnrollmentsRepository } from './enrollments.repository.js';
import { computeProgress, type Outline } from './progress.js';

export interface CompletionSagaTypes {
  step: CompletionStep;
  data: CompletionData;
  subject: EnrollmentRow;
  repo: EnrollmentsRepository;
  code: ErrorCode;
}

/** What the completion saga's steps use besides their unit of work. */
export interface CompletionSagaDeps {
  /** The service's repository over the pool (reads before a step's transaction). */
  repo: EnrollmentsRepository;
  call: Call;
  /** The published outline of a course (a call, cached briefly): read in `prepare`, before the step's transaction. */
  outline: (courseId: string) => Promise<Outline>;
  /**
   * The outline `outline` last read for a course, without a call (undefined: none read in this process): what a
   * `commit` uses. A call inside the step's transaction is refused by the runtime (and would hold the transaction open
   * on another service); the step's `prepare` has just read the outline, so this is it, cache expiry or not.
   */
  lastOutline: (courseId: string) => Outline | undefined;
  /** A bound on each remote step (the outcome, the gradebook, the certificate). */
  timeoutMs: number;
}

const refuse = (code: ErrorCode, message: string) => new SagaRefusal<ErrorCode>(code, message);
const seated = (e: EnrollmentRow) => e.status === 'active' || e.status === 'completed';

/** The saga that an assessment event starts: `submitted:<attemptId>`, or `graded:<attemptId>:<gradedAt>` per grade. */
export const completionSagaId = (e: { trigger: 'submitted'; attemptId: string } | { trigger: 'graded'; attemptId: string; gradedAt: string }): string =>
  e.trigger === 'submitted' ? `submitted:${e.attemptId}` : `graded:${e.attemptId}:${e.gradedAt}`;

/**
 * The assessment completion saga (see the engine, @lms/runtime saga.ts, for how each step runs once):
 * validate → score → progress → unlock → complete → certificate.
 * - validate: the attempt (or submission) exists and is this enrolled learner's, in this course, for this assessment;
 *   which lesson it completes, if any.
 * - score: its outcome (attempts scores a submitted quiz here). Not graded yet (a person marks it), or an assignment
 *   grade not released: the saga stays `waiting` at this step ("awaiting grading"); the graded event starts another.
 * Each step reads what it needs from other services in `prepare`; its `commit` (one transaction) calls nothing: it uses
 * the outline its `prepare` read (`lastOutline`).
 * - progress: a pass marks the lesson complete, with `moduleCompleted` for each module that completes (once each).
 * - unlock: `moduleUnlocked` for each module this opened (once per module and learner).
 * - complete: the completion rule (completion.ts) with the gradebook; complete → the enrollment is marked completed and
 *   `courseCompleted` emitted, once (the notifications service sends the message from that event). An enrollment
 *   completed already (the learner's other saga of the attempt, or completeLesson) is skipped.
 * - certificate: a completed enrollment gets its certificate (credentialsInternal.issue, idempotent per learner and
 *   course; the credentials service announces it with `credentialEvents.issued`).
 * Local effects come before the one remote effect, so that an unavailable credentials service delays the certificate,
 * never the learner's progress. Nothing is compensated: a failed saga keeps what it recorded (a pass is a pass).
 */
export function completionSaga(d: CompletionSagaDeps): SagaDefinition<CompletionSagaTypes> {
  const outcomeOf = async (data: CompletionData): Promise<AssessmentOutcome> => {
    const read =
      data.kind === 'quiz'
        ? d.call(attemptsInternal.outcome, { attemptId: data.attemptId })
        : d.call(assignmentsInternal.outcome, { attemptId: data.attemptId });
    return read.catch((err: unknown) => {
      if (isNotFound(err, 'NOT_FOUND')) throw refuse('NOT_FOUND', 'No such attempt or submission');
      throw err;
    });
  };
  /** The outline for a `commit`: the one its `prepare` read (none, in an evicted cache: the step is tried again). */
  const outlineRead = (courseId: string): Outline => {
    const o = d.lastOutline(courseId);
    if (!o) throw new Error(`the outline of course ${courseId} was not read before the step's transaction`);
    return o;
  };
  return {
    name: 'assessment-completion',
    store: completionStore,
    subject: (repo, enrollmentId) => repo.byId(enrollmentId),
    exhaustedCode: 'SERVICE_UNAVAILABLE',
    steps: [
      {
        name: 'validate',
        timeoutMs: d.timeoutMs,
        async prepare({ subject: e, data }) {
          if (!seated(e)) throw refuse('NOT_FOUND', 'The learner is not enrolled in this course');
          const o = await outcomeOf(data);
          if (o.userId !== e.user_id || o.courseId !== e.course_id || o.assessmentId !== data.assessmentId || o.kind !== data.kind)
            throw refuse('NOT_FOUND', 'The attempt is not this learner’s in this course');
          const lesson = (await d.outline(e.course_id)).modules
            .flatMap((m) => m.lessons)
            .find((l) => l.assessment?.kind === data.kind && l.assessment.assessmentId === data.assessmentId);
          return { lessonId: lesson?.id ?? null, passPercent: lesson?.assessment?.passPercent ?? null };
        },
      },
      {
        name: 'score',
        timeoutMs: d.timeoutMs,
        async prepare({ data }) {
          const o = await outcomeOf(data);
          // A quiz's automatic score counts at once; an assignment's grade once released to the learner.
          const awaitingGrading = o.status !== 'graded' || (o.kind === 'assignment' && !o.released);
          return {
            outcome: o.status,
            percent: o.grade?.percent ?? null,
            awaitingGrading,
            passed: !awaitingGrading && passes(o.grade, data.passPercent, o.passed),
          };
        },
        // Awaiting grading: this saga ends here, `waiting` at this step; the graded event starts the next one.
        commit: async ({ data }) => (data.awaitingGrading ? { wait: true } : undefined),
      },
      {
        name: 'progress',
        timeoutMs: d.timeoutMs,
        prepare: async ({ subject: e }) => void (await d.outline(e.course_id)),
        async commit({ subject: e, data, repo, emit }) {
          if (!data.passed || !data.lessonId) return { data: { lessonCompleted: false, modulesCompleted: [], lockedBefore: [] } };
          const outline = outlineRead(e.course_id);
          const before = computeProgress(outline, new Set((await repo.completedLessons(e.id)).map((l) => l.lesson_id)));
          const r = await recordLesson({ repo, emit }, e, outline, data.lessonId);
          return { data: { lessonCompleted: r.lessonCompleted, modulesCompleted: r.modulesCompleted, lockedBefore: lockedModules(before) } };
        },
      },
      {
        name: 'unlock',
        timeoutMs: d.timeoutMs,
        prepare: async ({ subject: e }) => void (await d.outline(e.course_id)),
        async commit({ subject: e, data, repo, emit }) {
          if (!data.lockedBefore?.length) return { data: { modulesUnlocked: [] } };
          const after = computeProgress(outlineRead(e.course_id), new Set((await repo.completedLessons(e.id)).map((l) => l.lesson_id)));
          return { data: { modulesUnlocked: await recordUnlocks({ repo, emit }, e, data.lockedBefore, after) } };
        },
      },
      {
        name: 'complete',
        timeoutMs: d.timeoutMs,
        async prepare({ subject: e }) {
          if (e.status === 'completed') return { incomplete: null }; // completed already: nothing to decide (nor to read)
          const outline = await d.outline(e.course_id);
          const progress = computeProgress(outline, new Set((await d.repo.completedLessons(e.id)).map((l) => l.lesson_id)));
          const grade =
            progress.completedLessons === progress.totalLessons && consultsGradebook(outline)
              ? await d.call(gradesInternal.courseGrade, { courseId: e.course_id, userId: e.user_id })
              : null;
          const c = courseCompletion(progress, grade);
          return { incomplete: c.complete ? null : c.reason };
        },
        async commit({ subject: e, data, repo, emit }) {
          // An enrollment completed already (by this learner's other saga, or completeLesson) is skipped: completion
          // is recorded once, and its prepare read no outline (a fresh process has none to use here).
          if (e.status === 'completed' || data.incomplete !== null) return { data: { courseCompleted: false } };
          return { data: { courseCompleted: (await recordCompletion({ repo, emit }, e, outlineRead(e.course_id).version)) !== undefined } };
        },
      },
      {
        name: 'certificate',
        timeoutMs: d.timeoutMs,
        async prepare({ subject: e }) {
          // Read as it is now: the step before marked it (or an earlier saga, or completeLesson did).
          if (e.status !== 'completed' || !e.completed_at) return {};
          const c = await d.call(credentialsInternal.issue, { courseId: e.course_id, userId: e.user_id, completedAt: e.completed_at.toISOString() });
          return { credentialId: c.credentialId, credentialCreated: c.created };
        },
      },
    ],
    // A failed saga keeps what it recorded; the failure is in its row (status, step, last_error) and the log.
    failed: async () => {},
  };
}

const stateOf = (r: CompletionRow): SagaState<CompletionSagaTypes> => ({
  id: r.id,
  subjectId: r.enrollment_id,
  step: r.step,
  status: r.status,
  attempts: r.attempts,
  nextRunAt: r.next_run_at,
  data: r.data,
});

/** The completion sagas, kept in the `completion_sagas` table. */
function completionStore(repo: EnrollmentsRepository): SagaStore<CompletionSagaTypes> {
  return {
    get: async (id) => {
      const r = await repo.completionSaga(id);
      return r && stateOf(r);
    },
    lockAt: async (id, step) => {
      const r = await repo.lockCompletionAt(id, step);
      return r && stateOf(r);
    },
    advance: (id, step, data, status) => repo.advanceCompletion(id, step, data, status),
    retryLater: (id, attempts, delayMs, error) => repo.retryLater(id, attempts, delayMs, error, 'completion_sagas'),
    due: (limit) => repo.due(limit, 'completion_sagas'),
  };
}
