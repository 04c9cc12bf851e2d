import { hash, verify } from '@node-rs/argon2';
import {
  auth,
  authBroadcasts,
  authEvents,
  DomainError,
  notificationEvents,
  erasureReceipts,
  privacyEvents,
  privacyExportContract,
  userEvents,
  usersInternal,
  type NotificationTemplate,
  type Profile,
} from '@lms/contracts';
import { addToOutbox, consumer, createRateLimiter, defineService, mfaRequiredRoles, type Emit, type HandlerArgs } from '@lms/runtime';
import type { Kysely, Transaction } from 'kysely';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import QRCode from 'qrcode';
import { AuthRepository, type AuthDB, type EmailTokenPurpose } from './auth.repository.js';
import * as m0 from './migrations/20261124000000_auth.js';
import * as m1 from './migrations/20261124120000_sessions.js';
import * as m2 from './migrations/20261124200000_identity.js';
import { passwordProblem } from './domain/password-policy.js';
import { dataKeyFromEnv, Sealer } from './domain/sealed.js';
import { newRecoveryCodes, newTotpSecret, normaliseRecoveryCode, otpauthUri, verifyTotp } from './domain/totp.js';
import { finishFlow, oidcProviders, providerNamed, startFlow } from './oidc.js';
import { Throttle, throttleRules } from './throttle.js';
import { ACCESS_TTL_S, hashRefreshToken, newOpaqueToken, newRefreshToken, REFRESH_TTL_S, TokenIssuer } from './tokens.js';

// OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane.
const ARGON = { algorithm: 2 /* Algorithm.Argon2id (a const enum) */, memoryCost: 19_456, timeCost: 2, parallelism: 1 };
// Verified when the email is unknown, so a miss costs as long as a hit.
const DUMMY_HASH = hash('not-a-real-password', ARGON);
const hash_ = (password: string) => hash(password, ARGON);

/**
 * Checks a TOTP code (once per time step) or a recovery code (once each) of a user with TOTP on.
 * Answers which kind matched, or null.
 */
async function checkSecondFactor(repo: AuthRepository, sealer: Sealer, userId: string, f: { code?: string; recoveryCode?: string }): Promise<'totp' | 'recovery_code' | null> {
  const totp = await repo.totp(userId);
  if (!totp?.confirmed_at) return null;
  if (f.code) {
    const step = verifyTotp(sealer.open(totp.secret_sealed, userId), f.code, totp.last_step === null ? null : Number(totp.last_step));
    return step !== null && (await repo.useTotpStep(userId, step)) ? 'totp' : null;
  }
  if (f.recoveryCode) return (await repo.useRecoveryCode(userId, sha256(normaliseRecoveryCode(f.recoveryCode)))) ? 'recovery_code' : null;
  return null;
}

type Client = { ip: string; userAgent?: string } | undefined;
type Tx = HandlerArgs<typeof auth.login, AuthDB, unknown>['tx'];

/**
 * Opens a session (a refresh-token family). Its rows, and whatever `also` emits, commit together;
 * the access token is signed after the commit: inside the transaction, the signing-key lookup would
 * wait for the one connection embedded mode has.
 */
async function openSession(
  tx: Tx,
  tokens: TokenIssuer,
  profile: Profile,
  client: Client,
  also?: (emit: Emit, sessionId: string, trx: Transaction<AuthDB>) => Promise<unknown>,
  amr: string[] = ['pwd'],
) {
  const sessionId = randomUUID();
  const refresh = newRefreshToken();
  await tx(async (trx, emit) => {
    const repo = new AuthRepository(trx);
    await repo.createSession({ id: sessionId, userId: profile.id, userAgent: client?.userAgent, ip: client?.ip, amr });
    await repo.addRefreshToken(sessionId, refresh.hash, new Date(Date.now() + REFRESH_TTL_S * 1000));
    await also?.(emit, sessionId, trx);
  });
  return answer(profile, await tokens.issue(profile, sessionId, amr), refresh.token, sessionId);
}

/** How long emailed links work. */
export const EMAIL_TOKEN_TTL_S: Record<EmailTokenPurpose, number> = {
  verify_email: Number(process.env.AUTH_VERIFY_TOKEN_TTL_S ?? 24 * 3600),
  reset_password: Number(process.env.AUTH_RESET_TOKEN_TTL_S ?? 30 * 60),
};
const MFA_CHALLENGE_TTL_S = 300;
const MFA_CHALLENGE_ATTEMPTS = 5;

/**
 * Stores a single-use emailed token (its hash) and asks for the message, in the caller's transaction:
 * the token exists if and only if the message request does.
 */
async function sendEmailToken(trx: Transaction<AuthDB>, emit: Emit, to: { userId: string; email: string; displayName: string }, purpose: EmailTokenPurpose) {
  const t = newOpaqueToken();
  const ttl = EMAIL_TOKEN_TTL_S[purpose];
  await new AuthRepository(trx).newEmailToken({ hash: t.hash, userId: to.userId, purpose, email: to.email, expiresAt: new Date(Date.now() + ttl * 1000) });
  const template: NotificationTemplate = purpose === 'verify_email' ? 'email_verification' : 'password_reset';
  const data = { token: t.token, displayName: to.displayName, expiresInHours: String(Math.round(ttl / 3600)), expiresInMinutes: String(Math.round(ttl / 60)) };
  await emit(notificationEvents.requested, { userId: to.userId, to: to.email, template, data }, to.userId);
}

/** A security notice to the account's owner (password changed, MFA on/off). */
function notify(emit: Emit, to: { id: string; email: string; displayName: string }, template: NotificationTemplate) {
  return emit(notificationEvents.requested, { userId: to.id, to: to.email, template, data: { displayName: to.displayName } }, to.id);
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('base64url');

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

/** A second-factor challenge when the user has TOTP on; undefined otherwise. */
async function mfaChallengeFor(repo: AuthRepository, userId: string) {
  if (!(await repo.totp(userId))?.confirmed_at) return undefined;
  const challenge = newOpaqueToken();
  await repo.newChallenge(challenge.hash, userId, new Date(Date.now() + MFA_CHALLENGE_TTL_S * 1000));
  return { mfaRequired: true as const, mfaToken: challenge.token, expiresIn: MFA_CHALLENGE_TTL_S, methods: ['totp' as const, 'recovery_code' as const] };
}

/** Checks a password with the login throttle; an account without a password (OIDC only) never matches. */
async function checkCurrentPassword(cred: { email: string; password_hash: string | null }, password: string, throttle: Throttle, ip: string | undefined, what = 'Password') {
  await throttle.check(cred.email, ip);
  const ok = await verify(cred.password_hash ?? (await DUMMY_HASH), password).catch(() => false);
  if (!cred.password_hash || !ok) {
    await throttle.failed(cred.email, ip);
    throw new DomainError('INVALID_CREDENTIALS', `${what} is wrong`);
  }
}

function mustBeActive(profile: Profile): void {
  if (profile.status !== 'active') throw new DomainError('ACCOUNT_DEACTIVATED', 'This account is deactivated');
}

function toSessionInfo(rows: Awaited<ReturnType<AuthRepository['activeSessions']>>, currentId: string | undefined) {
  return rows.map((r) => ({
    id: r.id,
    userAgent: r.user_agent,
    ip: r.ip,
    createdAt: r.created_at.toISOString(),
    lastUsedAt: r.last_used_at.toISOString(),
    current: r.id === currentId,
  }));
}

const invalidRefresh = () => new DomainError('TOKEN_INVALID', 'The refresh token is not valid; log in again');

/** Accounts' credentials and access tokens (EdDSA JWTs); profiles live in the users service. */
export const authService = defineService({
  name: 'auth',
  contracts: { ...auth, ...privacyExportContract('auth') },
  migrations: { '20261124000000_auth': m0, '20261124120000_sessions': m1, '20261124200000_identity': m2 },
  dependencies: ['users'],
  repository: (db: Kysely<AuthDB>, runtime) => {
    const repo = new AuthRepository(db);
    const log = runtime.logger('auth');
    const limiter = createRateLimiter(runtime.config, (err) => log.warn({ err: String(err) }, 'auth throttle unavailable'));
    let sealer: Promise<Sealer> | undefined;
    const rules = throttleRules();
    return {
      repo,
      tokens: new TokenIssuer(repo),
      limiter,
      throttle: new Throttle(limiter, rules.login),
      emailThrottle: new Throttle(limiter, rules.email),
      mfaThrottle: new Throttle(limiter, rules.mfa),
      broker: runtime.broker,
      runtime,
      /** Seals TOTP seeds: AUTH_DATA_KEY, or else a key generated once and kept in the auth schema. */
      sealer: () =>
        (sealer ??= (async () => {
          const fromEnv = dataKeyFromEnv();
          if (fromEnv) return new Sealer(fromEnv);
          if (runtime.config.env === 'production') log.warn('AUTH_DATA_KEY is not set: TOTP seeds are sealed with a key stored in the database');
          return new Sealer(Buffer.from(await repo.dataKey(() => randomBytes(32).toString('base64')), 'base64'));
        })()),
    };
  },
  stopped: async ({ limiter }) => (await limiter).close(),
  consumers: [
    consumer({
      name: 'users',
      event: userEvents.deactivated,
      // A deactivated user's sessions end: refresh stops at once, access tokens at their expiry.
      handle: async ({ payload: p, event: _event, trx, runtime }) => {
        const ids = await new AuthRepository((trx as Transaction<AuthDB>)).revokeSessions(p.userId, 'user_deactivated');
        if (ids.length === 0) return;
        await addToOutbox(trx, authEvents.sessionsRevoked, { userId: p.userId, count: ids.length, reason: 'user_deactivated', by: p.by }, { key: p.userId });
        // Announced before this transaction commits: at worst a gateway refuses a little early.
        announceRevoked(runtime.broker, ids);
      },
    }),
    consumer({
      name: 'user-deleted',
      event: userEvents.deleted,
      // Erasure: sessions end at once, then credentials, tokens, second factors and identities go.
      handle: async ({ payload: p, event: _event, trx, runtime }) => {
        const repo = new AuthRepository((trx as Transaction<AuthDB>));
        const ids = await repo.revokeSessions(p.userId, 'user_erased');
        await repo.eraseUser(p.userId);
        announceRevoked(runtime.broker, ids);
        await addToOutbox(trx, erasureReceipts.auth, { requestId: p.requestId, userId: p.userId, service: 'auth' }, { key: p.userId });
      },
    }),
  ],
  handlers: {
    async privacyExport({ input, repo: { repo } }) {
      return { data: await repo.exportUser(input.userId) };
    },
    async register({ input, repo: { repo, tokens }, call, logger, client, tx }) {
      checkPassword(input.password, input, 'password');
      if (await repo.byEmail(input.email)) throw new DomainError('EMAIL_TAKEN', 'An account with this email already exists');
      const passwordHash = await hash_(input.password);
      const id = randomUUID();
      const profile = await call(usersInternal.create, { id, email: input.email, displayName: input.displayName });
      if (!(await repo.insertCredential({ userId: id, email: input.email, passwordHash }))) {
        // Lost a race for the email: undo the profile so nothing half-made is left.
        await call(usersInternal.remove, { id });
        throw new DomainError('EMAIL_TAKEN', 'An account with this email already exists');
      }
      logger.info({ userId: id, admin: profile.roles.includes('admin') }, 'account registered');
      return openSession(tx, tokens, profile, client, (emit, _sid, trx) =>
        sendEmailToken(trx, emit, { userId: id, email: input.email, displayName: input.displayName }, 'verify_email'),
      );
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
      // A deactivated account answers exactly like a wrong password (and counts against the throttle
      // like one): a login must not tell anyone which accounts exist or were closed. The audit log
      // still records the real reason.
      const profile = cred?.password_hash && ok ? await call(usersInternal.byId, { id: cred.user_id }) : undefined;
      if (!cred || !profile || profile.status !== 'active') {
        await throttle.failed(input.email, client?.ip);
        await failed(profile ? 'deactivated' : 'bad_credentials', cred?.user_id ?? null);
        throw new DomainError('INVALID_CREDENTIALS', 'Email or password is wrong');
      }
      await throttle.succeeded(input.email);
      // Step-up: the password was right, now the second factor. No session until then.
      const challenge = await mfaChallengeFor(repo, cred.user_id);
      if (challenge) return challenge;
      await repo.touchLogin(cred.user_id);
      return openSession(tx, tokens, profile, client, (emit, sessionId) =>
        emit(authEvents.loginSucceeded, { userId: profile.id, sessionId, ...clientFields(client) }, profile.id),
      );
    },
    async mfaVerify({ input, repo: { repo, tokens, mfaThrottle, sealer }, call, client, tx, logger }) {
      if ((input.code === undefined) === (input.recoveryCode === undefined)) {
        throw new DomainError('VALIDATION_FAILED', 'Give either code or recoveryCode', { issues: [{ path: 'code', message: 'give either code or recoveryCode', code: 'custom' }] });
      }
      const hash = sha256(input.mfaToken);
      const challenge = await repo.attemptChallenge(hash, MFA_CHALLENGE_ATTEMPTS);
      if (!challenge) throw new DomainError('TOKEN_INVALID', 'The sign-in attempt has expired; log in again');
      const userId = challenge.user_id;
      await mfaThrottle.check(userId, client?.ip);
      const used = await checkSecondFactor(repo, await sealer(), userId, input);
      if (!used) {
        await mfaThrottle.failed(userId, client?.ip);
        await tx((_trx, emit) => emit(authEvents.loginFailed, { emailHash: '', userId, reason: 'bad_second_factor', ...clientFields(client) }, userId));
        throw new DomainError('INVALID_CREDENTIALS', 'The code is wrong');
      }
      if (!(await repo.finishChallenge(hash))) throw new DomainError('TOKEN_INVALID', 'The sign-in attempt has expired; log in again');
      await mfaThrottle.succeeded(userId);
      const profile = await call(usersInternal.byId, { id: userId });
      // Deactivated since the password step: the attempt is over, without saying why.
      if (profile.status !== 'active') throw new DomainError('TOKEN_INVALID', 'The sign-in attempt has expired; log in again');
      await repo.touchLogin(userId);
      if (used === 'recovery_code') logger.info({ userId }, 'signed in with a recovery code');
      return openSession(
        tx,
        tokens,
        profile,
        client,
        async (emit, sessionId) => {
          await emit(authEvents.loginSucceeded, { userId, sessionId, ...clientFields(client) }, userId);
          if (used === 'recovery_code') await emit(authEvents.mfaChanged, { userId, change: 'recovery_code_used', ...clientFields(client) }, userId);
        },
        ['pwd', 'otp'],
      );
    },
    async mfaStatus({ caller, repo: { repo } }) {
      const totp = await repo.totp(caller.userId);
      return {
        totp: Boolean(totp?.confirmed_at),
        recoveryCodesLeft: totp?.confirmed_at ? await repo.recoveryCodesLeft(caller.userId) : 0,
        required: caller.roles.some((r) => mfaRequiredRoles().includes(r)),
        thisSessionUsedMfa: caller.mfa === true,
      };
    },
    async mfaEnrol({ input, caller, client, repo: { repo, throttle, sealer } }) {
      const cred = await repo.byUserId(caller.userId);
      if (!cred) throw new DomainError('INVALID_CREDENTIALS', 'Password is wrong');
      await checkCurrentPassword(cred, input.password, throttle, client?.ip);
      if ((await repo.totp(cred.user_id))?.confirmed_at) throw new DomainError('CONFLICT', 'Two-step sign-in is already on; turn it off first');
      const secret = newTotpSecret();
      await repo.putPendingTotp(cred.user_id, (await sealer()).seal(secret, cred.user_id));
      const uri = otpauthUri(secret, cred.email, process.env.LMS_NAME ?? 'LMS');
      return { secret, otpauthUri: uri, qrCodeSvg: await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M' }) };
    },
    async mfaConfirm({ input, caller, client, call, repo: { repo, mfaThrottle, sealer }, tx }) {
      const userId = caller.userId;
      const totp = await repo.totp(userId);
      if (!totp || totp.confirmed_at) throw new DomainError('CONFLICT', totp ? 'Two-step sign-in is already on' : 'Start enrolment first (POST /auth/mfa/totp)');
      await mfaThrottle.check(userId, client?.ip);
      const step = verifyTotp((await sealer()).open(totp.secret_sealed, userId), input.code, null);
      if (step === null) {
        await mfaThrottle.failed(userId, client?.ip);
        throw new DomainError('INVALID_CREDENTIALS', 'The code is wrong; check the clock of the device');
      }
      const profile = await call(usersInternal.byId, { id: userId });
      const codes = newRecoveryCodes();
      await tx(async (trx, emit) => {
        const r = new AuthRepository(trx);
        if (!(await r.useTotpStep(userId, step, true))) throw new DomainError('INVALID_CREDENTIALS', 'That code was already used; wait for the next one');
        await r.replaceRecoveryCodes(userId, codes.map((c) => sha256(normaliseRecoveryCode(c))));
        await emit(authEvents.mfaChanged, { userId, change: 'enabled', ...clientFields(client) }, userId);
        await notify(emit, profile, 'mfa_enabled');
      });
      await mfaThrottle.succeeded(userId);
      return { enabled: true as const, recoveryCodes: codes };
    },
    async mfaDisable({ input, caller, client, call, repo: { repo, throttle, mfaThrottle, sealer }, tx }) {
      const userId = caller.userId;
      const cred = await repo.byUserId(userId);
      if (!cred) throw new DomainError('INVALID_CREDENTIALS', 'Password is wrong');
      await checkCurrentPassword(cred, input.password, throttle, client?.ip);
      if (!(await repo.totp(userId))?.confirmed_at) throw new DomainError('CONFLICT', 'Two-step sign-in is not on');
      await mfaThrottle.check(userId, client?.ip);
      if (!(await checkSecondFactor(repo, await sealer(), userId, input))) {
        await mfaThrottle.failed(userId, client?.ip);
        throw new DomainError('INVALID_CREDENTIALS', 'The code is wrong');
      }
      const profile = await call(usersInternal.byId, { id: userId });
      await tx(async (trx, emit) => {
        await new AuthRepository(trx).deleteTotp(userId);
        await emit(authEvents.mfaChanged, { userId, change: 'disabled', ...clientFields(client) }, userId);
        await notify(emit, profile, 'mfa_disabled');
      });
      return { disabled: true as const };
    },
    async mfaRecoveryCodes({ input, caller, client, repo: { repo, mfaThrottle, sealer }, tx }) {
      const userId = caller.userId;
      if (!(await repo.totp(userId))?.confirmed_at) throw new DomainError('CONFLICT', 'Two-step sign-in is not on');
      await mfaThrottle.check(userId, client?.ip);
      if (!(await checkSecondFactor(repo, await sealer(), userId, { code: input.code }))) {
        await mfaThrottle.failed(userId, client?.ip);
        throw new DomainError('INVALID_CREDENTIALS', 'The code is wrong');
      }
      const codes = newRecoveryCodes();
      await tx(async (trx, emit) => {
        await new AuthRepository(trx).replaceRecoveryCodes(userId, codes.map((c) => sha256(normaliseRecoveryCode(c))));
        await emit(authEvents.mfaChanged, { userId, change: 'recovery_codes_replaced', ...clientFields(client) }, userId);
      });
      return { recoveryCodes: codes };
    },
    async oidcProviders() {
      return { providers: oidcProviders().map((p) => ({ name: p.name, displayName: p.displayName, startUrl: `/api/v1/auth/oidc/${p.name}/start` })) };
    },
    async oidcStart({ input, repo: { repo } }) {
      const p = providerNamed(input.provider);
      const flow = await startFlow(p);
      // Only the state's hash is kept; the verifier and nonce wait here for the callback, ten minutes at most.
      await repo.newOidcFlow({ stateHash: sha256(flow.state), provider: p.name, codeVerifier: flow.codeVerifier, nonce: flow.nonce, expiresAt: new Date(Date.now() + 600_000) });
      return { location: flow.url };
    },
    async oidcCallback({ input, repo: { repo, tokens }, call, client, tx, logger }) {
      const p = providerNamed(input.provider);
      if (input.error) throw new DomainError('OIDC_FAILED', 'The identity provider refused the sign-in', { error: input.error });
      // A state works once and only for the provider it was made for: no replay, no mix-up.
      const flow = await repo.useOidcFlow(sha256(input.state), p.name);
      if (!flow) throw new DomainError('TOKEN_INVALID', 'This sign-in attempt has expired or was already used; start again');
      const { provider: _provider, ...query } = input;
      const ext = await finishFlow(p, query as Record<string, string>, { state: input.state, codeVerifier: flow.code_verifier, nonce: flow.nonce });

      let userId: string;
      let outcome: 'known' | 'linked' | 'created';
      const known = await repo.identity(p.name, ext.subject);
      if (known) {
        userId = known.user_id;
        outcome = 'known';
      } else {
        if (!ext.email || !ext.emailVerified) {
          throw new DomainError('EMAIL_NOT_VERIFIED', 'The identity provider does not vouch for your email address, so it cannot be matched to an account');
        }
        const cred = await repo.byEmail(ext.email);
        if (cred) {
          if (!p.linkByEmail) throw new DomainError('CONFLICT', 'An account with this email exists; sign in with its password');
          userId = cred.user_id;
          outcome = 'linked';
        } else {
          if (!p.createAccounts) throw new DomainError('FORBIDDEN', 'No account has this email, and this provider may not create accounts');
          userId = randomUUID();
          await call(usersInternal.create, { id: userId, email: ext.email, displayName: ext.name ?? ext.email.split('@')[0]! });
          if (!(await repo.insertCredential({ userId, email: ext.email, passwordHash: null, emailVerified: true }))) {
            await call(usersInternal.remove, { id: userId });
            throw new DomainError('CONFLICT', 'An account with this email was just created; try again');
          }
          outcome = 'created';
        }
      }
      const profile = await call(usersInternal.byId, { id: userId });
      mustBeActive(profile);
      if (outcome !== 'known') {
        await tx(async (trx, emit) => {
          await new AuthRepository(trx).linkIdentity({ provider: p.name, subject: ext.subject, userId, email: ext.email });
          await emit(authEvents.identityLinked, { userId, provider: p.name, created: outcome === 'created' }, userId);
          // The provider vouched for the address: the account's email is verified too.
          if (ext.email && (await new AuthRepository(trx).markEmailVerified(userId, ext.email))) await emit(authEvents.emailVerified, { userId, email: ext.email }, userId);
        });
        logger.info({ userId, provider: p.name, outcome }, 'external identity linked');
      } else {
        await repo.linkIdentity({ provider: p.name, subject: ext.subject, userId, email: ext.email });
      }
      // An account with TOTP on still needs its second factor.
      const challenge = await mfaChallengeFor(repo, userId);
      if (challenge) return challenge;
      await repo.touchLogin(userId);
      return openSession(tx, tokens, profile, client, (emit, sessionId) => emit(authEvents.loginSucceeded, { userId, sessionId, ...clientFields(client) }, userId), ['ext']);
    },
    async verifyEmail({ input, tx }) {
      return tx(async (trx, emit) => {
        const r = new AuthRepository(trx);
        const t = await r.useEmailToken(sha256(input.token), 'verify_email');
        // The address must still be the account's: a link for an old address proves nothing now.
        if (!t || !(await r.markEmailVerified(t.user_id, t.email))) throw new DomainError('TOKEN_INVALID', 'This link is not valid any more; ask for a new one');
        await emit(authEvents.emailVerified, { userId: t.user_id, email: t.email }, t.user_id);
        return { verified: true as const, userId: t.user_id };
      });
    },
    async resendVerification({ caller, client, call, repo: { repo, emailThrottle }, tx }) {
      const cred = await repo.byUserId(caller.userId);
      if (!cred || cred.email_verified_at) return { sent: false };
      await emailThrottle.take(cred.email, client?.ip);
      const profile = await call(usersInternal.byId, { id: cred.user_id });
      await tx((trx, emit) => sendEmailToken(trx, emit, { userId: cred.user_id, email: cred.email, displayName: profile.displayName }, 'verify_email'));
      return { sent: true };
    },
    async forgotPassword({ input, client, call, repo: { repo, emailThrottle }, tx, logger }) {
      await emailThrottle.take(input.email, client?.ip);
      // Answered before the work is done, whether or not the account exists: neither the body nor the
      // time taken tells an attacker which emails have accounts.
      setImmediate(() => {
        void (async () => {
          const cred = await repo.byEmail(input.email);
          if (!cred) return;
          const profile = await call(usersInternal.byId, { id: cred.user_id });
          if (profile.status !== 'active') return;
          await tx(async (trx, emit) => {
            await sendEmailToken(trx, emit, { userId: cred.user_id, email: cred.email, displayName: profile.displayName }, 'reset_password');
            await emit(authEvents.passwordResetRequested, { userId: cred.user_id, ...clientFields(client) }, cred.user_id);
          });
        })().catch((err) => logger.error({ err: String(err) }, 'password reset request failed'));
      });
      return { accepted: true as const };
    },
    async resetPassword({ input, client, call, repo: { repo, throttle, broker }, tx, logger }) {
      const hash = sha256(input.token);
      const t = await repo.peekEmailToken(hash, 'reset_password');
      if (!t) throw new DomainError('TOKEN_INVALID', 'This reset link is not valid any more; ask for a new one');
      const profile = await call(usersInternal.byId, { id: t.user_id });
      checkPassword(input.newPassword, { email: t.email, displayName: profile.displayName }, 'newPassword');
      const newHash = await hash_(input.newPassword);
      await tx(async (trx, emit) => {
        const r = new AuthRepository(trx);
        // Used here, atomically: of two concurrent resets with one token, one wins.
        if (!(await r.useEmailToken(hash, 'reset_password'))) throw new DomainError('TOKEN_INVALID', 'This reset link is not valid any more; ask for a new one');
        await r.setPassword(t.user_id, newHash);
        await r.invalidateEmailTokens(t.user_id, 'reset_password');
        // Following the link proved the address is theirs.
        if (await r.markEmailVerified(t.user_id, t.email)) await emit(authEvents.emailVerified, { userId: t.user_id, email: t.email }, t.user_id);
        await emit(authEvents.passwordChanged, { userId: t.user_id, via: 'reset', ...clientFields(client) }, t.user_id);
        await notify(emit, profile, 'password_changed');
      });
      await throttle.succeeded(t.email);
      const n = await revoke(tx, broker, t.user_id, 'password_reset', t.user_id);
      logger.info({ userId: t.user_id, sessionsRevoked: n }, 'password reset');
      return { reset: true as const, sessionsRevoked: n };
    },
    async changePassword({ input, caller, client, call, repo: { repo, throttle, broker }, logger, tx }) {
      const cred = await repo.byUserId(caller.userId);
      if (!cred) throw new DomainError('INVALID_CREDENTIALS', 'Current password is wrong');
      await checkCurrentPassword(cred, input.currentPassword, throttle, client?.ip, 'Current password');
      checkPassword(input.newPassword, { email: cred.email }, 'newPassword');
      const newHash = await hash_(input.newPassword);
      const profile = await call(usersInternal.byId, { id: cred.user_id });
      await tx(async (trx, emit) => {
        const r = new AuthRepository(trx);
        await r.setPassword(cred.user_id, newHash);
        // A reset link sent before the change must not undo it.
        await r.invalidateEmailTokens(cred.user_id, 'reset_password');
        await emit(authEvents.passwordChanged, { userId: cred.user_id, via: 'change', ...clientFields(client) }, cred.user_id);
        await notify(emit, profile, 'password_changed');
      });
      const n = await revoke(tx, broker, cred.user_id, 'password_changed', cred.user_id, { exceptId: caller.sessionId });
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
      // A deactivated account's session is simply not valid any more (its sessions were revoked too).
      if (profile.status !== 'active') throw invalidRefresh();
      const next = newRefreshToken();
      const rotated = await tx((trx) =>
        new AuthRepository(trx).rotateRefreshToken(oldHash, { hash: next.hash, sessionId: s.id, expiresAt: new Date(Date.now() + REFRESH_TTL_S * 1000) }),
      );
      if (!rotated) {
        await revoke(tx, broker, s.user_id, 'refresh_token_reuse', null, { sessionId: s.id });
        throw invalidRefresh();
      }
      await repo.touchSession(s.id, client);
      return answer(profile, await tokens.issue(profile, s.id, s.amr.split(' ')), next.token, s.id);
    },
    async logout({ caller, tx, repo: { broker } }) {
      if (!caller.sessionId) return { revoked: false };
      return { revoked: (await revoke(tx, broker, caller.userId, 'logout', caller.userId, { sessionId: caller.sessionId })) > 0 };
    },
    async sessions({ caller, repo: { repo } }) {
      return { items: toSessionInfo(await repo.activeSessions(caller.userId), caller.sessionId) };
    },
    async userSessions({ input, caller, repo: { repo }, tx }) {
      if (input.userId !== caller.userId) {
        await tx((_trx, emit) => emit(privacyEvents.recordAccessed, { userId: input.userId, by: caller.userId, record: 'sessions', action: 'read' }, input.userId));
      }
      return { items: toSessionInfo(await repo.activeSessions(input.userId), caller.sessionId) };
    },
    async revokeUserSessions({ input, caller, tx, repo: { broker }, logger }) {
      const n = await revoke(tx, broker, input.userId, 'revoked_by_admin', caller.userId);
      logger.info({ userId: input.userId, by: caller.userId, revoked: n }, 'sessions revoked by an admin');
      return { revoked: n };
    },
    async revokeSession({ input, caller, tx, repo: { broker } }) {
      // Only the caller's own sessions match: someone else's id is simply not found.
      const n = await revoke(tx, broker, caller.userId, 'revoked_by_user', caller.userId, { sessionId: input.sessionId });
      if (n === 0) throw new DomainError('NOT_FOUND', 'No such active session');
      return { revoked: true };
    },
    async revokeAllSessions({ caller, tx, repo: { broker } }) {
      return { revoked: await revoke(tx, broker, caller.userId, 'revoked_all_by_user', caller.userId) };
    },
    async rotateKeys({ repo: { tokens }, logger, caller, ctx }) {
      const r = await tokens.rotate();
      // Every node's verifier fetches the keys again at the next token (unknown kids alone refresh at most every 30 s).
      void ctx.broker.broadcast(authBroadcasts.keysRotated.name, authBroadcasts.keysRotated.payload.parse({ kid: r.kid }));
      logger.info({ kid: r.kid, by: caller.userId }, 'signing key rotated');
      return r;
    },
    async jwks({ repo: { tokens } }) {
      return (await tokens.jwks()) as { keys: Array<{ kty: string; kid: string; alg: string; use: string; crv: string; x: string }> };
    },
  },
});
