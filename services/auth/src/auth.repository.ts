import { sql, type ColumnType, type Generated, type Kysely } from 'kysely';
import type { JWK } from 'jose';

export interface AuthDB {
  credentials: {
    user_id: string;
    email: string;
    password_hash: string;
    created_at: Generated<Date>;
    last_login_at: Date | null;
  };
  signing_keys: { kid: string; private_jwk: ColumnType<JWK, string, never>; public_jwk: ColumnType<JWK, string, never>; created_at: Generated<Date> };
}

export class AuthRepository {
  constructor(private readonly db: Kysely<AuthDB>) {}

  byEmail(email: string) {
    return this.db.selectFrom('credentials').selectAll().where('email', '=', email).executeTakeFirst();
  }

  /** False when the email is already registered. */
  async insertCredential(c: { userId: string; email: string; passwordHash: string }): Promise<boolean> {
    const r = await this.db
      .insertInto('credentials')
      .values({ user_id: c.userId, email: c.email, password_hash: c.passwordHash })
      .onConflict((oc) => oc.doNothing())
      .returning('user_id')
      .executeTakeFirst();
    return r !== undefined;
  }

  async touchLogin(userId: string): Promise<void> {
    await this.db.updateTable('credentials').set({ last_login_at: sql`now()` }).where('user_id', '=', userId).execute();
  }

  async keys() {
    return this.db.selectFrom('signing_keys').selectAll().orderBy('created_at', 'desc').execute();
  }

  /** Stores a key unless another node stored one first; both then use the newest. */
  async insertKey(kid: string, privateJwk: JWK, publicJwk: JWK): Promise<void> {
    await this.db
      .insertInto('signing_keys')
      .values({ kid, private_jwk: JSON.stringify(privateJwk), public_jwk: JSON.stringify(publicJwk) })
      .execute();
  }
}
