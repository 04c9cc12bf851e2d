import { coursesInternal, enrollmentEvents, notificationEvents, usersInternal, type ErrorCode } from '@lms/contracts';
import type { EnrollmentRow, EnrollmentsRepository, SagaData, SagaRow, SagaStep } from './enrollments.repository.js';

import { isNotFound, SagaRefusal, type Call, type SagaDefinition, type SagaState, type SagaStore } from '@lms/runtime';

/** The payment step's port: a free implementation now; a real provider must honour the idempotency key. */
export interface PaymentProvider {
  charge(req: { idempotencyKey: string; userId: string; courseId: string; amountCents: number }): Promise<{ status: 'paid' | 'declined'; paymentId: string }>;
}
export const freePayments: PaymentProvider = {
  charge(req) {
    return Promise.resolve({ status: 'paid', paymentId: `free:${req.idempotencyKey}` });
  },
};

export type EnrollmentStep = Exclude<SagaStep, 'done'>;
export interface EnrollmentSagaTypes {
  step: EnrollmentStep;
  data: SagaData;
  subject: EnrollmentRow;
  repo: EnrollmentsRepository;
  code: ErrorCode;
}

/** What the enrollment saga's steps use besides their unit of work. */
export interface EnrollmentSagaDeps {
  /** The service's repository over the pool (reads before a step's transaction). */
  repo: EnrollmentsRepository;
  /** Calls other services as this one (internal procedures). */
  call: Call;
  payments: PaymentProvider;
  /** How long the payment provider may take before the attempt counts as failed. */
  paymentTimeoutMs: number;
}

const refuse = (code: ErrorCode, message: string) => new SagaRefusal<ErrorCode>(code, message);

/** The text a failed enrollment shows in `reason`. The code itself is kept in `failure_code`. */
export const failureReason = (code: ErrorCode, message: string) => `${code}: ${message}`.slice(0, 500);
/** The message of a failed enrollment's refusal (its `reason` less the code it starts with). */
export function failureMessage(row: Pick<EnrollmentRow, 'reason' | 'failure_code'>): string {
  const code = row.failure_code ?? '';
  const reason = row.reason ?? '';
  return (reason.startsWith(`${code}: `) ? reason.slice(code.length + 2) : reason) || code;
}

/**
 * The enrollment saga: validate → reserve → payment → record → welcome → analytics (see the engine for how each
 * step runs once). Remote reads (eligibility) and the payment happen before a step's transaction and are safe to
 * repeat (the payment is keyed by the enrollment id). A failure after a seat was taken gives the seat back, or to
 * the first in line (the reserve step's compensation).
 */
export function enrollmentSaga(d: EnrollmentSagaDeps): SagaDefinition<EnrollmentSagaTypes> {
  return {
    name: 'enrollment',
    store: sagaStore,
    subject: (repo, enrollmentId) => repo.byId(enrollmentId),
    exhaustedCode: 'SERVICE_UNAVAILABLE',
    steps: [
      {
        name: 'validate',
        async prepare({ subject: e, data }) {
          const terms = await d.call(coursesInternal.enrollmentTerms, { courseId: e.course_id }).catch((err: unknown) => {
            if (isNotFound(err, 'COURSE_NOT_FOUND')) throw refuse('COURSE_NOT_FOUND', 'No such course');
            throw err;
          });
          const user = await d.call(usersInternal.byId, { id: e.user_id });
          if (user.status !== 'active') throw refuse('ACCOUNT_DEACTIVATED', 'The account is not active');
          // A course the learner could not see does not exist for them.
          if (terms.version < 1 || (terms.visibility === 'private' && !data.byStaff)) throw refuse('COURSE_NOT_FOUND', 'No such course');
          if (terms.status !== 'published') throw refuse('ENROLLMENT_CLOSED', 'The course is not open for enrollment');
          const now = Date.now();
          if (terms.enrollOpensAt && now < Date.parse(terms.enrollOpensAt)) throw refuse('ENROLLMENT_CLOSED', `Enrollment opens at ${terms.enrollOpensAt}`);
          if (terms.enrollClosesAt && now >= Date.parse(terms.enrollClosesAt))
            throw refuse('ENROLLMENT_CLOSED', `Enrollment closed at ${terms.enrollClosesAt}`);
          const done = await d.repo.completedCourses(e.user_id);
          const missing = terms.prerequisites.filter((p) => !done.has(p));
          if (missing.length) throw refuse('PREREQUISITES_NOT_MET', `Complete these courses first: ${missing.join(', ')}`);
          return { email: user.email, displayName: user.displayName, courseTitle: terms.title, capacity: terms.capacity };
        },
      },
      {
        name: 'reserve',
        async commit({ subject: e, data, repo, emit }) {
          if (await repo.takeSeat(e.course_id, data.capacity ?? null)) return { data: { seat: true } };
          // Full: wait in line. A drop hands its seat to the first in line and resumes that saga at payment.
          const { before } = await repo.setStatus(e.id, 'waitlisted', 'COURSE_FULL', null);
          await emit(
            enrollmentEvents.changed,
            { enrollmentId: e.id, courseId: e.course_id, userId: e.user_id, status: 'waitlisted', previous: before.status, reason: 'COURSE_FULL' },
            e.course_id,
          );
          return { wait: true };
        },
        // The seat held (taken here, or handed over by a drop) goes back, or to the first in line.
        async compensate({ subject: e, data, repo, wake }) {
          if (data.seat) {
            const promoted = await repo.releaseSeat(e.course_id);
            if (promoted) wake(promoted);
          }
          return { seat: false };
        },
      },
      {
        name: 'payment',
        timeoutMs: d.paymentTimeoutMs,
        async prepare({ subject: e }) {
          const paid = await d.payments.charge({ idempotencyKey: e.id, userId: e.user_id, courseId: e.course_id, amountCents: 0 });
          if (paid.status === 'declined') throw refuse('PAYMENT_DECLINED', 'The payment was declined');
          return { paymentId: paid.paymentId };
        },
      },
      {
        name: 'record',
        async commit({ subject: e, data, repo, emit }) {
          const { before } = await repo.setStatus(e.id, 'active', null, null);
          await emit(
            enrollmentEvents.changed,
            {
              enrollmentId: e.id,
              courseId: e.course_id,
              userId: e.user_id,
              status: 'active',
              previous: before.status,
              reason: data.promoted ? 'PROMOTED_FROM_WAITLIST' : null,
            },
            e.course_id,
          );
        },
      },
      {
        name: 'welcome',
        async commit({ subject: e, data, emit }) {
          if (!data.email) return;
          await emit(
            notificationEvents.requested,
            {
              userId: e.user_id,
              to: data.email,
              template: data.promoted ? 'waitlist_promoted' : 'enrollment_welcome',
              data: { displayName: data.displayName ?? '', courseTitle: data.courseTitle ?? '', courseId: e.course_id, enrollmentId: e.id },
            },
            e.user_id,
          );
        },
      },
      {
        name: 'analytics',
        async commit({ subject: e, data, emit }) {
          await emit(
            enrollmentEvents.created,
            { enrollmentId: e.id, courseId: e.course_id, userId: e.user_id, promotedFromWaitlist: data.promoted === true },
            e.course_id,
          );
        },
      },
    ],
    // The enrollment fails with the refusal's code (in its own column) and says why in `reason`.
    async failed({ subject: e, repo, emit, failure }) {
      const { before } = await repo.setStatus(e.id, 'failed', failureReason(failure.code, failure.message), null, failure.code);
      await emit(
        enrollmentEvents.changed,
        { enrollmentId: e.id, courseId: e.course_id, userId: e.user_id, status: 'failed', previous: before.status, reason: failure.code },
        e.course_id,
      );
    },
  };
}

const stateOf = (r: SagaRow): SagaState<EnrollmentSagaTypes> => ({
  id: r.id,
  subjectId: r.enrollment_id,
  step: r.step,
  status: r.status,
  attempts: r.attempts,
  nextRunAt: r.next_run_at,
  data: r.data,
});

/** The enrollment sagas, kept in the `sagas` table (the repository's SQL). */
function sagaStore(repo: EnrollmentsRepository): SagaStore<EnrollmentSagaTypes> {
  return {
    get: async (id) => {
      const r = await repo.saga(id);
      return r && stateOf(r);
    },
    lockAt: async (id, step) => {
      const r = await repo.lockAt(id, step);
      return r && stateOf(r);
    },
    advance: (id, step, data, status) => repo.advance(id, step, data, status),
    retryLater: (id, attempts, delayMs, error) => repo.retryLater(id, attempts, delayMs, error),
    due: (limit) => repo.due(limit),
  };
}
