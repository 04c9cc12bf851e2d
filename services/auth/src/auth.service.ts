import { hash, verify } from '@node-rs/argon2';
import { auth, authBroadcasts, authEvents, DomainError, userEvents, usersInternal, type Profile } from '@lms/contracts';
import { addToOutbox, consumer, createRateLimiter, defineService, type Emit, type HandlerArgs } from '@lms/runtime';
import type { Kysely, Transaction } from 'kysely';
import { createHash, randomUUID } from 'node:crypto';
import { AuthRepository, type AuthDB } from './auth.repository.js';
import * as m0 from './migrations/20261124000000_auth.js';
import * as m1 from './migrations/20261124120000_sessions.js';
import { passwordProblem } from './domain/password-policy.js';
import { LoginThrottle } from './throttle.js';
import { ACCESS_TTL_S, hashRefreshToken, newRefreshToken, REFRESH_TTL_S, TokenIssuer } from './tokens.js';

// OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane.
const ARGON = { algorithm: 2 /* Algorithm.Argon2id (a const enum) */, memoryCost: 19_456, timeCost: 2, parallelism: 1 };
// Verified when the email is unknown, so a miss costs as long as a hit.
const DUMMY_HASH = hash('not-a-real-password', ARGON);

type Client = { ip: string; userAgent?: string } | undefined;
type Tx = HandlerArgs<typeof auth.login, AuthDB, unknown>['tx'];

/**
 * Opens a session (a refresh-token family). Its rows, and whatever `also` emits, commit together;
 * the access token is signed after the commit: inside the transaction, the signing-key lookup would
 * wait for the one connection embedded mode has.
 */
async function openSession(tx: Tx, tokens: TokenIssuer, profile: Profile, client: Client, also?: (emit: Emit, sessionId: string) => Promise<unknown>) {
  const sessionId = randomUUID();
  const refresh = newRefreshToken();
  await tx(async (trx, emit) => {
    const repo = new AuthRepository(trx);
    await repo.createSession({ id: sessionId, userId: profile.id, userAgent: client?.userAgent, ip: client?.ip });
    await repo.addRefreshToken(sessionId, refresh.hash, new Date(Date.now() + REFRESH_TTL_S * 1000));
    await also?.(emit, sessionId);
  });
  return answer(profile, await tokens.issue(profile, sessionId), refresh.token, sessionId);
}

/** Tells every gateway, at once, to refuse access tokens of these sessions until they would expire anyway. */
function announceRevoked(broker: { broadcast(name: string, payload: unknown): unknown }, sessionIds: string[]): void {
  if (sessionIds.length === 0) return;
  const payload = authBroadcasts.sessionsRevoked.payload.parse({ sessionIds, until: Date.now() + ACCESS_TTL_S * 1000 });
  void broker.broadcast(authBroadcasts.sessionsRevoked.name, payload);
}

/** Revokes sessions and records it in the outbox, in one transaction; then tells the gateways. */
async function revoke(
  tx: Tx,
  broker: { broadcast(name: string, payload: unknown): unknown },
  userId: string,
  reason: string,
  by: string | null,
  which: { sessionId?: string; exceptId?: string } = {},
): Promise<number> {
  const ids = await tx(async (trx, emit) => {
    const revoked = await new AuthRepository(trx).revokeSessions(userId, reason, which.sessionId, which.exceptId);
    if (revoked.length > 0) await emit(authEvents.sessionsRevoked, { userId, count: revoked.length, reason, by }, userId);
    return revoked;
  });
  announceRevoked(broker, ids);
  return ids.length;
}

const clientFields = (client: Client) => ({ ip: client?.ip ?? null, userAgent: client?.userAgent ?? null });
const emailHash = (email: string) => createHash('sha256').update(email).digest('hex');

function answer(profile: Profile, accessToken: string, refreshToken: string, sessionId: string) {
  return {
    user: { id: profile.id, email: profile.email, displayName: profile.displayName, roles: profile.roles },
    accessToken,
    tokenType: 'Bearer' as const,
    expiresIn: ACCESS_TTL_S,
    refreshToken,
    refreshExpiresIn: REFRESH_TTL_S,
    sessionId,
  };
}

function checkPassword(password: string, context: { email: string; displayName?: string }, field: string): void {
  const problem = passwordProblem(password, context);
  if (problem) {
    throw new DomainError('VALIDATION_FAILED', `Invalid input: ${field}: ${problem}`, {
      issues: [{ path: field, message: problem, code: 'weak_password' }],
    });
  }
}

function mustBeActive(profile: Profile): void {
  if (profile.status !== 'active') throw new DomainError('ACCOUNT_DEACTIVATED', 'This account is deactivated');
}

const invalidRefresh = () => new DomainError('TOKEN_INVALID', 'The refresh token is not valid; log in again');

/** Accounts' credentials and access tokens (EdDSA JWTs); profiles live in the users service. */
export const authService = defineService({
  name: 'auth',
  contracts: auth,
  migrations: { '20261124000000_auth': m0, '20261124120000_sessions': m1 },
  dependencies: ['users'],
  repository: (db: Kysely<AuthDB>, runtime) => {
    const repo = new AuthRepository(db);
    const log = runtime.logger('auth');
    const limiter = createRateLimiter(runtime.config, (err) => log.warn({ err: String(err) }, 'login throttle unavailable'));
    return { repo, tokens: new TokenIssuer(repo), throttle: new LoginThrottle(limiter), broker: runtime.broker };
  },
  stopped: ({ throttle }) => throttle.close(),
  consumers: [
    consumer({
      name: 'users',
      event: userEvents.deactivated,
      // A deactivated user's sessions end: refresh stops at once, access tokens at their expiry.
      handle: async (p, _event, trx: Transaction<AuthDB>, runtime) => {
        const ids = await new AuthRepository(trx).revokeSessions(p.userId, 'user_deactivated');
        if (ids.length === 0) return;
        await addToOutbox(trx, authEvents.sessionsRevoked, { userId: p.userId, count: ids.length, reason: 'user_deactivated', by: p.by }, { key: p.userId });
        // Announced before this transaction commits: at worst a gateway refuses a little early.
        announceRevoked(runtime.broker, ids);
      },
    }),
  ],
  handlers: {
    async register({ input, repo: { repo, tokens }, call, logger, client, tx }) {
      checkPassword(input.password, input, 'password');
      if (await repo.byEmail(input.email)) throw new DomainError('EMAIL_TAKEN', 'An account with this email already exists');
      const passwordHash = await hash(input.password, ARGON);
      const id = randomUUID();
      const profile = await call(usersInternal.create, { id, email: input.email, displayName: input.displayName });
      if (!(await repo.insertCredential({ userId: id, email: input.email, passwordHash }))) {
        // Lost a race for the email: undo the profile so nothing half-made is left.
        await call(usersInternal.remove, { id });
        throw new DomainError('EMAIL_TAKEN', 'An account with this email already exists');
      }
      logger.info({ userId: id, admin: profile.roles.includes('admin') }, 'account registered');
      return openSession(tx, tokens, profile, client);
    },
    async login({ input, repo: { repo, tokens, throttle }, call, client, tx }) {
      const failed = (reason: 'bad_credentials' | 'throttled' | 'deactivated', userId: string | null) =>
        tx((_trx, emit) => emit(authEvents.loginFailed, { emailHash: emailHash(input.email), userId, reason, ...clientFields(client) }));
      await throttle.check(input.email, client?.ip).catch(async (err) => {
        await failed('throttled', null);
        throw err;
      });
      const cred = await repo.byEmail(input.email);
      const ok = await verify(cred?.password_hash ?? (await DUMMY_HASH), input.password).catch(() => false);
      if (!cred || !ok) {
        await throttle.failed(input.email, client?.ip);
        await failed('bad_credentials', cred?.user_id ?? null);
        throw new DomainError('INVALID_CREDENTIALS', 'Email or password is wrong');
      }
      await throttle.succeeded(input.email);
      const profile = await call(usersInternal.byId, { id: cred.user_id });
      if (profile.status !== 'active') await failed('deactivated', profile.id);
      mustBeActive(profile);
      await repo.touchLogin(cred.user_id);
      return openSession(tx, tokens, profile, client, (emit, sessionId) =>
        emit(authEvents.loginSucceeded, { userId: profile.id, sessionId, ...clientFields(client) }, profile.id),
      );
    },
    async changePassword({ input, caller, client, repo: { repo, throttle, broker }, logger, tx }) {
      const cred = await repo.byUserId(caller!.userId);
      if (!cred) throw new DomainError('INVALID_CREDENTIALS', 'Current password is wrong');
      await throttle.check(cred.email, client?.ip);
      if (!(await verify(cred.password_hash, input.currentPassword).catch(() => false))) {
        await throttle.failed(cred.email, client?.ip);
        throw new DomainError('INVALID_CREDENTIALS', 'Current password is wrong');
      }
      checkPassword(input.newPassword, { email: cred.email }, 'newPassword');
      const newHash = await hash(input.newPassword, ARGON);
      await tx(async (trx, emit) => {
        await new AuthRepository(trx).setPassword(cred.user_id, newHash);
        await emit(authEvents.passwordChanged, { userId: cred.user_id, ...clientFields(client) }, cred.user_id);
      });
      const n = await revoke(tx, broker, cred.user_id, 'password_changed', cred.user_id, { exceptId: caller!.sessionId });
      logger.info({ userId: cred.user_id, otherSessionsRevoked: n }, 'password changed');
      return { changed: true as const, otherSessionsRevoked: n };
    },
    async refresh({ input, repo: { repo, tokens, broker }, call, tx, client, logger }) {
      const oldHash = hashRefreshToken(input.refreshToken);
      const found = await repo.findRefreshToken(oldHash);
      if (!found) throw invalidRefresh();
      const s = await repo.session(found.session_id);
      if (!s || s.revoked_at) throw invalidRefresh();
      if (found.used_at) {
        // A rotated token came back: it was stolen, or the client was. End the whole family.
        await revoke(tx, broker, s.user_id, 'refresh_token_reuse', null, { sessionId: s.id });
        logger.warn({ userId: s.user_id, sessionId: s.id, ip: client?.ip }, 'refresh token reused: session revoked');
        throw invalidRefresh();
      }
      if (found.expires_at.getTime() <= Date.now()) throw invalidRefresh();
      // Roles may have changed since the last token: read them before the transaction (no remote call inside one).
      const profile = await call(usersInternal.byId, { id: s.user_id });
      mustBeActive(profile);
      const next = newRefreshToken();
      const rotated = await tx((trx) =>
        new AuthRepository(trx).rotateRefreshToken(oldHash, { hash: next.hash, sessionId: s.id, expiresAt: new Date(Date.now() + REFRESH_TTL_S * 1000) }),
      );
      if (!rotated) {
        await revoke(tx, broker, s.user_id, 'refresh_token_reuse', null, { sessionId: s.id });
        throw invalidRefresh();
      }
      await repo.touchSession(s.id, client);
      return answer(profile, await tokens.issue(profile, s.id), next.token, s.id);
    },
    async logout({ caller, tx, repo: { broker } }) {
      if (!caller!.sessionId) return { revoked: false };
      return { revoked: (await revoke(tx, broker, caller!.userId, 'logout', caller!.userId, { sessionId: caller!.sessionId })) > 0 };
    },
    async sessions({ caller, repo: { repo } }) {
      const rows = await repo.activeSessions(caller!.userId);
      return {
        items: rows.map((r) => ({
          id: r.id,
          userAgent: r.user_agent,
          ip: r.ip,
          createdAt: r.created_at.toISOString(),
          lastUsedAt: r.last_used_at.toISOString(),
          current: r.id === caller!.sessionId,
        })),
      };
    },
    async revokeSession({ input, caller, tx, repo: { broker } }) {
      // Only the caller's own sessions match: someone else's id is simply not found.
      const n = await revoke(tx, broker, caller!.userId, 'revoked_by_user', caller!.userId, { sessionId: input.sessionId });
      if (n === 0) throw new DomainError('NOT_FOUND', 'No such active session');
      return { revoked: true };
    },
    async revokeAllSessions({ caller, tx, repo: { broker } }) {
      return { revoked: await revoke(tx, broker, caller!.userId, 'revoked_all_by_user', caller!.userId) };
    },
    async rotateKeys({ repo: { tokens }, logger, caller }) {
      const r = await tokens.rotate();
      logger.info({ kid: r.kid, by: caller!.userId }, 'signing key rotated');
      return r;
    },
    async jwks({ repo: { tokens } }) {
      return (await tokens.jwks()) as { keys: Array<{ kty: string; kid: string; alg: string; use: string; crv: string; x: string }> };
    },
  },
});
