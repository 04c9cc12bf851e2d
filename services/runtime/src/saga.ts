/**
 * A small saga engine: a saga is declared as data (an ordered list of steps, each with its action and its
 * compensation) and run by a `SagaRunner` over the service's units of work. Nothing here knows about enrollments:
 * the enrollment saga (../enrollment-saga.ts) is one definition; the coming assessment-completion saga is another.
 *
 * How a step runs, so that its effects happen once whoever runs it and however often it is retried:
 * 1. `prepare` — the repeatable part, outside any transaction: remote reads, idempotent calls (a payment keyed by
 *    the saga's subject). It may refuse (`SagaRefusal`: the saga fails, with compensations) or throw (retried with
 *    backoff, `retryPolicies.sagas`; after the last attempt the saga fails with the definition's `exhaustedCode`).
 * 2. `commit` — one unit of work that first locks the saga row at this step (`store.lockAt`): if another runner
 *    moved it on, nothing happens. Inside, the step applies its effects and emits its events, and the saga moves on
 *    (or waits at this step until something else wakes it).
 * A process that dies between two commits leaves the saga at its next step; the sweep of any node resumes it.
 * A failing saga runs, in one unit of work, the `compensate` of every step before the one that failed (latest
 * first), then the definition's `failed`.
 */
import { isOutage } from './errors.js';
import { releaseHold } from './idempotency.js';
import type { Logger } from './logger.js';
import { mayRetry, retryDelay, type RetryPolicy } from './retry.js';
import { detached, type Emit } from './unit-of-work.js';
import { settledWithin, STOP_WAIT_MS } from './worker.js';

/** The types one saga definition is made of. */
export interface SagaTypes {
  /** The steps' names. */
  step: string;
  /** What earlier steps learned, persisted with the saga (JSON). */
  data: object;
  /** What the saga is about (an enrollment), read before each step. */
  subject: unknown;
  /** The service's repository (bound to the unit of work inside `commit`, `compensate` and `failed`). */
  repo: unknown;
  /** The failure codes a saga ends with. */
  code: string;
}

export type SagaStatus = 'running' | 'waiting' | 'done' | 'failed';
/** The step a finished saga is at. */
export const SAGA_DONE = 'done';

/** A saga's persisted state. */
export interface SagaState<T extends SagaTypes> {
  id: string;
  /** The id of its subject. */
  subjectId: string;
  step: T['step'] | typeof SAGA_DONE;
  status: SagaStatus;
  /** Failed attempts of the current step. */
  attempts: number;
  nextRunAt: Date;
  data: T['data'];
}

/** Where a definition's sagas are kept: the service's repository over its own table. */
export interface SagaStore<T extends SagaTypes> {
  get(id: string): Promise<SagaState<T> | undefined>;
  /** The saga, locked until the unit of work ends, if it is still running at `step` (else another runner moved it on). */
  lockAt(id: string, step: T['step']): Promise<SagaState<T> | undefined>;
  /** Moves the saga to `step` in `status`, with `data`; its attempts start again and it is due now. */
  advance(id: string, step: T['step'] | typeof SAGA_DONE, data: T['data'], status: SagaStatus): Promise<void>;
  /** Records a failed attempt: the step runs again after `delayMs`. */
  retryLater(id: string, attempts: number, delayMs: number, error: string): Promise<void>;
  /** Ids of running sagas that are due. */
  due(limit: number): Promise<string[]>;
}

/** What every part of a step sees. */
export interface StepContext<T extends SagaTypes> {
  sagaId: string;
  subject: T['subject'];
  data: Readonly<T['data']>;
  /** Runs another saga of this definition once this unit of work committed (e.g. the one a released seat went to). */
  wake: (sagaId: string) => void;
}

/** What `commit`, `compensate` and `failed` see besides: the unit of work (repository bound to it, `emit`). */
export interface StepUnit<T extends SagaTypes> extends StepContext<T> {
  repo: T['repo'];
  emit: Emit;
}

/** What a committed step answers: data for later steps; `wait` keeps the saga at this step, `waiting`, until woken. */
export type StepOutcome<T extends SagaTypes> = void | { data?: Partial<T['data']>; wait?: boolean };

export interface SagaStep<T extends SagaTypes> {
  name: T['step'];
  /** The repeatable part, before the step's transaction; answers data for the commit and later steps. */
  prepare?: (c: StepContext<T>) => Promise<Partial<T['data']> | void>;
  /** A bound on `prepare`: a call that hangs counts as a failed attempt (`timed out after N ms`). */
  timeoutMs?: number;
  /** The step's effects and events, applied once: runs only while the saga is at this step (its row locked). */
  commit?: (c: StepUnit<T>) => Promise<StepOutcome<T>>;
  /** Undoes what this step committed when the saga fails at a later step (in the failure's unit of work). */
  compensate?: (c: StepUnit<T>) => Promise<Partial<T['data']> | void>;
}

/** A saga, declared. */
export interface SagaDefinition<T extends SagaTypes> {
  /** For logs. */
  name: string;
  /** In order; a saga starts at the first and is done after the last. */
  steps: ReadonlyArray<SagaStep<T>>;
  /** The store of these sagas over a repository (the pool's, or a unit of work's). */
  store: (repo: T['repo']) => SagaStore<T>;
  /** Reads the saga's subject; a saga whose subject is gone stops. */
  subject: (repo: T['repo'], subjectId: string) => Promise<T['subject'] | undefined>;
  /** Records the failure on the subject, after the compensations, in the same unit of work. */
  failed: (c: StepUnit<T> & { failure: SagaFailure<T> }) => Promise<void>;
  /** The failure code of a step that kept failing until its attempts ran out. */
  exhaustedCode: T['code'];
}

export interface SagaFailure<T extends SagaTypes> {
  code: T['code'];
  message: string;
  /** The step the saga failed at. */
  step: T['step'];
}

/** A step outcome that ends the saga: it fails with this code (after compensations); never retried. */
export class SagaRefusal<Code extends string = string> extends Error {
  override name = 'SagaRefusal';
  constructor(
    readonly code: Code,
    message: string,
  ) {
    super(message);
  }
}

/** What a runner needs from its service. */
export interface SagaRunnerOptions<T extends SagaTypes> {
  /** The service's repository (over the pool, outside units of work). */
  repo: T['repo'];
  /** The service's unit of work. */
  uow: <R>(fn: (w: { repo: T['repo']; emit: Emit }) => Promise<R>) => Promise<R>;
  logger: Logger;
  /** How often due sagas are looked for (resume after a crash, retries). */
  pollMs: number;
  /** Step retries: `retryPolicies.sagas`, or the service's override. */
  retry: RetryPolicy;
  /** Test hook: runs after each step of a saga returned (its unit of work committed). Crash tests kill the process here. */
  onStepCommitted?: (step: T['step'], sagaId: string) => void;
}

/** Guards a runaway saga: steps run in one go before the runner lets the sweep take over. */
const MAX_STEPS_PER_RUN = 20;

/**
 * Runs the sagas of one definition: `run(id)` drives one until it is done, failed, waiting or scheduled for a retry
 * (one run per saga per process); `start()` resumes due sagas now and every `pollMs`.
 */
export class SagaRunner<T extends SagaTypes> {
  private timer: NodeJS.Timeout | undefined;
  private readonly running = new Map<string, Promise<void>>();
  private stopped = false;

  constructor(
    private readonly def: SagaDefinition<T>,
    private readonly o: SagaRunnerOptions<T>,
  ) {
    if (def.steps.length === 0) throw new Error(`saga ${def.name} has no steps`);
  }

  /** Resumes every saga that was running when the process stopped, and polls for retries. */
  start(): void {
    detached(() => {
      this.timer = setInterval(() => void this.sweep(), this.o.pollMs);
      this.timer.unref();
      void this.sweep();
    });
  }

  /**
   * Starts no step any more and resolves once the runs in hand have committed their current step (a graceful stop), or
   * after `waitMs`; what is left of a saga is resumed by the sweep of any enrollments node.
   */
  async stop(waitMs = STOP_WAIT_MS): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await settledWithin([...this.running.values()], waitMs);
  }

  /** Runs a saga until it is done, failed, waiting or scheduled for a retry. One run per saga per process. */
  run(id: string): Promise<void> {
    const current = this.running.get(id);
    if (current) return current;
    // Never inside the unit of work that started the saga: each step is a unit of its own. A unit the request holds
    // open (idempotency.ts, Hold) commits first: the steps must see the rows it wrote.
    const p = releaseHold()
      .then(() => detached(() => this.drive(id)))
      .finally(() => this.running.delete(id));
    this.running.set(id, p);
    return p;
  }

  /** Runs a saga in the background (a failure is logged; the sweep tries again). */
  wake(id: string): void {
    this.run(id).catch((err: unknown) => this.o.logger.warn({ sagaId: id, err: String(err) }, `${this.def.name} saga run failed`));
  }

  private async sweep(): Promise<void> {
    if (this.stopped) return;
    try {
      for (const id of await this.def.store(this.o.repo).due(50)) this.wake(id);
    } catch (err) {
      this.o.logger.warn({ err: String(err) }, `${this.def.name} saga sweep failed`);
    }
  }

  private async drive(id: string): Promise<void> {
    const store = this.def.store(this.o.repo);
    for (let n = 0; n < MAX_STEPS_PER_RUN && !this.stopped; n++) {
      const saga = await store.get(id);
      if (!saga || saga.status !== 'running' || saga.nextRunAt.getTime() > Date.now() + 50) return;
      const step = this.def.steps.find((s) => s.name === saga.step);
      if (!step) return;
      try {
        await this.runStep(saga, step);
      } catch (err) {
        if (err instanceof SagaRefusal) {
          await this.fail(saga, step.name, err.code as T['code'], err.message);
          return;
        }
        if (isOutage(err)) {
          // The database (or a service answering 503 for its own) is away: not the step's fault, so no attempt is
          // spent (a few seconds of outage would otherwise fail enrolments); the sweep runs the step again.
          this.o.logger.warn({ sagaId: id, step: step.name }, `${this.def.name} saga step waits for an outage to end`);
          return;
        }
        const attempts = saga.attempts + 1;
        this.o.logger.warn({ sagaId: id, step: step.name, attempts, err: String(err) }, `${this.def.name} saga step failed`);
        if (!mayRetry(attempts, this.o.retry)) {
          await this.fail(saga, step.name, this.def.exhaustedCode, `step ${step.name} kept failing: ${String(err).slice(0, 200)}`);
          return;
        }
        await store.retryLater(id, attempts, retryDelay(attempts, this.o.retry), String(err));
        return;
      }
      this.o.onStepCommitted?.(step.name, id);
    }
  }

  /** One step: its remote part first (repeatable), then one unit of work that applies it if the saga is still there. */
  private async runStep(saga: SagaState<T>, step: SagaStep<T>): Promise<void> {
    const subject = await this.def.subject(this.o.repo, saga.subjectId);
    if (subject === undefined) return;
    const woken: string[] = [];
    const context: StepContext<T> = { sagaId: saga.id, subject, data: saga.data, wake: (id) => woken.push(id) };
    const prepared = step.prepare ? await withTimeout(step.prepare(context), step.timeoutMs) : undefined;
    const index = this.def.steps.indexOf(step);
    const next = this.def.steps[index + 1]?.name;
    await this.o.uow(async ({ repo, emit }) => {
      const store = this.def.store(repo);
      if (!(await store.lockAt(saga.id, step.name))) return; // another runner did this step
      const data = { ...saga.data, ...prepared };
      const outcome = step.commit ? await step.commit({ ...context, data, repo, emit }) : undefined;
      const after = { ...data, ...outcome?.data };
      if (outcome?.wait) await store.advance(saga.id, step.name, after, 'waiting');
      else await store.advance(saga.id, next ?? SAGA_DONE, after, next ? 'running' : 'done');
    });
    this.wakeAll(woken);
  }

  /** Ends a saga that cannot finish: compensations of the steps it passed (latest first), then `failed`. */
  private async fail(saga: SagaState<T>, at: T['step'], code: T['code'], message: string): Promise<void> {
    const woken: string[] = [];
    const failed = await this.o.uow(async ({ repo, emit }) => {
      const store = this.def.store(repo);
      const locked = await store.lockAt(saga.id, at);
      if (!locked) return false;
      const subject = await this.def.subject(repo, locked.subjectId);
      if (subject === undefined) return false;
      const unit = (data: T['data']): StepUnit<T> => ({ sagaId: saga.id, subject, data, wake: (id) => woken.push(id), repo, emit });
      let data = locked.data;
      const passed = this.def.steps
        .slice(
          0,
          this.def.steps.findIndex((s) => s.name === at),
        )
        .reverse();
      for (const s of passed) if (s.compensate) data = { ...data, ...(await s.compensate(unit(data))) };
      await this.def.failed({ ...unit(data), failure: { code, message, step: at } });
      await store.advance(saga.id, at, data, 'failed');
      return true;
    });
    this.wakeAll(woken);
    if (failed) this.o.logger.info({ sagaId: saga.id, subjectId: saga.subjectId, step: at, code }, `${this.def.name} saga failed`);
  }

  private wakeAll(ids: string[]): void {
    for (const id of ids) setImmediate(() => this.wake(id));
  }
}

/** `p`, or a rejection `timed out after N ms` once `ms` passed (no bound when `ms` is undefined). */
export function withTimeout<T>(p: Promise<T>, ms: number | undefined): Promise<T> {
  if (ms === undefined) return p;
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    // Settles as `p` did (value or the very rejection reason), the timer cleared first.
    p.finally(() => clearTimeout(t)).then(resolve, reject);
  });
}
