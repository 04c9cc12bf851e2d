import { authEvents, erasureReceipts, userEvents } from '@lms/contracts';
import { authConsumer } from './deps.js';

/** What the auth service does when users change: sessions end with the account. */
export const authConsumers = [
  authConsumer({
    name: 'users',
    event: userEvents.deactivated,
    // A deactivated user's sessions end: refresh stops at once, access tokens at their expiry.
    handle: async ({ payload: p, repo, emit, deps }) => {
      const ids = await repo.revokeSessions(p.userId, 'user_deactivated');
      if (ids.length === 0) return;
      await emit(authEvents.sessionsRevoked, { userId: p.userId, count: ids.length, reason: 'user_deactivated', by: p.by }, p.userId);
      // Announced before this transaction commits: at worst a gateway refuses a little early.
      deps.announceRevoked(ids);
    },
  }),
  authConsumer({
    name: 'user-deleted',
    event: userEvents.deleted,
    // Erasure: sessions end at once, then credentials, tokens, second factors and identities go.
    handle: async ({ payload: p, repo, emit, deps }) => {
      const ids = await repo.revokeSessions(p.userId, 'user_erased');
      await repo.eraseUser(p.userId);
      deps.announceRevoked(ids);
      await emit(erasureReceipts.auth, { requestId: p.requestId, userId: p.userId, service: 'auth' }, p.userId);
    },
  }),
];
