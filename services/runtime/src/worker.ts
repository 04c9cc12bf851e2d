import { sql, type SelectQueryBuilder } from 'kysely';
import { isDatabaseUnavailable } from './errors.js';
import type { Logger } from './logger.js';
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

/**
 * Loops that claim one due job at a time and run it, woken by a timer and by `kick()` (after a commit that
 * queued work). Subclasses claim with `FOR UPDATE SKIP LOCKED` so that any number of nodes, and up to
 * `concurrency` loops in each, can run the same worker over one table; a job is whatever the claim returns.
 */
export abstract class PollingWorker<J> {
  private timer: NodeJS.Timeout | undefined;
  private loops = 0;
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

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }

  /** Starts loops up to `concurrency`; each drains until a claim finds nothing. */
  kick(): void {
    // Kicked from inside a unit of work (after queueing work), the loops must not run in its transaction.
    detached(() => this.startLoops());
  }

  private startLoops(): void {
    while (this.loops < this.concurrency && !this.stopped) {
      this.loops++;
      void this.drain()
        .then(() => (this.outage = false))
        .catch((err: unknown) => {
          // While the database is away every poll fails: one line per outage; the timer retries until it is back.
          if (isDatabaseUnavailable(err)) {
            if (!this.outage) this.log.warn({ err: 'database unavailable' }, `${this.constructor.name} waits for the database`);
            this.outage = true;
            return;
          }
          this.log.warn({ err: String(err) }, `${this.constructor.name} loop failed`);
        })
        .finally(() => this.loops--);
    }
  }

  private async drain(): Promise<void> {
    for (let job = await this.claim(); job !== undefined && !this.stopped; job = await this.claim()) await this.run(job);
  }
}
