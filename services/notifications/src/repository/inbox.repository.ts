import { decodeCursor } from '@lms/runtime';
import { sql, type Insertable, type Kysely } from 'kysely';
import type { InboxRow, NotificationsDB } from '../db.js';

/** The in-app inbox: one row per notification a user sees in the app. */
export class InboxRepository {
  constructor(private readonly db: Kysely<NotificationsDB>) {}

  /** A page of a user's inbox, newest first (one row more than `limit`, for the next cursor). */
  page(userId: string, p: { unread?: boolean; cursor?: string; limit: number }): Promise<InboxRow[]> {
    let q = this.db.selectFrom('inbox').selectAll().where('user_id', '=', userId);
    if (p.unread) q = q.where('read_at', 'is', null);
    if (p.cursor) {
      const c = decodeCursor(p.cursor);
      q = q.where(sql<boolean>`(created_at, id) < (${c.createdAt}, ${c.id}::uuid)`);
    }
    return q
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(p.limit + 1)
      .execute();
  }

  async unreadCount(userId: string): Promise<number> {
    const r = await this.db
      .selectFrom('inbox')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('user_id', '=', userId)
      .where('read_at', 'is', null)
      .executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  /** Marks one of the user's notifications read (kept as first read); undefined when it is not theirs. */
  markRead(userId: string, id: string): Promise<InboxRow | undefined> {
    return this.db
      .updateTable('inbox')
      .set({ read_at: sql`coalesce(read_at, now())` })
      .where('id', '=', id)
      .where('user_id', '=', userId)
      .returningAll()
      .executeTakeFirst();
  }

  async markAllRead(userId: string): Promise<number> {
    const r = await this.db
      .updateTable('inbox')
      .set({ read_at: sql`now()` })
      .where('user_id', '=', userId)
      .where('read_at', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  /** Writes in-app copies, once per event: answers the rows actually written. */
  add(items: Array<Insertable<NotificationsDB['inbox']>>): Promise<InboxRow[]> {
    if (!items.length) return Promise.resolve([]);
    return this.db
      .insertInto('inbox')
      .values(items)
      .onConflict((oc) => oc.column('event_id').doNothing())
      .returningAll()
      .execute();
  }

  ofUser(userId: string): Promise<InboxRow[]> {
    return this.db.selectFrom('inbox').selectAll().where('user_id', '=', userId).orderBy('created_at').execute();
  }

  async deleteOfUser(userId: string): Promise<void> {
    await this.db.deleteFrom('inbox').where('user_id', '=', userId).execute();
  }
}
