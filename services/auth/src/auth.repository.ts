import { sql, type ColumnType, type Generated, type Kysely } from 'kysely';
import type { JWK } from 'jose';

export interface AuthDB {
  credentials: {
    user_id: string;
    email: string;
    password_hash: string | null;
    created_at: Generated<Date>;
    last_login_at: Date | null;
    email_verified_at: Date | null;
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
    amr: Generated<string>;
  };
  refresh_tokens: { token_hash: string; session_id: string; created_at: Generated<Date>; expires_at: Date; used_at: Date | null };
  email_tokens: {
    token_hash: string;
    user_id: string;
    purpose: EmailTokenPurpose;
    email: string;
    created_at: Generated<Date>;
    expires_at: Date;
    used_at: Date | null;
  };
  mfa_totp: {
    user_id: string;
    secret_sealed: string;
    created_at: Generated<Date>;
    confirmed_at: Date | null;
    last_step: ColumnType<string | null, number | null, number | null>;
  };
  recovery_codes: { user_id: string; code_hash: string; used_at: Date | null };
  mfa_challenges: { token_hash: string; user_id: string; expires_at: Date; attempts: Generated<number>; used_at: Date | null };
  identities: { provider: string; subject: string; user_id: string; email: string | null; created_at: Generated<Date>; last_login_at: Date | null };
  oidc_flows: { state_hash: string; provider: string; code_verifier: string; nonce: string; expires_at: Date; used_at: Date | null };
  data_keys: { id: number; key: string; created_at: Generated<Date> };
  signing_keys: { kid: string; private_jwk: ColumnType<JWK, string, never>; public_jwk: ColumnType<JWK, string, never>; created_at: Generated<Date> };
}

export type EmailTokenPurpose = 'verify_email' | 'reset_password';

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
  async insertCredential(c: { userId: string; email: string; passwordHash: string | null; emailVerified?: boolean }): Promise<boolean> {
    const r = await this.db
      .insertInto('credentials')
      .values({ user_id: c.userId, email: c.email, password_hash: c.passwordHash, email_verified_at: c.emailVerified ? new Date() : null })
      .onConflict((oc) => oc.doNothing())
      .returning('user_id')
      .executeTakeFirst();
    return r !== undefined;
  }

  async touchLogin(userId: string): Promise<void> {
    await this.db
      .updateTable('credentials')
      .set({ last_login_at: sql`now()` })
      .where('user_id', '=', userId)
      .execute();
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

  async createSession(s: { id: string; userId: string; userAgent?: string; ip?: string; amr: string[] }): Promise<void> {
    await this.db
      .insertInto('sessions')
      .values({ id: s.id, user_id: s.userId, user_agent: s.userAgent ?? null, ip: s.ip ?? null, revoked_at: null, revoked_reason: null, amr: s.amr.join(' ') })
      .execute();
  }

  async addRefreshToken(sessionId: string, tokenHash: string, expiresAt: Date): Promise<void> {
    await this.db.insertInto('refresh_tokens').values({ token_hash: tokenHash, session_id: sessionId, expires_at: expiresAt, used_at: null }).execute();
  }

  /** A token's row without using it (to read whose it is before deciding). */
  peekEmailToken(hash: string, purpose: EmailTokenPurpose) {
    return this.db
      .selectFrom('email_tokens')
      .selectAll()
      .where('token_hash', '=', hash)
      .where('purpose', '=', purpose)
      .where('used_at', 'is', null)
      .where('expires_at', '>', sql<Date>`now()`)
      .executeTakeFirst();
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
    let q = this.db
      .updateTable('sessions')
      .set({ revoked_at: sql`now()`, revoked_reason: reason })
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null);
    if (sessionId) q = q.where('id', '=', sessionId);
    if (exceptId) q = q.where('id', '!=', exceptId);
    const rows = await q.returning('id').execute();
    return rows.map((r) => r.id);
  }

  // ------------------------------------------------------------ emailed tokens

  /** Stores a new token; earlier unused ones of the same purpose stop working (only the newest link works). */
  async newEmailToken(t: { hash: string; userId: string; purpose: EmailTokenPurpose; email: string; expiresAt: Date }): Promise<void> {
    await this.invalidateEmailTokens(t.userId, t.purpose);
    await this.db
      .insertInto('email_tokens')
      .values({ token_hash: t.hash, user_id: t.userId, purpose: t.purpose, email: t.email, expires_at: t.expiresAt, used_at: null })
      .execute();
  }

  /** Uses a token once: answers its row if it was unused, unexpired and of this purpose. */
  useEmailToken(hash: string, purpose: EmailTokenPurpose) {
    return this.db
      .updateTable('email_tokens')
      .set({ used_at: sql`now()` })
      .where('token_hash', '=', hash)
      .where('purpose', '=', purpose)
      .where('used_at', 'is', null)
      .where('expires_at', '>', sql<Date>`now()`)
      .returningAll()
      .executeTakeFirst();
  }

  async invalidateEmailTokens(userId: string, purpose: EmailTokenPurpose): Promise<void> {
    await this.db
      .updateTable('email_tokens')
      .set({ used_at: sql`now()` })
      .where('user_id', '=', userId)
      .where('purpose', '=', purpose)
      .where('used_at', 'is', null)
      .execute();
  }

  async markEmailVerified(userId: string, email: string): Promise<boolean> {
    const r = await this.db
      .updateTable('credentials')
      .set({ email_verified_at: sql`now()` })
      .where('user_id', '=', userId)
      .where('email', '=', email)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  // ------------------------------------------------------------ MFA

  totp(userId: string) {
    return this.db.selectFrom('mfa_totp').selectAll().where('user_id', '=', userId).executeTakeFirst();
  }

  /** Starts (or restarts) an unconfirmed enrolment. */
  async putPendingTotp(userId: string, sealed: string): Promise<void> {
    await this.db
      .insertInto('mfa_totp')
      .values({ user_id: userId, secret_sealed: sealed, confirmed_at: null, last_step: null })
      .onConflict((oc) => oc.column('user_id').doUpdateSet({ secret_sealed: sealed, confirmed_at: null, last_step: null, created_at: sql`now()` }))
      .execute();
  }

  /** Records the step a code matched, only if it is newer than the last one used (no replay, no race). */
  async useTotpStep(userId: string, step: number, confirm = false): Promise<boolean> {
    const r = await this.db
      .updateTable('mfa_totp')
      .set({ last_step: step, ...(confirm && { confirmed_at: sql`now()` }) })
      .where('user_id', '=', userId)
      .where((eb) => eb.or([eb('last_step', 'is', null), eb('last_step', '<', String(step))]))
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async deleteTotp(userId: string): Promise<void> {
    await this.db.deleteFrom('mfa_totp').where('user_id', '=', userId).execute();
    await this.db.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
  }

  async replaceRecoveryCodes(userId: string, hashes: string[]): Promise<void> {
    await this.db.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
    await this.db
      .insertInto('recovery_codes')
      .values(hashes.map((h) => ({ user_id: userId, code_hash: h, used_at: null })))
      .execute();
  }

  async useRecoveryCode(userId: string, hash: string): Promise<boolean> {
    const r = await this.db
      .updateTable('recovery_codes')
      .set({ used_at: sql`now()` })
      .where('user_id', '=', userId)
      .where('code_hash', '=', hash)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async recoveryCodesLeft(userId: string): Promise<number> {
    const r = await this.db
      .selectFrom('recovery_codes')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('user_id', '=', userId)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  async newChallenge(hash: string, userId: string, expiresAt: Date): Promise<void> {
    await this.db.insertInto('mfa_challenges').values({ token_hash: hash, user_id: userId, expires_at: expiresAt, used_at: null }).execute();
  }

  /** Counts an attempt on a live challenge; answers it, or undefined if unknown, used, expired or out of attempts. */
  attemptChallenge(hash: string, maxAttempts: number) {
    return this.db
      .updateTable('mfa_challenges')
      .set((eb) => ({ attempts: eb('attempts', '+', 1) }))
      .where('token_hash', '=', hash)
      .where('used_at', 'is', null)
      .where('expires_at', '>', sql<Date>`now()`)
      .where('attempts', '<', maxAttempts)
      .returningAll()
      .executeTakeFirst();
  }

  async finishChallenge(hash: string): Promise<boolean> {
    const r = await this.db
      .updateTable('mfa_challenges')
      .set({ used_at: sql`now()` })
      .where('token_hash', '=', hash)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** The install's data key, created on first use. Of two nodes racing, both end up with the first stored. */
  async dataKey(make: () => string): Promise<string> {
    await this.db
      .insertInto('data_keys')
      .values({ id: 1, key: make() })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
    return (await this.db.selectFrom('data_keys').select('key').where('id', '=', 1).executeTakeFirstOrThrow()).key;
  }

  // ------------------------------------------------------------ external identities

  identity(provider: string, subject: string) {
    return this.db.selectFrom('identities').selectAll().where('provider', '=', provider).where('subject', '=', subject).executeTakeFirst();
  }

  async linkIdentity(i: { provider: string; subject: string; userId: string; email: string | null }): Promise<void> {
    await this.db
      .insertInto('identities')
      .values({ provider: i.provider, subject: i.subject, user_id: i.userId, email: i.email, last_login_at: new Date() })
      .onConflict((oc) => oc.columns(['provider', 'subject']).doUpdateSet({ last_login_at: sql`now()` }))
      .execute();
  }

  async newOidcFlow(f: { stateHash: string; provider: string; codeVerifier: string; nonce: string; expiresAt: Date }): Promise<void> {
    await this.db
      .insertInto('oidc_flows')
      .values({ state_hash: f.stateHash, provider: f.provider, code_verifier: f.codeVerifier, nonce: f.nonce, expires_at: f.expiresAt, used_at: null })
      .execute();
  }

  /** Takes a flow once: a state works for one callback only. */
  useOidcFlow(stateHash: string, provider: string) {
    return this.db
      .updateTable('oidc_flows')
      .set({ used_at: sql`now()` })
      .where('state_hash', '=', stateHash)
      .where('provider', '=', provider)
      .where('used_at', 'is', null)
      .where('expires_at', '>', sql<Date>`now()`)
      .returningAll()
      .executeTakeFirst();
  }

  // ------------------------------------------------------------ privacy

  /** Everything this service holds about a user, for their data export (never hashes or secrets). */
  async exportUser(userId: string) {
    const cred = await this.db
      .selectFrom('credentials')
      .select(['email', 'created_at', 'last_login_at', 'email_verified_at'])
      .where('user_id', '=', userId)
      .executeTakeFirst();
    const sessions = await this.db
      .selectFrom('sessions')
      .select(['id', 'user_agent', 'ip', 'created_at', 'last_used_at', 'revoked_at', 'revoked_reason', 'amr'])
      .where('user_id', '=', userId)
      .orderBy('created_at')
      .execute();
    const identities = await this.db
      .selectFrom('identities')
      .select(['provider', 'subject', 'email', 'created_at', 'last_login_at'])
      .where('user_id', '=', userId)
      .execute();
    const totp = await this.totp(userId);
    return { credentials: cred ?? null, sessions, identities, mfa: { totp: Boolean(totp?.confirmed_at), enabledAt: totp?.confirmed_at ?? null } };
  }

  /** Erases a user's credentials, sessions, tokens, second factors and identities. */
  async eraseUser(userId: string): Promise<void> {
    const sessionIds = this.db.selectFrom('sessions').select('id').where('user_id', '=', userId);
    await this.db.deleteFrom('refresh_tokens').where('session_id', 'in', sessionIds).execute();
    for (const t of ['sessions', 'email_tokens', 'mfa_totp', 'recovery_codes', 'mfa_challenges', 'identities', 'credentials'] as const) {
      await this.db.deleteFrom(t).where('user_id', '=', userId).execute();
    }
  }
}
