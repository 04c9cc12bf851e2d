import { sql, type Kysely, type Selectable, type SelectQueryBuilder, type Transaction } from 'kysely';
import type { Logger } from './logger.js';

/**
 * The oldest due row of a work table (its `status` among `statuses`, its `run_after` passed), locked for
 * this transaction; rows other nodes or loops hold are skipped (`FOR UPDATE SKIP LOCKED`). `narrow` adds
 * conditions. The caller then moves the row's `run_after` on (its lease) in the same transaction.
 */
export function oldestDue<DB, T extends keyof DB & string>(
  trx: Transaction<DB>,
  table: T,
  statuses: readonly string[],
  narrow: (q: SelectQueryBuilder<any, any, any>) => SelectQueryBuilder<any, any, any> = (q) => q,
): Promise<Selectable<DB[T]> | undefined> {
  const db = trx as unknown as Kysely<{ work: { status: string; run_after: Date } }>;
  const q = db.selectFrom(table as 'work').selectAll().where('status', 'in', [...statuses]).where('run_after', '<=', sql<Date>`now()`);
  return narrow(q).orderBy('run_after').limit(1).forUpdate().skipLocked().executeTakeFirst() as Promise<Selectable<DB[T]> | undefined>;
}

/**
 * Loops that claim one due job at a time and run it, woken by a timer and by `kick()` (after a commit that
 * queued work). Subclasses claim with `FOR UPDATE SKIP LOCKED` so that any number of nodes, and up to
 * `concurrency` loops in each, can run the same worker over one table; a job is whatever the claim returns.
 */
export abstract class PollingWorker<J> {
  private timer: NodeJS.Timeout | undefined;
  private loops = 0;
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
    while (this.loops < this.concurrency && !this.stopped) {
      this.loops++;
      void this.drain()
        .catch((err) => this.log.warn({ err: String(err) }, `${this.constructor.name} loop failed`))
        .finally(() => this.loops--);
    }
  }

  private async drain(): Promise<void> {
    for (let job = await this.claim(); job !== undefined && !this.stopped; job = await this.claim()) await this.run(job);
  }
}
