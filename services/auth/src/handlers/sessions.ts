import { DomainError, privacyEvents, usersInternal } from '@lms/contracts';
import type { AuthHandlers } from '../deps.js';
import { hashRefreshToken, newRefreshToken } from '../tokens.js';
import { answer, invalidRefresh, revoke, toSessionInfo } from './shared.js';

/** Sessions (refresh-token families): refresh, log out, list and revoke them; the signing keys. */
export const sessionHandlers: Pick<
  AuthHandlers,
  'refresh' | 'logout' | 'sessions' | 'userSessions' | 'revokeUserSessions' | 'revokeSession' | 'revokeAllSessions' | 'rotateKeys' | 'jwks'
> = {
  async refresh({ input, repo, deps, call, uow, client, logger }) {
    const oldHash = hashRefreshToken(input.refreshToken);
    const found = await repo.findRefreshToken(oldHash);
    if (!found) throw invalidRefresh();
    const s = await repo.session(found.session_id);
    if (!s || s.revoked_at) throw invalidRefresh();
    if (found.used_at) {
      // A rotated token came back: it was stolen, or the client was. End the whole family.
      await revoke(uow, deps, s.user_id, 'refresh_token_reuse', null, { sessionId: s.id });
      logger.warn({ userId: s.user_id, sessionId: s.id, ip: client?.ip }, 'refresh token reused: session revoked');
      throw invalidRefresh();
    }
    if (found.expires_at.getTime() <= Date.now()) throw invalidRefresh();
    // Roles may have changed since the last token: read them before the unit of work (no remote call inside one).
    const profile = await call(usersInternal.byId, { id: s.user_id });
    // A deactivated account's session is simply not valid any more (its sessions were revoked too).
    if (profile.status !== 'active') throw invalidRefresh();
    const next = newRefreshToken();
    const expiresAt = new Date(Date.now() + deps.tokens.settings.refreshTtlS * 1000);
    const rotated = await uow(({ repo }) => repo.rotateRefreshToken(oldHash, { hash: next.hash, sessionId: s.id, expiresAt }));
    if (!rotated) {
      await revoke(uow, deps, s.user_id, 'refresh_token_reuse', null, { sessionId: s.id });
      throw invalidRefresh();
    }
    await repo.touchSession(s.id, client);
    return answer(deps, profile, await deps.tokens.issue(profile, s.id, s.amr.split(' ')), next.token, s.id);
  },

  async logout({ caller, uow, deps }) {
    if (!caller.sessionId) return { revoked: false };
    return { revoked: (await revoke(uow, deps, caller.userId, 'logout', caller.userId, { sessionId: caller.sessionId })) > 0 };
  },

  async sessions({ caller, repo }) {
    return { items: toSessionInfo(await repo.activeSessions(caller.userId), caller.sessionId) };
  },

  async userSessions({ input, caller, repo, uow }) {
    if (input.userId !== caller.userId) {
      await uow(({ emit }) =>
        emit(privacyEvents.recordAccessed, { userId: input.userId, by: caller.userId, record: 'sessions', action: 'read' }, input.userId),
      );
    }
    return { items: toSessionInfo(await repo.activeSessions(input.userId), caller.sessionId) };
  },

  async revokeUserSessions({ input, caller, uow, deps, logger }) {
    const n = await revoke(uow, deps, input.userId, 'revoked_by_admin', caller.userId);
    logger.info({ userId: input.userId, by: caller.userId, revoked: n }, 'sessions revoked by an admin');
    return { revoked: n };
  },

  async revokeSession({ input, caller, uow, deps }) {
    // Only the caller's own sessions match: someone else's id is simply not found.
    const n = await revoke(uow, deps, caller.userId, 'revoked_by_user', caller.userId, { sessionId: input.sessionId });
    if (n === 0) throw new DomainError('NOT_FOUND', 'No such active session');
    return { revoked: true };
  },

  async revokeAllSessions({ caller, uow, deps }) {
    return { revoked: await revoke(uow, deps, caller.userId, 'revoked_all_by_user', caller.userId) };
  },

  async rotateKeys({ deps, logger, caller }) {
    const r = await deps.tokens.rotate();
    // Every node's verifier fetches the keys again at the next token (unknown kids alone refresh at most every 30 s).
    deps.announceKeysRotated(r.kid);
    logger.info({ kid: r.kid, by: caller.userId }, 'signing key rotated');
    return r;
  },

  async jwks({ deps }) {
    return (await deps.tokens.jwks()) as { keys: Array<{ kty: string; kid: string; alg: string; use: string; crv: string; x: string }> };
  },
};
