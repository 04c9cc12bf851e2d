import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Selectable } from 'kysely';
import type { NotificationsDB } from '../db.js';

export type PushSubscriptionRow = Selectable<NotificationsDB['push_subscriptions']>;

/** The browsers (web push subscriptions) of each user. */
export class PushSubscriptionsRepository {
  constructor(private readonly db: Kysely<NotificationsDB>) {}

  async countOfUser(userId: string): Promise<number> {
    const r = await this.db
      .selectFrom('push_subscriptions')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  /** How many devices each of these users has (users without one are absent). */
  async countsOf(userIds: string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (!userIds.length) return out;
    const counts = await this.db
      .selectFrom('push_subscriptions')
      .select(['user_id', (eb) => eb.fn.countAll<string>().as('n')])
      .where('user_id', 'in', userIds)
      .groupBy('user_id')
      .execute();
    for (const c of counts) out.set(c.user_id, Number(c.n));
    return out;
  }

  byEndpoint(endpoint: string): Promise<{ id: string; user_id: string } | undefined> {
    return this.db.selectFrom('push_subscriptions').select(['id', 'user_id']).where('endpoint', '=', endpoint).executeTakeFirst();
  }

  /** Saves a subscription; the same endpoint again (a refreshed one, or another account in that browser) moves to `userId`. */
  save(s: { userId: string; endpoint: string; p256dh: string; auth: string; userAgent: string | null }): Promise<PushSubscriptionRow> {
    return this.db
      .insertInto('push_subscriptions')
      .values({ id: randomUUID(), user_id: s.userId, endpoint: s.endpoint, p256dh: s.p256dh, auth: s.auth, user_agent: s.userAgent, last_success_at: null })
      .onConflict((oc) => oc.column('endpoint').doUpdateSet({ user_id: s.userId, p256dh: s.p256dh, auth: s.auth, user_agent: s.userAgent }))
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  ofUser(userId: string): Promise<PushSubscriptionRow[]> {
    return this.db.selectFrom('push_subscriptions').selectAll().where('user_id', '=', userId).orderBy('created_at').execute();
  }

  /** Removes one of the user's subscriptions; false when there is no such one of theirs. */
  async remove(userId: string, id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('push_subscriptions').where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** Forgets subscriptions a push service said are gone for good. */
  async forget(ids: string[]): Promise<void> {
    if (ids.length) await this.db.deleteFrom('push_subscriptions').where('id', 'in', ids).execute();
  }

  async markSucceeded(ids: string[]): Promise<void> {
    if (ids.length)
      await this.db
        .updateTable('push_subscriptions')
        .set({ last_success_at: sql`now()` })
        .where('id', 'in', ids)
        .execute();
  }

  async deleteOfUser(userId: string): Promise<void> {
    await this.db.deleteFrom('push_subscriptions').where('user_id', '=', userId).execute();
  }
}
