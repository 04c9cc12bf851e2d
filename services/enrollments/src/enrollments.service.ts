import { randomUUID } from 'node:crypto';
import {
  assessmentEvents,
  coursePermissionsOf,
  coursesInternal,
  DomainError,
  enrollmentEvents,
  enrollments,
  enrollmentsInternal,
  erasureReceipts,
  gradesInternal,
  privacyExportContract,
  userEvents,
  usersInternal,
} from '@lms/contracts';
import {
  absentOn,
  consumerOf,
  decodeCursor,
  defineService,
  encodeCursor,
  errorCode,
  keysetPage,
  retryPolicies,
  SagaRunner,
  type Call,
  type Caller,
} from '@lms/runtime';
import type { Kysely } from 'kysely';
import { enrollmentsEnv } from './config.js';
import { enrollmentSaga, failureMessage, freePayments, type EnrollmentSagaTypes, type EnrollmentStep, type PaymentProvider } from './enrollment-saga.js';
import { EnrollmentsRepository, toEnrollment, type EnrollmentRow, type EnrollmentsDB } from './enrollments.repository.js';

import * as m0 from './migrations/20261124230000_enrollments.js';
import * as m1 from './migrations/20261201000000_failure_code.js';
import { neutralise, parseCsv } from './csv.js';
import { OutlineCache } from './outline-cache.js';
import { computeProgress } from './progress.js';
import * as m2 from './migrations/20261201100000_completion_saga.js';
import { completionSaga, completionSagaId, type CompletionSagaTypes } from './completion-saga.js';
import { consultsGradebook, courseCompletion, lockedModules, recordCompletion, recordLesson, recordUnlocks } from './completion.js';
import type { CompletionData, CompletionStep } from './enrollments.repository.js';

const notEnrolled = () => new DomainError('NOT_FOUND', 'You are not enrolled in this course');
const noSuchEnrollment = () => new DomainError('NOT_FOUND', 'No such enrollment');

/**
 * Course staff (by course role) or admins may see rosters and enrol others. A course the caller may not even
 * see does not exist for them (404); one they see but may not do this in answers 403.
 */
async function staffOf(call: Call, courseId: string, caller: Caller, admin: boolean, permission: 'course:members:read' | 'course:members:manage') {
  const r = await call(coursesInternal.roleOf, { courseId, userId: caller.userId });
  if (!r.exists || !(admin || r.visible)) throw new DomainError('COURSE_NOT_FOUND', 'No such course');
  const perms = coursePermissionsOf(r.role ?? undefined);
  if (!admin && !perms.has(permission)) {
    // Someone with no role at all learns nothing about the course's learners.
    throw new DomainError('FORBIDDEN', 'Only the course staff may do this', { permission });
  }
  /** Whether the caller may see the learners' emails: who manages the course's members, and admins. */
  return { seesEmails: admin || perms.has('course:members:manage') };
}

/** The answer to an enrolment: the enrollment, or the reason it was refused as an error. */
async function settled(repo: EnrollmentsRepository, row: EnrollmentRow | undefined) {
  if (!row) throw noSuchEnrollment(); // erased meanwhile
  if (row.status === 'failed' && row.failure_code) throw new DomainError(row.failure_code, failureMessage(row), { enrollmentId: row.id });
  return toEnrollment(row, await repo.waitlistPosition(row));
}

/** What an enrollments service is built with; tests pass their own. */
export interface EnrollmentsOptions {
  /** The payment step's provider (default: free). */
  payments?: PaymentProvider;
  /** Test hook: runs after each saga step committed (the crash test kills its process there). */
  onStepCommitted?: (step: EnrollmentStep, sagaId: string) => void;
  /** Test hook: runs after each assessment completion saga step committed (its crash test kills its process there). */
  onCompletionStepCommitted?: (step: CompletionStep, sagaId: string) => void;
}

interface EnrollmentsDeps {
  saga: SagaRunner<EnrollmentSagaTypes>;
  completion: SagaRunner<CompletionSagaTypes>;
  outlines: OutlineCache;
}

/** A consumer of this service, typed by its repository and dependencies. */
const on = consumerOf<EnrollmentsDB, EnrollmentsRepository, EnrollmentsDeps>();

/** Enrollments (the enrollment saga, the waitlist), progress and completion. */
export const createEnrollmentsService = (options: EnrollmentsOptions = {}) =>
  defineService({
    name: 'enrollments',
    env: enrollmentsEnv,
    contracts: { ...enrollments, ...enrollmentsInternal, ...privacyExportContract('enrollments') },
    migrations: { '20261124230000_enrollments': m0, '20261201000000_failure_code': m1, '20261201100000_completion_saga': m2 },
    dependencies: ['courses', 'users'],
    repository: (db: Kysely<EnrollmentsDB>) => new EnrollmentsRepository(db),
    deps: (s): EnrollmentsDeps => {
      const outlines = new OutlineCache();
      return {
        saga: new SagaRunner(
          enrollmentSaga({ repo: s.repo, call: s.call, payments: options.payments ?? freePayments, paymentTimeoutMs: s.config.ENROLLMENT_PAYMENT_TIMEOUT_MS }),
          {
            repo: s.repo,
            uow: s.uow,
            logger: s.runtime.logger('enrollments.saga'),
            pollMs: s.config.ENROLLMENT_SAGA_POLL_MS,
            retry: { ...retryPolicies.sagas, maxAttempts: s.config.ENROLLMENT_SAGA_MAX_ATTEMPTS },
            onStepCommitted: options.onStepCommitted,
          },
        ),
        outlines,
        completion: new SagaRunner(
          completionSaga({
            repo: s.repo,
            call: s.call,
            outline: (courseId) => outlines.get(s.call, courseId),
            lastOutline: (courseId) => outlines.last(courseId),
            timeoutMs: 15_000,
          }),
          {
            repo: s.repo,
            uow: s.uow,
            logger: s.runtime.logger('enrollments.completion'),
            pollMs: s.config.ENROLLMENT_SAGA_POLL_MS,
            retry: { ...retryPolicies.sagas, maxAttempts: s.config.ENROLLMENT_SAGA_MAX_ATTEMPTS },
            onStepCommitted: options.onCompletionStepCommitted,
          },
        ),
      };
    },
    started: async ({ saga, completion }) => {
      saga.start();
      completion.start();
    },
    stopped: async ({ saga, completion }) => void (await Promise.all([saga.stop(), completion.stop()])),
    consumers: [
      // The assessment completion saga: one per submitted attempt, and one per grade of it (a regrade is a new one).
      on({
        name: 'assessment-submitted',
        event: assessmentEvents.submitted,
        handle: async ({ payload: p, repo, deps, afterCommit, logger }) => {
          const data: CompletionData = { kind: p.kind, assessmentId: p.assessmentId, attemptId: p.attemptId, trigger: 'submitted' };
          await startCompletion({ repo, deps, afterCommit, logger }, p, completionSagaId({ trigger: 'submitted', attemptId: p.attemptId }), data);
        },
      }),
      on({
        name: 'assessment-graded',
        event: assessmentEvents.graded,
        handle: async ({ payload: p, repo, deps, afterCommit, logger }) => {
          // A learner's progress moves on a grade they may see: a released one, or a quiz's automatic score.
          if (!p.released && p.kind !== 'quiz') return;
          const data: CompletionData = { kind: p.kind, assessmentId: p.assessmentId, attemptId: p.attemptId, trigger: 'graded' };
          await startCompletion(
            { repo, deps, afterCommit, logger },
            p,
            completionSagaId({ trigger: 'graded', attemptId: p.attemptId, gradedAt: p.gradedAt }),
            data,
          );
        },
      }),
      on({
        name: 'user-deleted',
        event: userEvents.deleted,
        handle: async ({ payload: p, repo, emit }) => {
          for (const courseId of await repo.eraseUser(p.userId)) await repo.releaseSeat(courseId);
          await emit(erasureReceipts.enrollments, { requestId: p.requestId, userId: p.userId, service: 'enrollments' }, p.userId);
        },
      }),
    ],
    handlers: {
      async enrol({ input, caller, call, repo, deps: { saga }, uow }) {
        // A course that does not exist, or that the caller may not see, is refused before anything is written:
        // no `failed` row per call for anyone to pile up.
        const course = await call(coursesInternal.roleOf, { courseId: input.courseId, userId: caller.userId });
        if (!course.exists || !course.visible) throw new DomainError('COURSE_NOT_FOUND', 'No such course');
        const id = randomUUID();
        const sagaId = randomUUID();
        const row = await uow(({ repo: r }) => r.start({ id, courseId: input.courseId, userId: caller.userId, sagaId, by: caller.userId }));
        if (!row) {
          const live = await repo.live(input.courseId, caller.userId);
          throw new DomainError('CONFLICT', `You are already ${live?.status === 'waitlisted' ? 'on the waiting list' : 'enrolled'}`, {
            enrollmentId: live?.id,
            status: live?.status,
          });
        }
        // The saga runs here; it survives this process (the sweep resumes it) if the caller gives up waiting.
        await Promise.race([saga.run(sagaId), new Promise((r) => setTimeout(r, 15_000))]);
        return settled(repo, await repo.byId(id));
      },
      async drop({ input, caller, repo, deps: { saga }, uow }) {
        const live = await repo.live(input.courseId, caller.userId);
        if (!live || live.status === 'pending') throw notEnrolled();
        let promoted: string | undefined;
        const after = await uow(async ({ repo: r, emit }) => {
          const { before, after } = await r.setStatus(live.id, 'dropped', 'DROPPED_BY_LEARNER', caller.userId);
          const s = await r.sagaOf(live.id);
          if (s && s.status === 'waiting') await r.advance(s.id, s.step, s.data, 'failed');
          // The seat goes to the first in line, or back to the pool.
          if (before.status === 'active' || before.status === 'completed') promoted = await r.releaseSeat(live.course_id);
          await emit(
            enrollmentEvents.changed,
            { enrollmentId: live.id, courseId: live.course_id, userId: live.user_id, status: 'dropped', previous: before.status, reason: 'DROPPED_BY_LEARNER' },
            live.course_id,
          );
          return after;
        });
        if (promoted) saga.wake(promoted);
        return toEnrollment(after);
      },
      async bulkEnrol({ input, caller, can, call, repo, deps: { saga }, uow }) {
        await staffOf(call, input.courseId, caller, can('courses:read-all'), 'course:members:manage');
        // RFC 4180: quoted fields may hold commas, doubled quotes and line breaks.
        const records = parseCsv(input.csv);
        const header = records[0]?.cells.map((h) => h.trim().toLowerCase());
        const col = header?.includes('email') ? header.indexOf('email') : 0;
        const start = header?.includes('email') ? 1 : 0;
        const rows: Array<{
          line: number;
          email: string;
          outcome: 'enrolled' | 'waitlisted' | 'already_enrolled' | 'unknown_user' | 'invalid' | 'failed';
          enrollmentId: string | null;
          message: string | null;
        }> = [];
        for (const record of records.slice(start)) {
          if (rows.length >= 5000) break;
          const raw = record.cells[col]?.trim() ?? '';
          if (!raw) continue;
          const email = raw.toLowerCase();
          // What the report echoes is neutralised against formula injection (it is often opened in a spreadsheet).
          const row = { line: record.line, email: neutralise(email), enrollmentId: null as string | null, message: null as string | null };
          if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email) || email.length > 254) {
            rows.push({ ...row, outcome: 'invalid', message: 'not an email address' });
            continue;
          }
          const user = await call(usersInternal.byEmail, { email }).catch(absentOn('USER_NOT_FOUND'));
          if (!user) {
            rows.push({ ...row, outcome: 'unknown_user', message: 'no account with this email' });
            continue;
          }
          const id = randomUUID();
          const sagaId = randomUUID();
          const started = await uow(({ repo: r }) => r.start({ id, courseId: input.courseId, userId: user.id, sagaId, by: caller.userId }));
          if (!started) {
            rows.push({ ...row, outcome: 'already_enrolled', enrollmentId: (await repo.live(input.courseId, user.id))?.id ?? null });
            continue;
          }
          await saga.run(sagaId);
          const e = await repo.byId(id);
          rows.push({
            ...row,
            enrollmentId: id,
            outcome: e?.status === 'active' ? 'enrolled' : e?.status === 'waitlisted' ? 'waitlisted' : 'failed',
            message: !e ? 'erased meanwhile' : e.status === 'failed' ? e.reason : e.status === 'pending' ? 'still in progress' : null,
          });
        }
        const summary = { enrolled: 0, waitlisted: 0, already_enrolled: 0, unknown_user: 0, invalid: 0, failed: 0 };
        for (const r of rows) summary[r.outcome]++;
        return { rows, summary };
      },
      async mine({ input, caller, repo }) {
        const rows = await repo.mine({
          userId: caller.userId,
          status: input.status,
          limit: input.limit,
          after: input.cursor ? decodeCursor(input.cursor) : undefined,
        });
        const page = keysetPage(
          rows,
          input.limit,
          (r) => r,
          (r) => encodeCursor(r.created_at.toISOString(), r.id),
        );
        return { items: await Promise.all(page.items.map(async (r) => toEnrollment(r, await repo.waitlistPosition(r)))), nextCursor: page.nextCursor };
      },
      async history({ input, caller, can, call, repo }) {
        const e = await repo.byId(input.enrollmentId);
        if (!e) throw noSuchEnrollment();
        if (e.user_id !== caller.userId) {
          // Someone who may not see the course's learners learns nothing about this enrollment; an outage stays one.
          await staffOf(call, e.course_id, caller, can('courses:read-all'), 'course:members:read').catch((err: unknown) => {
            const code = errorCode(err);
            throw code === 'COURSE_NOT_FOUND' || code === 'FORBIDDEN' ? noSuchEnrollment() : err;
          });
        }
        const h = await repo.historyOf(e.id);
        return {
          enrollment: toEnrollment(e, await repo.waitlistPosition(e)),
          history: h.map((x) => ({ status: x.status, at: x.at.toISOString(), reason: x.reason, by: x.by })),
        };
      },
      async learnerIds({ input, repo }) {
        const ids = await repo.learnerIds(input.courseId, input.after, input.limit);
        return { userIds: ids, next: ids.length === input.limit ? (ids.at(-1) ?? null) : null };
      },
      async roster({ input, caller, can, call, repo }) {
        const { seesEmails } = await staffOf(call, input.courseId, caller, can('courses:read-all'), 'course:members:read');
        const rows = await repo.roster({
          courseId: input.courseId,
          status: input.status,
          limit: input.limit,
          after: input.cursor ? decodeCursor(input.cursor) : undefined,
        });
        // Names (and emails for who may see them) for the whole page in one call.
        const ids = [...new Set(rows.slice(0, input.limit).map((r) => r.user_id))];
        const people = new Map(ids.length ? (await call(usersInternal.summaries, { ids })).items.map((u) => [u.id, u]) : []);
        const withEmail = seesEmails || can('users:manage');
        return keysetPage(
          rows,
          input.limit,
          (r) => ({
            userId: r.user_id,
            displayName: people.get(r.user_id)?.displayName ?? null,
            ...(withEmail && { email: people.get(r.user_id)?.email ?? null }),
            enrollmentId: r.id,
            status: r.status,
            percent: r.percent,
            lastActivityAt: r.last_activity_at?.toISOString() ?? null,
            completedAt: r.completed_at?.toISOString() ?? null,
            enrolledAt: r.enrolled_at?.toISOString() ?? null,
            createdAt: r.created_at.toISOString(),
          }),
          (x) => encodeCursor(x.createdAt, x.enrollmentId),
        );
      },
      async progress({ input, caller, call, repo, deps: { outlines } }) {
        const e = await repo.live(input.courseId, caller.userId);
        if (!e || (e.status !== 'active' && e.status !== 'completed')) throw notEnrolled();
        const outline = await outlines.get(call, input.courseId);
        const done = new Set((await repo.completedLessons(e.id)).map((l) => l.lesson_id));
        return { ...computeProgress(outline, done), completedAt: e.completed_at?.toISOString() ?? null };
      },
      async completeLesson({ input, caller, call, repo, deps: { outlines }, uow }) {
        const courseId = input.courseId ?? (await call(coursesInternal.lessonCourse, { lessonId: input.lessonId }).catch(absentOn('NOT_FOUND')))?.courseId;
        if (!courseId) throw new DomainError('NOT_FOUND', 'No such lesson');
        const e = await repo.live(courseId, caller.userId);
        if (!e || (e.status !== 'active' && e.status !== 'completed')) throw notEnrolled();
        const outline = await outlines.get(call, courseId);
        const done = new Set((await repo.completedLessons(e.id)).map((l) => l.lesson_id));
        const before = computeProgress(outline, done);
        const lesson = before.modules.flatMap((m) => m.lessons).find((l) => l.id === input.lessonId);
        if (!lesson) throw new DomainError('NOT_FOUND', 'No such lesson in the published course');
        // Sequential unlocks and module prerequisites are enforced here, not only shown.
        if (!lesson.unlocked) throw new DomainError('LESSON_LOCKED', 'Complete the modules before this one first');
        // A video completes itself once watched far enough; the player reports how far.
        const rule = outline.modules.flatMap((m) => m.lessons).find((l) => l.id === input.lessonId);
        if (rule?.type === 'video' && rule.completeAtPercent !== null && (input.watchedPercent ?? 0) < rule.completeAtPercent) {
          throw new DomainError('VALIDATION_FAILED', `Invalid input: watchedPercent: watch at least ${rule.completeAtPercent}% of the video`, {
            issues: [{ path: 'watchedPercent', message: `at least ${rule.completeAtPercent}`, code: 'too_small' }],
          });
        }
        // A quiz or assignment lesson completes when its assessment is passed (the completion saga), not by hand.
        if (rule?.assessment)
          throw new DomainError('LESSON_NEEDS_ASSESSMENT', `Pass the ${rule.assessment.kind} to complete this lesson`, {
            kind: rule.assessment.kind,
            assessmentId: rule.assessment.assessmentId,
            passPercent: rule.assessment.passPercent,
          });
        done.add(input.lessonId);
        const projected = computeProgress(outline, done);
        // The completion rule (completion.ts): the gradebook is asked only once every lesson is done, and only for graded courses.
        const grade =
          projected.completedLessons === projected.totalLessons && consultsGradebook(outline)
            ? await call(gradesInternal.courseGrade, { courseId, userId: e.user_id })
            : null;
        const completes = courseCompletion(projected, grade).complete;
        const { after, completedAt } = await uow(async (w) => {
          const r = await recordLesson(w, e, outline, input.lessonId);
          await recordUnlocks(w, e, lockedModules(before), r.after);
          // Completion is sticky: lessons added later lower the percentage, not the completion.
          const at = completes ? await recordCompletion(w, e, outline.version) : undefined;
          return { after: r.after, completedAt: at ?? e.completed_at };
        });
        return { ...after, completedAt: completedAt?.toISOString() ?? null };
      },
      async dashboard({ caller, call, repo, deps: { outlines } }) {
        const rows = (await repo.mine({ userId: caller.userId, limit: 200 })).filter(
          (r) => r.status === 'active' || r.status === 'completed' || r.status === 'waitlisted',
        );
        const courses = await Promise.all(
          rows.map(async (r) => {
            // A course no longer published shows without a title or next lesson; an outage fails the dashboard.
            const outline = await outlines.get(call, r.course_id).catch(absentOn('COURSE_NOT_FOUND'));
            let nextLesson: { id: string; title: string } | null = null;
            const title = outline?.title ?? '';
            if (outline) {
              if (r.status !== 'waitlisted') {
                const p = computeProgress(outline, new Set((await repo.completedLessons(r.id)).map((l) => l.lesson_id)));
                nextLesson = p.nextLesson ? { id: p.nextLesson.id, title: p.nextLesson.title } : null;
              }
            }
            return {
              courseId: r.course_id,
              title,
              status: r.status,
              percent: r.percent,
              nextLesson,
              lastActivityAt: r.last_activity_at?.toISOString() ?? null,
            };
          }),
        );
        return { courses };
      },
      async privacyExport({ input, repo }) {
        return { data: await repo.exportUser(input.userId) };
      },
    },
  });

/** The enrollments service with the free payment provider. */
export const enrollmentsService = createEnrollmentsService();

export type { EnrollmentsDB };

/** Starts the completion saga of an assessment event for the learner's live enrollment (none: nothing to complete). */
async function startCompletion(
  w: { repo: EnrollmentsRepository; deps: EnrollmentsDeps; afterCommit: (fn: () => void) => void; logger: { info: (o: object, msg: string) => void } },
  p: { courseId: string; userId: string; attemptId: string },
  sagaId: string,
  data: CompletionData,
): Promise<void> {
  const e = await w.repo.live(p.courseId, p.userId);
  if (!e || (e.status !== 'active' && e.status !== 'completed')) {
    w.logger.info({ courseId: p.courseId, userId: p.userId, attemptId: p.attemptId }, 'assessment event of a learner not enrolled: no completion saga');
    return;
  }
  if (await w.repo.startCompletion({ id: sagaId, enrollmentId: e.id, data })) w.afterCommit(() => w.deps.completion.wake(sagaId));
}
