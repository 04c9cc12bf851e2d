import { sql, type SelectQueryBuilder } from 'kysely';
import { isDatabaseUnavailable } from './errors.js';
import type { Logger } from './logger.js';
import { afterHold } from './idempotency.js';
import { detached } from './unit-of-work.js';

/**
 * The due rows of a work table, oldest first — `query` selects from it, with any conditions of the caller's —
 * whose `status` is among `statuses` and whose `run_after` has passed, locked for this transaction; rows other
 * nodes or loops hold are skipped (`FOR UPDATE SKIP LOCKED`). The caller adds the limit, then moves the rows'
 * `run_after` on (their lease) in the same transaction.
 */
export function dueRows<DB, TB extends keyof DB, O>(query: SelectQueryBuilder<DB, TB, O>, statuses: readonly string[]): SelectQueryBuilder<DB, TB, O> {
  return query
    .where(sql<boolean>`status in (${sql.join(statuses)})`)
    .where(sql<boolean>`run_after <= now()`)
    .orderBy(sql`run_after`)
    .forUpdate()
    .skipLocked();
}

/** How long a stopping worker or saga runner waits for the work in hand (MOLECULER_SHUTDOWN_TIMEOUT's default). */
export const STOP_WAIT_MS = 5_000;

/** Resolves once every promise has settled, or after `ms`, whichever comes first; never rejects. */
export async function settledWithin(promises: Array<Promise<unknown>>, ms: number): Promise<void> {
  if (promises.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.allSettled(promises), new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

/**
 * Loops that claim one due job at a time and run it, woken by a timer and by `kick()` (after a commit that
 * queued work). Subclasses claim with `FOR UPDATE SKIP LOCKED` so that any number of nodes, and up to
 * `concurrency` loops in each, can run the same worker over one table; a job is whatever the claim returns.
 */
export abstract class PollingWorker<J> {
  private timer: NodeJS.Timeout | undefined;
  private loops = 0;
  /** The loops running now, each on the job in hand: a stop waits for them. */
  private readonly inFlight = new Set<Promise<void>>();
  private outage = false;
  protected stopped = false;

  constructor(
    protected readonly log: Logger,
    private readonly pollMs: number,
    private readonly concurrency = 1,
  ) {}

  protected abstract claim(): Promise<J | undefined>;
  protected abstract run(job: J): Promise<void>;

  start(): void {
    this.timer = setInterval(() => this.kick(), this.pollMs);
    this.timer.unref();
    this.kick();
  }

  /**
   * Claims nothing more and resolves once the jobs in hand have finished (a graceful stop), or after `waitMs`: a job
   * that outlives it (a long transcode) is left to its lease, and another node runs it again when the lease ends.
   */
  async stop(waitMs = STOP_WAIT_MS): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await settledWithin([...this.inFlight], waitMs);
  }

  /** Starts loops up to `concurrency`; each drains until a claim finds nothing. */
  kick(): void {
    // Kicked from inside a unit of work (after queueing work), the loops must not run in its transaction; kicked after
    // a unit the request holds open (idempotency.ts, Hold), they start once it committed, to find what it queued.
    afterHold(() => detached(() => this.startLoops()));
  }

  private startLoops(): void {
    while (this.loops < this.concurrency && !this.stopped) {
      this.loops++;
      const loop: Promise<void> = this.drain()
        .then(() => void (this.outage = false))
        .catch((err: unknown) => {
          // While the database is away every poll fails: one line per outage; the timer retries until it is back.
          if (isDatabaseUnavailable(err)) {
            if (!this.outage) this.log.warn({ err: 'database unavailable' }, `${this.constructor.name} waits for the database`);
            this.outage = true;
            return;
          }
          this.log.warn({ err: String(err) }, `${this.constructor.name} loop failed`);
        })
        .finally(() => {
          this.loops--;
          this.inFlight.delete(loop);
        });
      this.inFlight.add(loop);
    }
  }

  private async drain(): Promise<void> {
    for (let job = await this.claim(); job !== undefined && !this.stopped; job = await this.claim()) await this.run(job);
  }
}
