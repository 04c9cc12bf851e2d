import { randomUUID } from 'node:crypto';
import type { EventContract } from '@lms/contracts';
import type { Kysely, Transaction } from 'kysely';
import { isDatabaseUnavailable } from '../errors.js';
import type { Logger } from '../logger.js';
import { detached } from '../unit-of-work.js';
import { eventsPublished } from '../metrics.js';
import type { EventTransport, OutboxRow, RuntimeTables } from './types.js';

/** Writes an event into the outbox inside the caller's transaction: it exists iff the change commits. */
export async function addToOutbox<E extends EventContract>(
  trx: Transaction<any>,
  event: E,
  payload: import('zod').input<E['payload']>,
  opts: { key?: string; requestId?: string } = {},
): Promise<string> {
  const checked = event.payload.parse(payload); // an event that breaks its own contract is a bug: fail the change
  const id = randomUUID();
  await (trx as Transaction<RuntimeTables>)
    .insertInto('outbox')
    .values({ id, subject: event.subject, key: opts.key ?? null, request_id: opts.requestId ?? null, payload: JSON.stringify(checked) })
    .execute();
  return id;
}

/**
 * Moves committed outbox rows to the transport. Woken right after a local commit (`kick`)
 * and every `pollMs` for rows left by a crashed process or another node. Rows are deleted
 * only after the transport has them, so a crash between the two republishes: JetStream drops
 * the duplicate by its message id, and consumers drop it by event id.
 */
export class OutboxRelay {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private failing = false;

  constructor(
    private readonly service: string,
    private readonly db: Kysely<RuntimeTables>,
    private readonly transport: EventTransport,
    private readonly logger: Logger,
    private readonly batchSize = 500,
    private readonly pollMs = 250,
  ) {}

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => this.kick(), this.pollMs);
    this.timer.unref();
    this.kick();
  }

  /** Drains now; coalesces with a drain already under way. */
  kick(): void {
    detached(() => this.drainNow());
  }

  private drainNow(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain()
      .then(() => {
        if (this.failing) this.logger.info({ service: this.service }, 'outbox relay resumed');
        this.failing = false;
      })
      .catch((err: unknown) => {
        // Every poll (250 ms) fails while the database or NATS is away: one line per outage, not four a second.
        if (!this.failing)
          this.logger.warn(
            { err: isDatabaseUnavailable(err) ? 'database unavailable' : String(err), service: this.service },
            'outbox relay failed; will retry',
          );
        this.failing = true;
      })
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.drainNow();
        }
      });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  /** Publishes until the outbox is empty. */
  async drain(): Promise<void> {
    for (;;) {
      const n = this.transport.lockWhilePublishing ? await this.batchLocked() : await this.batchUnlocked();
      if (n < this.batchSize || this.stopped) return;
    }
  }

  private async batchLocked(): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      const rows = (await trx.selectFrom('outbox').selectAll().orderBy('seq').limit(this.batchSize).forUpdate().skipLocked().execute()) as OutboxRow[];
      if (rows.length === 0) return 0;
      await this.transport.publish(rows);
      await trx
        .deleteFrom('outbox')
        .where(
          'seq',
          'in',
          rows.map((r) => r.seq),
        )
        .execute();
      eventsPublished.inc({ service: this.service }, rows.length);
      return rows.length;
    });
  }

  private async batchUnlocked(): Promise<number> {
    const rows = (await this.db.selectFrom('outbox').selectAll().orderBy('seq').limit(this.batchSize).execute()) as OutboxRow[];
    if (rows.length === 0) return 0;
    await this.transport.publish(rows);
    await this.db
      .deleteFrom('outbox')
      .where(
        'seq',
        'in',
        rows.map((r) => r.seq),
      )
      .execute();
    eventsPublished.inc({ service: this.service }, rows.length);
    return rows.length;
  }
}
