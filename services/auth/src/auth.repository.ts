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
  sessions: {
    id: string;
    user_id: string;
    user_agent: string | null;
    ip: string | null;
    created_at: Generated<Date>;
    last_used_at: Generated<Date>;
    revoked_at: Date | null;
    revoked_reason: string | null;
  };
  refresh_tokens: { token_hash: string; session_id: string; created_at: Generated<Date>; expires_at: Date; used_at: Date | null };
  signing_keys: { kid: string; private_jwk: ColumnType<JWK, string, never>; public_jwk: ColumnType<JWK, string, never>; created_at: Generated<Date> };
}

export class AuthRepository {
  constructor(private readonly db: Kysely<AuthDB>) {}

  byEmail(email: string) {
    return this.db.selectFrom('credentials').selectAll().where('email', '=', email).executeTakeFirst();
  }

  byUserId(userId: string) {
    return this.db.selectFrom('credentials').selectAll().where('user_id', '=', userId).executeTakeFirst();
  }

  async setPassword(userId: string, passwordHash: string): Promise<void> {
    await this.db.updateTable('credentials').set({ password_hash: passwordHash }).where('user_id', '=', userId).execute();
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

  async createSession(s: { id: string; userId: string; userAgent?: string; ip?: string }): Promise<void> {
    await this.db.insertInto('sessions').values({ id: s.id, user_id: s.userId, user_agent: s.userAgent ?? null, ip: s.ip ?? null, revoked_at: null, revoked_reason: null }).execute();
  }

  async addRefreshToken(sessionId: string, tokenHash: string, expiresAt: Date): Promise<void> {
    await this.db.insertInto('refresh_tokens').values({ token_hash: tokenHash, session_id: sessionId, expires_at: expiresAt, used_at: null }).execute();
  }

  findRefreshToken(tokenHash: string) {
    return this.db.selectFrom('refresh_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
  }

  /**
   * Marks a refresh token used and stores its successor, if it was still unused: of two concurrent
   * uses only one rotates. Run it in a transaction so that both rows change together.
   */
  async rotateRefreshToken(oldHash: string, next: { hash: string; sessionId: string; expiresAt: Date }): Promise<boolean> {
    const used = await this.db
      .updateTable('refresh_tokens')
      .set({ used_at: sql`now()` })
      .where('token_hash', '=', oldHash)
      .where('used_at', 'is', null)
      .returning('session_id')
      .executeTakeFirst();
    if (!used) return false;
    await this.addRefreshToken(next.sessionId, next.hash, next.expiresAt);
    return true;
  }

  session(id: string) {
    return this.db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async touchSession(id: string, client?: { ip: string; userAgent?: string }): Promise<void> {
    await this.db
      .updateTable('sessions')
      .set({ last_used_at: sql`now()`, ...(client && { ip: client.ip, user_agent: client.userAgent ?? null }) })
      .where('id', '=', id)
      .execute();
  }

  activeSessions(userId: string) {
    return this.db.selectFrom('sessions').selectAll().where('user_id', '=', userId).where('revoked_at', 'is', null).orderBy('last_used_at', 'desc').execute();
  }

  /** Revokes sessions of a user (all, one, or all but one); returns the ids of those that were active. */
  async revokeSessions(userId: string, reason: string, sessionId?: string, exceptId?: string): Promise<string[]> {
    let q = this.db.updateTable('sessions').set({ revoked_at: sql`now()`, revoked_reason: reason }).where('user_id', '=', userId).where('revoked_at', 'is', null);
    if (sessionId) q = q.where('id', '=', sessionId);
    if (exceptId) q = q.where('id', '!=', exceptId);
    const rows = await q.returning('id').execute();
    return rows.map((r) => r.id);
  }
}
