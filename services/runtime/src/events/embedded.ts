import { setTimeout as sleep } from 'node:timers/promises';
import { sql, type Kysely } from 'kysely';
import type { EventEnvelope } from '@lms/contracts';
import type { Logger } from '../logger.js';
import { eventsHandled } from '../metrics.js';
import { applyBatch, decode, resetConsumer } from './apply.js';
import {
  backoffMs,
  toEnvelope,
  type DeadLetter,
  type EventTransport,
  type OutboxRow,
  type RuntimeTables,
  type Subscription,
  type SubscriptionHandle,
} from './types.js';

/**
 * In-process delivery for embedded mode, behind the same API as JetStream.
 *
 * Guarantees: the relay deletes an outbox row only after every local consumer has applied
 * the event or dead-lettered it, so a crash re-delivers on the next start (at least once),
 * and processed-id records make that effectively once. Delivery is in outbox order per
 * producing service. Every published event is also appended to `lms_events.log`, the
 * embedded stand-in for a stream, which `rebuild` replays.
 * Not guaranteed: ordering across producing services, and delivery to other processes
 * (there are none in embedded mode).
 */
export class EmbeddedTransport implements EventTransport {
  readonly kind = 'embedded' as const;
  readonly lockWhilePublishing = false;
  private readonly subs = new Map<string, Subscription[]>();

  private constructor(
    private readonly root: Kysely<any>,
    private readonly logger: Logger,
    private readonly backoffBaseMs: number,
  ) {}

  static async create(root: Kysely<any>, logger: Logger, backoffBaseMs = 100): Promise<EmbeddedTransport> {
    await sql`create schema if not exists lms_events`.execute(root);
    await sql`create table if not exists lms_events.log (
      seq bigserial primary key, id uuid not null unique, subject text not null, envelope jsonb not null)`.execute(root);
    return new EmbeddedTransport(root, logger, backoffBaseMs);
  }

  async publish(rows: OutboxRow[]): Promise<void> {
    const envs = rows.map(toEnvelope);
    await this.root
      .insertInto('lms_events.log')
      .values(envs.map((e) => ({ id: e.id, subject: e.subject, envelope: JSON.stringify(e) })))
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
    for (const env of envs) {
      for (const sub of this.subs.get(env.subject) ?? []) await this.deliver(sub, JSON.stringify(env));
    }
  }

  private async deliver(sub: Subscription, body: string, replaying = false): Promise<void> {
    let env;
    try {
      env = decode(sub, body);
    } catch (err) {
      // A rebuild meets poison that was dead-lettered when it first came: skip it this time.
      return replaying ? undefined : this.deadLetter(sub, body, err, 1);
    }
    for (let attempt = 1; ; attempt++) {
      try {
        await applyBatch(sub, [env]);
        return;
      } catch (err) {
        if (attempt >= sub.maxDeliver) return this.deadLetter(sub, body, err, attempt);
        eventsHandled.inc({ consumer: sub.consumer, result: 'retried' });
        this.logger.warn({ consumer: sub.consumer, attempt, err: String(err) }, 'event handler failed; will retry');
        await sleep(backoffMs(attempt, this.backoffBaseMs));
      }
    }
  }

  private async deadLetter(sub: Subscription, body: string, err: unknown, deliveries: number): Promise<void> {
    const env = JSON.parse(body) as Pick<EventEnvelope, 'id' | 'subject'>;
    await (sub.db as Kysely<RuntimeTables>)
      .insertInto('dead_letters')
      .values({
        consumer: sub.consumer,
        event_id: env.id,
        subject: env.subject,
        envelope: body,
        error: String(err instanceof Error ? err.message : err).slice(0, 500),
        deliveries,
      })
      .execute();
    eventsHandled.inc({ consumer: sub.consumer, result: 'dead_lettered' });
    this.logger.error({ consumer: sub.consumer, subject: env.subject, err: String(err) }, 'event dead-lettered');
  }

  async subscribe(sub: Subscription): Promise<SubscriptionHandle> {
    for (const e of sub.events) this.subs.set(e.subject, [...(this.subs.get(e.subject) ?? []), sub]);
    return {
      stop: async () => {
        for (const e of sub.events)
          this.subs.set(
            e.subject,
            (this.subs.get(e.subject) ?? []).filter((s) => s !== sub),
          );
      },
    };
  }

  async deadLetters(sub: Subscription, limit = 100): Promise<DeadLetter[]> {
    const rows = await (sub.db as Kysely<RuntimeTables>)
      .selectFrom('dead_letters')
      .selectAll()
      .where('consumer', '=', sub.consumer)
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      id: Number(r.id),
      consumer: r.consumer,
      eventId: r.event_id,
      subject: r.subject,
      error: r.error,
      deliveries: r.deliveries,
      failedAt: new Date(r.failed_at).toISOString(),
      envelope: r.envelope as DeadLetter['envelope'],
    }));
  }

  async replay(sub: Subscription, id: number): Promise<void> {
    const db = sub.db as Kysely<RuntimeTables>;
    const row = await db.deleteFrom('dead_letters').where('id', '=', id).where('consumer', '=', sub.consumer).returningAll().executeTakeFirst();
    if (row) await this.deliver(sub, JSON.stringify(row.envelope));
  }

  async rebuild(sub: Subscription): Promise<void> {
    await resetConsumer(sub);
    const subjects = sub.events.map((e) => e.subject);
    let after = 0;
    for (;;) {
      const rows = await this.root
        .selectFrom('lms_events.log')
        .select(['seq', 'envelope'])
        .where('subject', 'in', subjects)
        .where('seq', '>', after)
        .orderBy('seq')
        .limit(500)
        .execute();
      const last = rows.at(-1);
      if (!last) return;
      for (const r of rows) await this.deliver(sub, JSON.stringify(r.envelope), true);
      after = Number(last.seq);
    }
  }

  async close(): Promise<void> {
    this.subs.clear();
  }
}
