import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { DeliveryRow, NotificationsDB } from '../db.js';

/** Held deliveries (waiting for a daily or weekly digest) and the digests they go into. */
export class DigestsRepository {
  constructor(private readonly db: Kysely<NotificationsDB>) {}

  /** Users and channels with due held messages, oldest first. */
  dueUsers(limit: number): Promise<Array<{ user_id: string | null; channel: string }>> {
    return this.db
      .selectFrom('deliveries')
      .select(['user_id', 'channel', (eb) => eb.fn.min('run_after').as('due')])
      .where('status', '=', 'held')
      .where('run_after', '<=', sql<Date>`now()`)
      .groupBy(['user_id', 'channel'])
      .orderBy('due')
      .limit(limit)
      .execute();
  }

  /** Tries (never waits for) the transaction-scoped lock on one user's digest of one channel. In a unit of work. */
  async tryLock(userId: string | null, channel: string): Promise<boolean> {
    const key = `digest:${userId ?? ''}:${channel}`;
    const { rows } = await sql<{ ok: boolean }>`select pg_try_advisory_xact_lock(hashtextextended(${key}, 0)) as ok`.execute(this.db);
    return rows[0]?.ok === true;
  }

  /** The user's due held messages of a channel, oldest first, row-locked. In a unit of work, under `tryLock`. */
  dueHeld(userId: string | null, channel: string): Promise<DeliveryRow[]> {
    let q = this.db
      .selectFrom('deliveries')
      .selectAll()
      .where('status', '=', 'held')
      .where('run_after', '<=', sql<Date>`now()`)
      .where('channel', '=', channel);
    q = userId ? q.where('user_id', '=', userId) : q.where('user_id', 'is', null);
    return q.orderBy('run_after').forUpdate().execute();
  }

  /** Queues one digest delivery for what `held` (one user, one channel) holds, and marks those digested into it. */
  async digest(held: DeliveryRow[], last: DeliveryRow, data: Record<string, string>): Promise<void> {
    const digest = await this.db
      .insertInto('deliveries')
      .values({
        event_id: randomUUID(),
        user_id: last.user_id,
        channel: last.channel,
        template: 'digest',
        recipient: last.recipient,
        provider_id: null,
        sent_at: null,
        status: 'queued',
        attempts: 0,
        locale: last.locale,
        data: JSON.stringify(data),
        last_error: null,
        digest: null,
        digest_id: null,
        announcement_id: null,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await this.db
      .updateTable('deliveries')
      .set({ status: 'digested', digest_id: digest.id, data: null, updated_at: sql`now()` })
      .where(
        'id',
        'in',
        held.map((h) => h.id),
      )
      .execute();
  }
}
