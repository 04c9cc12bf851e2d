import type { Kysely } from 'kysely';
import type { NotificationsDB } from '../db.js';

/** Secrets made once per install (unsubscribe signing key, VAPID pair). */
export class KeysRepository {
  constructor(private readonly db: Kysely<NotificationsDB>) {}

  /** The key kept under `id`: the first node to ask writes `make()`, the others read it. */
  async kept(id: number, make: () => string): Promise<string> {
    await this.db
      .insertInto('keys')
      .values({ id, key: make() })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
    return (await this.db.selectFrom('keys').select('key').where('id', '=', id).executeTakeFirstOrThrow()).key;
  }
}
