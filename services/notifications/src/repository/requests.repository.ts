import { dueRows } from '@lms/runtime';
import { sql, type Insertable, type Kysely } from 'kysely';
import type { NotificationsDB, RequestRow } from '../db.js';

/** What was asked (`notification.requested`, a welcome, an announcement's recipient), before routing. */
export class RequestsRepository {
  constructor(private readonly db: Kysely<NotificationsDB>) {}

  /** Records a request, once per event id. */
  async add(r: { eventId: string; userId: string | null; to: string | null; template: string; locale: string; data: Record<string, string> }): Promise<void> {
    await this.db
      .insertInto('requests')
      .values({ event_id: r.eventId, user_id: r.userId, to: r.to, template: r.template, locale: r.locale, data: JSON.stringify(r.data), announcement_id: null })
      .onConflict((oc) => oc.column('event_id').doNothing())
      .execute();
  }

  /** Records requests, once per event id; answers how many are new. */
  async addMany(rows: Array<Insertable<NotificationsDB['requests']>>): Promise<number> {
    if (!rows.length) return 0;
    const r = await this.db
      .insertInto('requests')
      .values(rows)
      .onConflict((oc) => oc.column('event_id').doNothing())
      .returning('event_id')
      .execute();
    return r.length;
  }

  /** Claims up to `limit` due pending requests (SKIP LOCKED) for two minutes. In a unit of work. */
  async claimDue(limit: number): Promise<RequestRow[]> {
    const due = await dueRows(this.db.selectFrom('requests').selectAll(), ['pending']).limit(limit).execute();
    if (due.length)
      await this.db
        .updateTable('requests')
        .set({ run_after: sql`now() + interval '2 minutes'` })
        .where(
          'event_id',
          'in',
          due.map((r) => r.event_id),
        )
        .execute();
    return due;
  }

  /** Counts a failed attempt at these requests and puts them off for `delayMs`. */
  async postpone(eventIds: string[], delayMs: number): Promise<void> {
    await this.db
      .updateTable('requests')
      .set({ attempts: sql`attempts + 1`, run_after: sql`now() + ${`${delayMs} milliseconds`}::interval` })
      .where('event_id', 'in', eventIds)
      .execute();
  }

  /** Deletes pending requests (about erased users: they may hold the old address). */
  async dropPending(eventIds: string[]): Promise<void> {
    if (eventIds.length) await this.db.deleteFrom('requests').where('event_id', 'in', eventIds).where('status', '=', 'pending').execute();
  }

  /** Marks those of these requests that are still pending as routed (dropping their data); answers their ids. */
  async markRouted(eventIds: string[]): Promise<string[]> {
    if (!eventIds.length) return [];
    const rows = await this.db
      .updateTable('requests')
      .set({ status: 'routed', data: null })
      .where('event_id', 'in', eventIds)
      .where('status', '=', 'pending')
      .returning('event_id')
      .execute();
    return rows.map((r) => r.event_id);
  }

  /** Pending requests per announcement (those still to route). */
  async pendingByAnnouncement(ids: string[]): Promise<Map<string, number>> {
    const rows = await this.db
      .selectFrom('requests')
      .select(['announcement_id', (eb) => eb.fn.countAll<string>().as('n')])
      .where('announcement_id', 'in', ids)
      .where('status', '=', 'pending')
      .groupBy('announcement_id')
      .execute();
    return new Map(rows.flatMap((r) => (r.announcement_id ? [[r.announcement_id, Number(r.n)] as const] : [])));
  }

  async deleteOfUser(userId: string): Promise<void> {
    await this.db.deleteFrom('requests').where('user_id', '=', userId).execute();
  }
}
