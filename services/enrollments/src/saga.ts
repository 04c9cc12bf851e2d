import { coursesInternal, DomainError, enrollmentEvents, notificationEvents, usersInternal, type ErrorCode } from '@lms/contracts';
import { addToOutbox, detached, type Logger, type Runtime } from '@lms/runtime';
import type { Kysely, Transaction } from 'kysely';
import type { z } from 'zod';
import { EnrollmentsRepository, type EnrollmentsDB, type SagaData, type SagaRow, type SagaStep } from './enrollments.repository.js';

/** The payment step's port: a free implementation now; a real provider must honour the idempotency key. */
export interface PaymentProvider {
  charge(req: { idempotencyKey: string; userId: string; courseId: string; amountCents: number }): Promise<{ status: 'paid' | 'declined'; paymentId: string }>;
}
export const freePayments: PaymentProvider = {
  async charge(req) {
    return { status: 'paid', paymentId: `free:${req.idempotencyKey}` };
  },
};

let provider: PaymentProvider = freePayments;
/** Installs the payment provider every saga of this process uses (a real one, or a test's). */
export function usePaymentProvider(p: PaymentProvider): void {
  provider = p;
}

/** A step outcome that ends the saga: the enrollment fails with this code (after compensations). */
class Refusal extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const MAX_ATTEMPTS = Number(process.env.ENROLLMENT_SAGA_MAX_ATTEMPTS ?? 5);

/**
 * The enrollment saga, orchestrated from the `sagas` table: validate → reserve → payment → record →
 * welcome → analytics. Each step is one transaction that checks the saga is still at that step (row lock),
 * applies its effects and emits its events through the outbox, and moves the saga on: a step's effects
 * happen once even if two runners race or a process dies after any commit. Remote reads (eligibility)
 * and the payment call happen before that transaction and are safe to repeat (the payment is keyed by
 * the enrollment id). Failures after a seat was taken give the seat back (compensation).
 */
export class EnrollmentSaga {
  private timer: NodeJS.Timeout | undefined;
  private readonly running = new Map<string, Promise<void>>();
  private stopped = false;

  constructor(
    private readonly db: Kysely<EnrollmentsDB>,
    private readonly runtime: Runtime,
    private readonly log: Logger,
    private readonly payments?: PaymentProvider,
  ) {}

  /** Resumes every saga that was running when the process stopped, and polls for retries. */
  start(): void {
    this.timer = setInterval(() => void this.sweep(), Number(process.env.ENROLLMENT_SAGA_POLL_MS ?? 1000));
    this.timer.unref();
    void this.sweep();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }

  private async sweep(): Promise<void> {
    if (this.stopped) return;
    try {
      for (const s of await new EnrollmentsRepository(this.db).due()) void this.run(s.id);
    } catch (err) {
      this.log.warn({ err: String(err) }, 'saga sweep failed');
    }
  }

  /** Runs a saga until it is done, failed, waiting (waitlist) or scheduled for a retry. One run per saga per process. */
  run(id: string): Promise<void> {
    const current = this.running.get(id);
    if (current) return current;
    // Never inside the unit of work that started the saga: each step is a unit of its own.
    const p = detached(() => this.drive(id)).finally(() => this.running.delete(id));
    this.running.set(id, p);
    return p;
  }

  private async drive(id: string): Promise<void> {
    const repo = new EnrollmentsRepository(this.db);
    for (let guard = 0; guard < 20 && !this.stopped; guard++) {
      const saga = await repo.saga(id);
      if (!saga || saga.status !== 'running' || saga.next_run_at.getTime() > Date.now() + 50) return;
      try {
        await this.step(saga);
      } catch (err) {
        if (err instanceof Refusal) {
          await this.fail(saga, err.code, err.message);
          return;
        }
        const attempts = saga.attempts + 1;
        this.log.warn({ sagaId: id, step: saga.step, attempts, err: String(err) }, 'saga step failed');
        if (attempts >= MAX_ATTEMPTS) {
          await this.fail(saga, 'SERVICE_UNAVAILABLE', `step ${saga.step} kept failing: ${String(err).slice(0, 200)}`);
          return;
        }
        await repo.retryLater(id, attempts, Math.min(30_000, 200 * 2 ** attempts), String(err));
        return;
      }
      crashPoint(saga.step);
    }
  }

  /** One step: remote part first (repeatable), then one transaction that applies it if the saga is still there. */
  private async step(saga: SagaRow): Promise<void> {
    const repo = new EnrollmentsRepository(this.db);
    const e = await repo.byId(saga.enrollment_id);
    if (!e) return;
    const data: SagaData = { ...saga.data };
    const call = <C extends Parameters<typeof this.call>[0]>(c: C, input: z.input<C['input']>) => this.call(c, input);
    switch (saga.step) {
      case 'validate': {
        const terms = await call(coursesInternal.enrollmentTerms, { courseId: e.course_id }).catch((err) => {
          if ((err as { type?: string }).type === 'COURSE_NOT_FOUND') throw new Refusal('COURSE_NOT_FOUND', 'No such course');
          throw err;
        });
        const user = await call(usersInternal.byId, { id: e.user_id });
        if (user.status !== 'active') throw new Refusal('ACCOUNT_DEACTIVATED', 'The account is not active');
        // A course the learner could not see does not exist for them.
        if (terms.version < 1 || (terms.visibility === 'private' && !data.byStaff)) throw new Refusal('COURSE_NOT_FOUND', 'No such course');
        if (terms.status !== 'published') throw new Refusal('ENROLLMENT_CLOSED', 'The course is not open for enrollment');
        const now = Date.now();
        if (terms.enrollOpensAt && now < Date.parse(terms.enrollOpensAt)) throw new Refusal('ENROLLMENT_CLOSED', `Enrollment opens at ${terms.enrollOpensAt}`);
        if (terms.enrollClosesAt && now >= Date.parse(terms.enrollClosesAt)) throw new Refusal('ENROLLMENT_CLOSED', `Enrollment closed at ${terms.enrollClosesAt}`);
        const done = await repo.completedCourses(e.user_id);
        const missing = terms.prerequisites.filter((p) => !done.has(p));
        if (missing.length) throw new Refusal('PREREQUISITES_NOT_MET', `Complete these courses first: ${missing.join(', ')}`);
        Object.assign(data, { email: user.email, displayName: user.displayName, courseTitle: terms.title, capacity: terms.capacity });
        await this.tx(saga, async (r) => r.advance(saga.id, 'reserve', data));
        return;
      }
      case 'reserve': {
        await this.tx(saga, async (r, trx) => {
          if (await r.takeSeat(e.course_id, data.capacity ?? null)) return r.advance(saga.id, 'payment', { ...data, seat: true });
          // Full: wait in line. A drop hands its seat to the first in line and resumes that saga at payment.
          const { before } = await r.setStatus(e.id, 'waitlisted', 'COURSE_FULL', null);
          await addToOutbox(trx, enrollmentEvents.changed, { enrollmentId: e.id, courseId: e.course_id, userId: e.user_id, status: 'waitlisted', previous: before.status, reason: 'COURSE_FULL' }, { key: e.course_id });
          await r.advance(saga.id, 'reserve', data, 'waiting');
        });
        return;
      }
      case 'payment': {
        const payments = this.payments ?? provider;
        const paid = await withTimeout(payments.charge({ idempotencyKey: e.id, userId: e.user_id, courseId: e.course_id, amountCents: 0 }), Number(process.env.ENROLLMENT_PAYMENT_TIMEOUT_MS ?? 10_000));
        if (paid.status === 'declined') throw new Refusal('PAYMENT_DECLINED', 'The payment was declined');
        await this.tx(saga, (r) => r.advance(saga.id, 'record', { ...data, paymentId: paid.paymentId }));
        return;
      }
      case 'record': {
        await this.tx(saga, async (r, trx) => {
          const { before } = await r.setStatus(e.id, 'active', null, null);
          await addToOutbox(trx, enrollmentEvents.changed, { enrollmentId: e.id, courseId: e.course_id, userId: e.user_id, status: 'active', previous: before.status, reason: data.promoted ? 'PROMOTED_FROM_WAITLIST' : null }, { key: e.course_id });
          await r.advance(saga.id, 'welcome', data);
        });
        return;
      }
      case 'welcome': {
        await this.tx(saga, async (r, trx) => {
          if (data.email) {
            await addToOutbox(
              trx,
              notificationEvents.requested,
              {
                userId: e.user_id,
                to: data.email,
                template: data.promoted ? 'waitlist_promoted' : 'enrollment_welcome',
                data: { displayName: data.displayName ?? '', courseTitle: data.courseTitle ?? '', courseId: e.course_id, enrollmentId: e.id },
              },
              { key: e.user_id },
            );
          }
          await r.advance(saga.id, 'analytics', data);
        });
        return;
      }
      case 'analytics': {
        await this.tx(saga, async (r, trx) => {
          await addToOutbox(trx, enrollmentEvents.created, { enrollmentId: e.id, courseId: e.course_id, userId: e.user_id, promotedFromWaitlist: data.promoted === true }, { key: e.course_id });
          await r.advance(saga.id, 'done', data);
        });
        return;
      }
      case 'done':
        return;
    }
  }

  /** Ends a saga that cannot finish: the seat it held goes back (or to the next in line), the enrollment fails. */
  private async fail(saga: SagaRow, code: ErrorCode, message: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const r = new EnrollmentsRepository(trx);
      const locked = await r.lockAt(saga.id, saga.step);
      if (!locked) return;
      const e = await r.byId(saga.enrollment_id);
      if (!e) return;
      let promoted: string | undefined;
      if (locked.data.seat) promoted = await r.releaseSeat(e.course_id);
      const { before } = await r.setStatus(e.id, 'failed', `${code}: ${message}`.slice(0, 500), null);
      await addToOutbox(trx, enrollmentEvents.changed, { enrollmentId: e.id, courseId: e.course_id, userId: e.user_id, status: 'failed', previous: before.status, reason: code }, { key: e.course_id });
      await r.advance(saga.id, saga.step, { ...locked.data, seat: false }, 'failed');
      if (promoted) setImmediate(() => void this.run(promoted!));
    });
    this.kickRelays();
    this.log.info({ sagaId: saga.id, enrollmentId: saga.enrollment_id, code }, 'enrollment refused');
  }

  /** The step's transaction: runs `apply` only if the saga is still at this step (else another runner did it). */
  private async tx(saga: SagaRow, apply: (r: EnrollmentsRepository, trx: Transaction<EnrollmentsDB>) => Promise<unknown>): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const r = new EnrollmentsRepository(trx);
      if (!(await r.lockAt(saga.id, saga.step))) return;
      await apply(r, trx);
    });
    this.kickRelays();
  }

  private kickRelays(): void {
    for (const relay of this.runtime.relays) relay.kick();
  }

  private call<C extends typeof coursesInternal.enrollmentTerms | typeof usersInternal.byId>(c: C, input: z.input<C['input']>): Promise<z.output<C['output']>> {
    return this.runtime.broker.call(c.action, input, { meta: { edge: false } }) as Promise<z.output<C['output']>>;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

/**
 * For the crash test only: ENROLLMENT_SAGA_CRASH_AFTER=<step> kills this process (SIGKILL, no cleanup)
 * right after that step committed, once.
 */
function crashPoint(step: SagaStep): void {
  if (process.env.ENROLLMENT_SAGA_CRASH_AFTER === step) process.kill(process.pid, 'SIGKILL');
}

export { DomainError };
