import { hash, verify } from '@node-rs/argon2';
import { authEvents, DomainError, notificationEvents, type NotificationTemplate, type Profile } from '@lms/contracts';
import type { Emit, RunUnit, Sealer, UnitOfWork } from '@lms/runtime';
import { createHash, randomUUID } from 'node:crypto';
import type { AuthDB, AuthRepository, EmailTokenPurpose } from '../auth.repository.js';
import type { AuthDeps } from '../deps.js';
import { passwordProblem } from '../domain/password-policy.js';
import { normaliseRecoveryCode, verifyTotp } from '../domain/totp.js';
import type { Throttle } from '../throttle.js';
import { newOpaqueToken, newRefreshToken } from '../tokens.js';

/** Helpers shared by the handler files: sessions, emailed tokens, password and second-factor checks. */

// OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane.
const ARGON = { algorithm: 2 /* Algorithm.Argon2id (a const enum) */, memoryCost: 19_456, timeCost: 2, parallelism: 1 };
// Verified when the email is unknown, so a miss costs as long as a hit.
const DUMMY_HASH = hash('not-a-real-password', ARGON);
export const hashPassword = (password: string) => hash(password, ARGON);

/** Whether `password` matches `passwordHash`; an unknown account (no hash) costs one verification too and never matches. */
export async function passwordMatches(passwordHash: string | null | undefined, password: string): Promise<boolean> {
  // argon2 rejects a malformed stored hash: that is no match, not an outage.
  const ok = await verify(passwordHash ?? (await DUMMY_HASH), password).catch(() => false);
  return Boolean(passwordHash) && ok;
}

export const MFA_CHALLENGE_TTL_S = 300;
export const MFA_CHALLENGE_ATTEMPTS = 5;

export type Client = { ip: string; userAgent?: string } | undefined;
export type AuthUnit = RunUnit<AuthDB, AuthRepository>;

export const sha256 = (s: string) => createHash('sha256').update(s).digest('base64url');
export const emailHash = (email: string) => createHash('sha256').update(email).digest('hex');
export const clientFields = (client: Client) => ({ ip: client?.ip ?? null, userAgent: client?.userAgent ?? null });
export const invalidRefresh = () => new DomainError('TOKEN_INVALID', 'The refresh token is not valid; log in again');

/** The answer of every sign-in: the profile, the access token and the refresh token. */
export function answer(deps: AuthDeps, profile: Profile, accessToken: string, refreshToken: string, sessionId: string) {
  return {
    user: { id: profile.id, email: profile.email, displayName: profile.displayName, roles: profile.roles },
    accessToken,
    tokenType: 'Bearer' as const,
    expiresIn: deps.tokens.settings.accessTtlS,
    refreshToken,
    refreshExpiresIn: deps.tokens.settings.refreshTtlS,
    sessionId,
  };
}

/**
 * Opens a session (a refresh-token family). Its rows, and whatever `also` emits, commit together;
 * the access token is signed after the commit (the signing key may need writing: not in this unit).
 */
export async function openSession(
  uow: AuthUnit,
  deps: AuthDeps,
  profile: Profile,
  client: Client,
  also?: (w: UnitOfWork<AuthDB, AuthRepository>, sessionId: string) => Promise<unknown>,
  amr: string[] = ['pwd'],
) {
  const sessionId = randomUUID();
  const refresh = newRefreshToken();
  await uow(async (w) => {
    await w.repo.createSession({ id: sessionId, userId: profile.id, userAgent: client?.userAgent, ip: client?.ip, amr });
    await w.repo.addRefreshToken(sessionId, refresh.hash, new Date(Date.now() + deps.tokens.settings.refreshTtlS * 1000));
    await also?.(w, sessionId);
  });
  return answer(deps, profile, await deps.tokens.issue(profile, sessionId, amr), refresh.token, sessionId);
}

/**
 * Stores a single-use emailed token (its hash) and asks for the message, in the caller's unit of work:
 * the token exists if and only if the message request does.
 */
export async function sendEmailToken(
  { repo, emit }: Pick<UnitOfWork<AuthDB, AuthRepository>, 'repo' | 'emit'>,
  deps: AuthDeps,
  to: { userId: string; email: string; displayName: string },
  purpose: EmailTokenPurpose,
) {
  const t = newOpaqueToken();
  const ttl = deps.emailTokenTtlS[purpose];
  await repo.newEmailToken({ hash: t.hash, userId: to.userId, purpose, email: to.email, expiresAt: new Date(Date.now() + ttl * 1000) });
  const template: NotificationTemplate = purpose === 'verify_email' ? 'email_verification' : 'password_reset';
  const data = { token: t.token, displayName: to.displayName, expiresInHours: String(Math.round(ttl / 3600)), expiresInMinutes: String(Math.round(ttl / 60)) };
  await emit(notificationEvents.requested, { userId: to.userId, to: to.email, template, data }, to.userId);
}

/** A security notice to the account's owner (password changed, MFA on/off). */
export function notify(emit: Emit, to: { id: string; email: string; displayName: string }, template: NotificationTemplate) {
  return emit(notificationEvents.requested, { userId: to.id, to: to.email, template, data: { displayName: to.displayName } }, to.id);
}

/** Revokes sessions and records it in the outbox, in one unit of work; then tells the gateways. */
export async function revoke(
  uow: AuthUnit,
  deps: AuthDeps,
  userId: string,
  reason: string,
  by: string | null,
  which: { sessionId?: string; exceptId?: string } = {},
): Promise<number> {
  const ids = await uow(async ({ repo, emit }) => {
    const revoked = await repo.revokeSessions(userId, reason, which.sessionId, which.exceptId);
    if (revoked.length > 0) await emit(authEvents.sessionsRevoked, { userId, count: revoked.length, reason, by }, userId);
    return revoked;
  });
  deps.announceRevoked(ids);
  return ids.length;
}

export function checkPassword(password: string, context: { email: string; displayName?: string }, field: string): void {
  const problem = passwordProblem(password, context);
  if (problem) {
    throw new DomainError('VALIDATION_FAILED', `Invalid input: ${field}: ${problem}`, {
      issues: [{ path: field, message: problem, code: 'weak_password' }],
    });
  }
}

/** Checks a password with the login throttle; an account without a password (OIDC only) never matches. */
export async function checkCurrentPassword(
  cred: { email: string; password_hash: string | null },
  password: string,
  throttle: Throttle,
  ip: string | undefined,
  what = 'Password',
) {
  await throttle.check(cred.email, ip);
  if (!(await passwordMatches(cred.password_hash, password))) {
    await throttle.failed(cred.email, ip);
    throw new DomainError('INVALID_CREDENTIALS', `${what} is wrong`);
  }
}

/** A second-factor challenge when the user has TOTP on; undefined otherwise. */
export async function mfaChallengeFor(repo: AuthRepository, userId: string) {
  if (!(await repo.totp(userId))?.confirmed_at) return undefined;
  const challenge = newOpaqueToken();
  await repo.newChallenge(challenge.hash, userId, new Date(Date.now() + MFA_CHALLENGE_TTL_S * 1000));
  return { mfaRequired: true as const, mfaToken: challenge.token, expiresIn: MFA_CHALLENGE_TTL_S, methods: ['totp' as const, 'recovery_code' as const] };
}

/**
 * Checks a TOTP code (once per time step) or a recovery code (once each) of a user with TOTP on.
 * Answers which kind matched, or null.
 */
export async function checkSecondFactor(
  repo: AuthRepository,
  sealer: Sealer,
  userId: string,
  f: { code?: string; recoveryCode?: string },
): Promise<'totp' | 'recovery_code' | null> {
  const totp = await repo.totp(userId);
  if (!totp?.confirmed_at) return null;
  if (f.code) {
    const step = verifyTotp(sealer.open(totp.secret_sealed, userId), f.code, totp.last_step === null ? null : Number(totp.last_step));
    return step !== null && (await repo.useTotpStep(userId, step)) ? 'totp' : null;
  }
  if (f.recoveryCode) return (await repo.useRecoveryCode(userId, sha256(normaliseRecoveryCode(f.recoveryCode)))) ? 'recovery_code' : null;
  return null;
}

export function mustBeActive(profile: Profile): void {
  if (profile.status !== 'active') throw new DomainError('ACCOUNT_DEACTIVATED', 'This account is deactivated');
}

export function toSessionInfo(rows: Awaited<ReturnType<AuthRepository['activeSessions']>>, currentId: string | undefined) {
  return rows.map((r) => ({
    id: r.id,
    userAgent: r.user_agent,
    ip: r.ip,
    createdAt: r.created_at.toISOString(),
    lastUsedAt: r.last_used_at.toISOString(),
    current: r.id === currentId,
  }));
}
