import { decodeCursor, dueRows } from '@lms/runtime';
import { sql, type Insertable, type Kysely } from 'kysely';
import type { DeliveryRow, NotificationsDB } from '../db.js';

/** What happened to one attempt at a delivery. */
export type DeliveryOutcome =
  | { outcome: 'sent'; providerId: string }
  | { outcome: 'skipped'; reason: string }
  | { outcome: 'failed' | 'bounced'; status: 'queued' | 'dead' | 'bounced'; error: string; retryInMs: number };

/** One row per message handed to a channel (email, push, sms), and the record of each attempt. */
export class DeliveriesRepository {
  constructor(private readonly db: Kysely<NotificationsDB>) {}

  /** Whether an event already has a delivery (events from before routing existed). */
  async existsForEvent(eventId: string): Promise<boolean> {
    return (await this.db.selectFrom('deliveries').select('id').where('event_id', '=', eventId).executeTakeFirst()) !== undefined;
  }

  /** Operators' listing, most recently changed first, one row more than `limit`. */
  page(p: { status?: string; channel?: string; cursor?: string; limit: number }): Promise<DeliveryRow[]> {
    let q = this.db.selectFrom('deliveries').selectAll();
    if (p.status) q = q.where('status', '=', p.status);
    if (p.channel) q = q.where('channel', '=', p.channel);
    if (p.cursor) {
      const c = decodeCursor(p.cursor);
      q = q.where(sql<boolean>`(updated_at, id) < (${c.createdAt}, ${c.id}::uuid)`);
    }
    return q
      .orderBy('updated_at', 'desc')
      .orderBy('id', 'desc')
      .limit(p.limit + 1)
      .execute();
  }

  /** Queues a dead or bounced delivery again, attempts reset; undefined when it is not dead or bounced. */
  requeue(id: string): Promise<DeliveryRow | undefined> {
    return this.db
      .updateTable('deliveries')
      .set({ status: 'queued', attempts: 0, run_after: sql`now()`, updated_at: sql`now()` })
      .where('id', '=', id)
      .where('status', 'in', ['dead', 'bounced'])
      .returningAll()
      .executeTakeFirst();
  }

  async statusOf(id: string): Promise<string | undefined> {
    return (await this.db.selectFrom('deliveries').select('status').where('id', '=', id).executeTakeFirst())?.status;
  }

  /** Writes what routing decided, once per event and channel. */
  async addPlanned(rows: Array<Insertable<NotificationsDB['deliveries']>>): Promise<void> {
    if (rows.length)
      await this.db
        .insertInto('deliveries')
        .values(rows)
        .onConflict((oc) => oc.columns(['event_id', 'channel']).doNothing())
        .execute();
  }

  /** Per announcement, channel and status: how many deliveries. */
  countsByAnnouncement(ids: string[]): Promise<Array<{ announcement_id: string | null; channel: string; status: string; n: number }>> {
    return this.db
      .selectFrom('deliveries')
      .select(['announcement_id', 'channel', 'status', (eb) => eb.fn.countAll<string>().as('n')])
      .where('announcement_id', 'in', ids)
      .groupBy(['announcement_id', 'channel', 'status'])
      .execute()
      .then((rows) => rows.map((r) => ({ ...r, n: Number(r.n) })));
  }

  /** The oldest due queued (or lease-expired sending) delivery of one of these channels, locked (SKIP LOCKED). In a unit of work. */
  nextDue(channels: string[]): Promise<DeliveryRow | undefined> {
    return dueRows(this.db.selectFrom('deliveries').selectAll().where('channel', 'in', channels), ['queued', 'sending'])
      .limit(1)
      .executeTakeFirst();
  }

  /** Marks a claimed delivery as being sent, for a five-minute lease (a crash resends after it: at least once). */
  async lease(id: string): Promise<void> {
    await this.db
      .updateTable('deliveries')
      .set({ status: 'sending', run_after: sql`now() + interval '5 minutes'`, updated_at: sql`now()` })
      .where('id', '=', id)
      .execute();
  }

  /**
   * Records an attempt: the delivery's new state and a `delivery_attempts` row. Sent or skipped, its data (it may
   * hold a token) is dropped. A delivery erased meanwhile (its user was) stays gone: nothing is recorded. In a unit of work.
   */
  async record(d: Pick<DeliveryRow, 'id' | 'event_id'>, attempts: number, o: DeliveryOutcome): Promise<void> {
    const set =
      o.outcome === 'sent'
        ? { status: 'sent', attempts, provider_id: o.providerId, sent_at: sql<Date>`now()`, data: null, last_error: null, updated_at: sql`now()` }
        : o.outcome === 'skipped'
          ? { status: 'skipped', attempts, data: null, last_error: o.reason, updated_at: sql`now()` }
          : { status: o.status, attempts, last_error: o.error, run_after: sql`now() + ${`${o.retryInMs} milliseconds`}::interval`, updated_at: sql`now()` };
    const u = await this.db.updateTable('deliveries').set(set).where('id', '=', d.id).executeTakeFirst();
    if (Number(u.numUpdatedRows) === 0) return;
    const error = o.outcome === 'sent' ? null : o.outcome === 'skipped' ? o.reason : o.error;
    await this.db.insertInto('delivery_attempts').values({ event_id: d.event_id, delivery_id: d.id, outcome: o.outcome, error }).execute();
  }

  ofUser(userId: string) {
    return this.db
      .selectFrom('deliveries')
      .select(['channel', 'template', 'recipient', 'status', 'sent_at'])
      .where('user_id', '=', userId)
      .orderBy('sent_at')
      .execute();
  }

  async deleteOfUser(userId: string): Promise<void> {
    await this.db.deleteFrom('deliveries').where('user_id', '=', userId).execute();
  }
}
