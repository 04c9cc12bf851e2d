import { authEvents, DomainError, usersInternal } from '@lms/contracts';
import { errInfo } from '@lms/runtime';
import type { AuthHandlers } from '../deps.js';
import { checkPassword, clientFields, hashPassword, notify, revoke, sendEmailToken, sha256 } from './shared.js';

/** Emailed single-use links: verifying the address, and resetting a forgotten password. */
export const emailTokenHandlers: Pick<AuthHandlers, 'verifyEmail' | 'resendVerification' | 'forgotPassword' | 'resetPassword'> = {
  async verifyEmail({ input, uow }) {
    return uow(async ({ repo, emit }) => {
      const t = await repo.useEmailToken(sha256(input.token), 'verify_email');
      // The address must still be the account's: a link for an old address proves nothing now.
      if (!t || !(await repo.markEmailVerified(t.user_id, t.email)))
        throw new DomainError('TOKEN_INVALID', 'This link is not valid any more; ask for a new one');
      await emit(authEvents.emailVerified, { userId: t.user_id, email: t.email }, t.user_id);
      return { verified: true as const, userId: t.user_id };
    });
  },

  async resendVerification({ caller, client, call, repo, deps, uow }) {
    const cred = await repo.byUserId(caller.userId);
    if (!cred || cred.email_verified_at) return { sent: false };
    await deps.emailThrottle.take(cred.email, client?.ip);
    const profile = await call(usersInternal.byId, { id: cred.user_id });
    await uow((w) => sendEmailToken(w, deps, { userId: cred.user_id, email: cred.email, displayName: profile.displayName }, 'verify_email'));
    return { sent: true };
  },

  async forgotPassword({ input, client, call, repo, deps, uow, logger }) {
    await deps.emailThrottle.take(input.email, client?.ip);
    // Answered before the work is done, whether or not the account exists: neither the body nor the
    // time taken tells an attacker which emails have accounts.
    setImmediate(() => {
      void (async () => {
        const cred = await repo.byEmail(input.email);
        if (!cred) return;
        const profile = await call(usersInternal.byId, { id: cred.user_id });
        if (profile.status !== 'active') return;
        await uow(async (w) => {
          await sendEmailToken(w, deps, { userId: cred.user_id, email: cred.email, displayName: profile.displayName }, 'reset_password');
          await w.emit(authEvents.passwordResetRequested, { userId: cred.user_id, ...clientFields(client) }, cred.user_id);
        });
      })().catch((err: unknown) => logger.error({ err: errInfo(err) }, 'password reset request failed'));
    });
    return { accepted: true as const };
  },

  async resetPassword({ input, client, call, repo, deps, uow, logger }) {
    const hash = sha256(input.token);
    const t = await repo.peekEmailToken(hash, 'reset_password');
    if (!t) throw new DomainError('TOKEN_INVALID', 'This reset link is not valid any more; ask for a new one');
    const profile = await call(usersInternal.byId, { id: t.user_id });
    checkPassword(input.newPassword, { email: t.email, displayName: profile.displayName }, 'newPassword');
    const newHash = await hashPassword(input.newPassword);
    await uow(async ({ repo, emit }) => {
      // Used here, atomically: of two concurrent resets with one token, one wins.
      if (!(await repo.useEmailToken(hash, 'reset_password')))
        throw new DomainError('TOKEN_INVALID', 'This reset link is not valid any more; ask for a new one');
      await repo.setPassword(t.user_id, newHash);
      await repo.invalidateEmailTokens(t.user_id, 'reset_password');
      // Following the link proved the address is theirs.
      if (await repo.markEmailVerified(t.user_id, t.email)) await emit(authEvents.emailVerified, { userId: t.user_id, email: t.email }, t.user_id);
      await emit(authEvents.passwordChanged, { userId: t.user_id, via: 'reset', ...clientFields(client) }, t.user_id);
      await notify(emit, profile, 'password_changed');
    });
    await deps.throttle.succeeded(t.email);
    const n = await revoke(uow, deps, t.user_id, 'password_reset', t.user_id);
    logger.info({ userId: t.user_id, sessionsRevoked: n }, 'password reset');
    return { reset: true as const, sessionsRevoked: n };
  },
};
