import { authEvents, DomainError, usersInternal } from '@lms/contracts';
import { randomUUID } from 'node:crypto';
import { errorCode } from '@lms/runtime';
import type { AuthHandlers } from '../deps.js';
import {
  checkCurrentPassword,
  checkPassword,
  clientFields,
  emailHash,
  hashPassword,
  mfaChallengeFor,
  notify,
  openSession,
  passwordMatches,
  revoke,
  sendEmailToken,
} from './shared.js';

/** Accounts and passwords: register, log in with a password, change it; what auth holds about a user. */
export const accountHandlers: Pick<AuthHandlers, 'privacyExport' | 'register' | 'login' | 'changePassword'> = {
  async privacyExport({ input, repo }) {
    return { data: await repo.exportUser(input.userId) };
  },

  async register({ input, repo, deps, call, logger, client, uow }) {
    checkPassword(input.password, input, 'password');
    if (await repo.byEmail(input.email)) throw new DomainError('EMAIL_TAKEN', 'An account with this email already exists');
    const passwordHash = await hashPassword(input.password);
    const id = randomUUID();
    const profile = await call(usersInternal.create, { id, email: input.email, displayName: input.displayName });
    if (!(await repo.insertCredential({ userId: id, email: input.email, passwordHash }))) {
      // Lost a race for the email: undo the profile so nothing half-made is left.
      await call(usersInternal.remove, { id });
      throw new DomainError('EMAIL_TAKEN', 'An account with this email already exists');
    }
    logger.info({ userId: id, admin: profile.roles.includes('admin') }, 'account registered');
    return openSession(uow, deps, profile, client, (w) =>
      sendEmailToken(w, deps, { userId: id, email: input.email, displayName: input.displayName }, 'verify_email'),
    );
  },

  async login({ input, repo, deps, call, client, uow }) {
    const { throttle } = deps;
    const failed = (reason: 'bad_credentials' | 'throttled' | 'deactivated', userId: string | null) =>
      uow(({ emit }) => emit(authEvents.loginFailed, { emailHash: emailHash(input.email), userId, reason, ...clientFields(client) }));
    try {
      await throttle.check(input.email, client?.ip);
    } catch (err) {
      // Only a lock-out is a throttled login; a limiter that failed is an outage, not a fact for the audit log.
      if (errorCode(err) === 'RATE_LIMITED') await failed('throttled', null);
      throw err;
    }
    const cred = await repo.byEmail(input.email);
    const ok = await passwordMatches(cred?.password_hash, input.password);
    // A deactivated account answers exactly like a wrong password (and counts against the throttle
    // like one): a login must not tell anyone which accounts exist or were closed. The audit log
    // still records the real reason.
    const profile = cred && ok ? await call(usersInternal.byId, { id: cred.user_id }) : undefined;
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
    return openSession(uow, deps, profile, client, ({ emit }, sessionId) =>
      emit(authEvents.loginSucceeded, { userId: profile.id, sessionId, ...clientFields(client) }, profile.id),
    );
  },

  async changePassword({ input, caller, client, call, repo, deps, logger, uow }) {
    const cred = await repo.byUserId(caller.userId);
    if (!cred) throw new DomainError('INVALID_CREDENTIALS', 'Current password is wrong');
    await checkCurrentPassword(cred, input.currentPassword, deps.throttle, client?.ip, 'Current password');
    checkPassword(input.newPassword, { email: cred.email }, 'newPassword');
    const newHash = await hashPassword(input.newPassword);
    const profile = await call(usersInternal.byId, { id: cred.user_id });
    await uow(async ({ repo, emit }) => {
      await repo.setPassword(cred.user_id, newHash);
      // A reset link sent before the change must not undo it.
      await repo.invalidateEmailTokens(cred.user_id, 'reset_password');
      await emit(authEvents.passwordChanged, { userId: cred.user_id, via: 'change', ...clientFields(client) }, cred.user_id);
      await notify(emit, profile, 'password_changed');
    });
    const n = await revoke(uow, deps, cred.user_id, 'password_changed', cred.user_id, { exceptId: caller.sessionId });
    logger.info({ userId: cred.user_id, otherSessionsRevoked: n }, 'password changed');
    return { changed: true as const, otherSessionsRevoked: n };
  },
};
