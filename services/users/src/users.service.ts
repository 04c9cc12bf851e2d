import type { Kysely } from 'kysely';
import { randomUUID } from 'node:crypto';
import {
  authEvents,
  DomainError,
  filesInternal,
  erasureReceipts,
  erasureReceiptServices,
  privacyEvents,
  privacyExportContract,
  privacyParticipants,
  userEvents,
  users,
  usersBroadcasts,
  usersInternal,
  type EventContract,
  type Profile,
} from '@lms/contracts';
import {
  consumer,
  decodeCursor,
  defineService,
  encodeCursor,
  keysetPage,
  type Caller,
  type ConsumerDefinition,
  type RunUnit,
  type ServiceContext,
  isNotFound as isNotFoundError,
} from '@lms/runtime';
import * as m0 from './migrations/20261124000000_users.js';
import * as m1 from './migrations/20261124130000_profile_status.js';
import * as m2 from './migrations/20261124200000_privacy.js';
import * as m3 from './migrations/20261130000000_roles_changed_at.js';
import { ExportJobs } from './privacy-jobs.js';
import { preferencesOf, toProfile, toRequest, UsersRepository, type UsersDB } from './users.repository.js';

const notFound = () => new DomainError('USER_NOT_FOUND', 'No such user');
type Unit = RunUnit<UsersDB, UsersRepository>;

/** Applies a change in a unit of work that also records user.updated in the outbox. */
async function changed(uow: Unit, by: string | null, what: string[], change: (repo: UsersRepository) => ReturnType<UsersRepository['byId']>): Promise<Profile> {
  return uow(async ({ repo, emit }) => {
    const row = await change(repo);
    if (!row) throw notFound();
    await emit(userEvents.updated, { userId: row.id, changed: what, roles: row.roles as Profile['roles'], by }, row.id);
    return toProfile(row);
  });
}

/** Starts an export: one open export per user at a time; the job runs in the background. */
async function startExport(uow: Unit, jobs: ExportJobs, userId: string, by: string) {
  const row = await uow(async ({ repo: r, emit }) => {
    const user = await r.byId(userId);
    if (!user || user.status === 'erased') throw notFound();
    if (await r.openExport(userId)) throw new DomainError('CONFLICT', 'An export of this user is already in progress');
    const req = await r.newRequest({
      id: randomUUID(),
      userId,
      kind: 'export',
      requestedBy: by,
      parts: Object.fromEntries(privacyParticipants.map((p) => [p, 'pending'])),
    });
    await emit(privacyEvents.exported, { requestId: req.id, userId, by, stage: 'requested' }, userId);
    return req;
  });
  jobs.kick(row.id);
  return toRequest(row);
}

/**
 * Starts an erasure: the profile is anonymised at once (the user can no longer sign in) and
 * `user.deleted` goes out in the same transaction; every other participant erases its part and
 * answers with its receipt (`privacy.<service>_erased`), which completes the request here.
 */
async function startErasure(uow: Unit, userId: string, by: string) {
  return uow(async ({ repo: r, emit }) => {
    const user = await r.byId(userId);
    if (!user || user.status === 'erased') throw notFound();
    if (user.roles.includes('admin') && (await r.otherActiveAdmins(userId)) === 0) {
      throw new DomainError('CONFLICT', 'This is the last active admin: make someone else admin first');
    }
    const req = await r.newRequest({
      id: randomUUID(),
      userId,
      kind: 'erasure',
      requestedBy: by,
      parts: Object.fromEntries(privacyParticipants.map((p) => [p, p === 'users' ? 'done' : 'pending'])),
    });
    if (!(await r.anonymise(userId))) throw notFound();
    // Finished exports hold the profile, sessions and the rest as they were: they go too.
    await r.dropExports(userId);
    await emit(userEvents.deleted, { userId, requestId: req.id, by }, userId);
    return toRequest(req);
  });
}

/** The subject, the requester or an admin may see a request; anyone else is told it does not exist. */
async function visibleRequest(repo: UsersRepository, id: string, caller: Caller, can: (p: 'users:manage') => boolean) {
  const row = await repo.request(id);
  if (!row || (row.user_id !== caller.userId && row.requested_by !== caller.userId && !can('users:manage'))) {
    throw new DomainError('NOT_FOUND', 'No such privacy request');
  }
  return row;
}

/** What the users service's handlers and consumers use besides the repository. */
function usersDeps(s: ServiceContext<UsersDB, UsersRepository>) {
  const privacyLog = s.runtime.logger('users.privacy');
  return {
    jobs: new ExportJobs({ ...s, logger: privacyLog }),
    privacyLog,
    /** After the commit: every node's token verifier looks up this user's roles again (tokens keep the old ones). */
    announceRoles(userId: string): void {
      void s.broadcast(usersBroadcasts.rolesChanged.name, usersBroadcasts.rolesChanged.payload.parse({ userId, at: Date.now() }));
    },
  };
}
type UsersDeps = ReturnType<typeof usersDeps>;
const usersConsumer = <E extends EventContract>(def: ConsumerDefinition<E, UsersDB, UsersRepository, UsersDeps>) => consumer(def);

/** The callee's NOT_FOUND only (not SERVICE_NOT_FOUND, a timeout or an open circuit): see the runtime's isNotFound. */
const isNotFound = (err: unknown) => isNotFoundError(err, 'NOT_FOUND');

/** Profiles, roles, preferences, and the privacy requests (export, erasure) that span every service. */
export const usersService = defineService({
  name: 'users',
  contracts: { ...users, ...usersInternal, ...privacyExportContract('users') },
  migrations: { '20261124000000_users': m0, '20261124130000_profile_status': m1, '20261124200000_privacy': m2, '20261130000000_roles_changed_at': m3 },
  repository: (db: Kysely<UsersDB>) => new UsersRepository(db),
  deps: usersDeps,
  started: ({ jobs }) => jobs.resume(),
  stopped: async ({ jobs }) => jobs.stop(),
  consumers: [
    usersConsumer({
      name: 'email-verified',
      event: authEvents.emailVerified,
      handle: async ({ payload: p, repo }) => {
        await repo.markEmailVerified(p.userId, p.email);
      },
    }),
    // One consumer per participant's receipt subject: the part marked done is the one whose subject the
    // receipt came on, which only that service's NATS role may publish (never the payload's word for it).
    ...erasureReceiptServices.map((service) =>
      usersConsumer({
        name: `erasures-${service}`,
        event: erasureReceipts[service],
        handle: async ({ payload: p, repo, deps }) => {
          const row = await repo.partDone(p.requestId, service);
          if (row?.status === 'complete') deps.privacyLog.info({ requestId: p.requestId, userId: p.userId }, 'erasure complete in every service');
        },
      }),
    ),
  ],
  handlers: {
    async me({ caller, repo }) {
      const row = await repo.byId(caller.userId);
      if (!row) throw notFound();
      return toProfile(row);
    },
    async updateMe({ input, caller, call, uow }) {
      // An avatar must be an image the caller owns (checked before the transaction: no remote call inside one).
      // Only "no such file" makes it not the caller's: a timeout or an outage of files fails the update instead.
      if (input.avatarFileId) {
        const f = await call(filesInternal.describe, { fileId: input.avatarFileId }).catch((err: unknown) => {
          if (isNotFound(err)) return undefined;
          throw err;
        });
        if (!f || f.ownerId !== caller.userId || !f.contentType.startsWith('image/') || f.state === 'rejected') {
          throw new DomainError('VALIDATION_FAILED', 'Invalid input: avatarFileId: not an image of yours', {
            issues: [{ path: 'avatarFileId', message: 'not an image of yours', code: 'invalid_avatar' }],
          });
        }
      }
      return changed(uow, caller.userId, Object.keys(input), (r) => r.update(caller.userId, input));
    },
    async notificationPreferences({ caller, repo }) {
      const row = await repo.byId(caller.userId);
      if (!row) throw notFound();
      return preferencesOf(row.preferences);
    },
    async setNotificationPreferences({ input, caller, uow }) {
      return uow(async ({ repo: r, emit }) => {
        const row = await r.byId(caller.userId);
        if (!row) throw notFound();
        // Everything left out takes its default (resolvePreferences fills it in and pins mandatory email).
        const next = preferencesOf({ types: input.types, quietHours: input.quietHours, smsNumber: input.smsNumber });
        await r.setPreferences(row.id, next);
        await emit(userEvents.updated, { userId: row.id, changed: ['preferences'], roles: row.roles as Profile['roles'], by: row.id }, row.id);
        return next;
      });
    },
    async get({ input, caller, can, repo, uow }) {
      const self = input.userId === caller.userId;
      if (!self && !can('users:manage')) throw new DomainError('FORBIDDEN', 'You may only see your own profile');
      const row = await repo.byId(input.userId);
      if (!row) throw notFound();
      // Staff reading someone's record leaves a trace in the audit log (FERPA's record of access).
      if (!self) await uow(({ emit }) => emit(privacyEvents.recordAccessed, { userId: row.id, by: caller.userId, record: 'profile', action: 'read' }, row.id));
      return toProfile(row);
    },
    async grantRole({ input, uow, deps, logger, caller }) {
      const p = await changed(uow, caller.userId, ['roles'], (r) => r.addRole(input.userId, input.role));
      deps.announceRoles(input.userId);
      logger.info({ userId: input.userId, role: input.role, by: caller.userId }, 'role granted');
      return p;
    },
    async revokeRole({ input, uow, deps, logger, caller }) {
      if (input.userId === caller.userId && input.role === 'admin') throw new DomainError('CONFLICT', 'Admins cannot take admin from themselves');
      const p = await changed(uow, caller.userId, ['roles'], (r) => r.removeRole(input.userId, input.role));
      deps.announceRoles(input.userId);
      logger.info({ userId: input.userId, role: input.role, by: caller.userId }, 'role revoked');
      return p;
    },
    async list({ input, repo }) {
      const rows = await repo.list({
        limit: input.limit,
        after: input.cursor ? decodeCursor(input.cursor) : undefined,
        q: input.q,
        role: input.role,
        status: input.status,
      });
      return keysetPage(rows, input.limit, toProfile, (p) => encodeCursor(p.createdAt, p.id));
    },
    async deactivate({ input, uow, caller, logger }) {
      if (input.userId === caller.userId) throw new DomainError('CONFLICT', 'You cannot deactivate yourself');
      return uow(async ({ repo, emit }) => {
        const row = await repo.setStatus(input.userId, 'deactivated');
        if (!row) throw notFound();
        await emit(userEvents.deactivated, { userId: row.id, by: caller.userId }, row.id);
        logger.info({ userId: row.id, by: caller.userId }, 'user deactivated');
        return toProfile(row);
      });
    },
    async reactivate({ input, uow, caller }) {
      return changed(uow, caller.userId, ['status'], (r) => r.setStatus(input.userId, 'active'));
    },
    async requestExport({ caller, uow, deps }) {
      return startExport(uow, deps.jobs, caller.userId, caller.userId);
    },
    async requestExportFor({ input, caller, uow, deps }) {
      return startExport(uow, deps.jobs, input.userId, caller.userId);
    },
    async requestErasure({ caller, uow, logger }) {
      const req = await startErasure(uow, caller.userId, caller.userId);
      logger.info({ userId: caller.userId, requestId: req.id }, 'erasure requested by the user');
      return req;
    },
    async requestErasureFor({ input, caller, uow, logger }) {
      if (input.userId === caller.userId) throw new DomainError('CONFLICT', 'Use POST /me/erasure to erase your own account');
      const req = await startErasure(uow, input.userId, caller.userId);
      logger.info({ userId: input.userId, requestId: req.id, by: caller.userId }, 'erasure requested by an admin');
      return req;
    },
    async privacyRequest({ input, caller, can, repo }) {
      return toRequest(await visibleRequest(repo, input.requestId, caller, can));
    },
    async downloadExport({ input, caller, can, repo, uow }) {
      const row = await visibleRequest(repo, input.requestId, caller, can);
      if (row.kind !== 'export') throw new DomainError('NOT_FOUND', 'No such export');
      // An erased user's bundles are deleted with them: there is nothing to download any more.
      const subject = await repo.byId(row.user_id);
      if (!subject || subject.status === 'erased' || (row.status === 'complete' && !row.result)) throw new DomainError('NOT_FOUND', 'No such export');
      if (row.status !== 'complete' || !row.result) throw new DomainError('CONFLICT', 'The export is not ready yet', { status: row.status });
      await uow(({ emit }) => emit(privacyEvents.exported, { requestId: row.id, userId: row.user_id, by: caller.userId, stage: 'downloaded' }, row.user_id));
      return { request: toRequest(row), data: row.result };
    },
    async privacyExport({ input, repo }) {
      const row = await repo.byId(input.userId);
      const requests = await repo.requestsOf(input.userId);
      return { data: { profile: row ? toProfile(row) : null, preferences: row ? preferencesOf(row.preferences) : null, privacyRequests: requests } };
    },
    async create({ input, uow }) {
      return uow(async ({ repo, emit }) => {
        const row = await repo.create(input);
        if (row === 'email_taken') throw new DomainError('EMAIL_TAKEN', 'An account with this email already exists');
        const p = toProfile(row);
        await emit(userEvents.created, { userId: p.id, email: p.email, displayName: p.displayName, roles: p.roles }, p.id);
        return p;
      });
    },
    async remove({ input, repo }) {
      return { removed: await repo.remove(input.id) };
    },
    async notificationSettingsMany({ input, repo }) {
      const rows = await repo.byIds(input.ids);
      return {
        items: rows.map((row) => ({
          id: row.id,
          email: row.email,
          displayName: row.display_name,
          locale: row.locale,
          timezone: row.timezone,
          status: row.status,
          preferences: preferencesOf(row.preferences),
        })),
      };
    },
    async setChannelPreference({ input, uow }) {
      return uow(async ({ repo: r, emit }) => {
        const row = await r.byId(input.id);
        if (!row) throw notFound();
        const prefs = preferencesOf(row.preferences);
        const next = preferencesOf({ ...prefs, types: { ...prefs.types, [input.type]: { ...prefs.types[input.type], [input.channel]: input.mode } } });
        await r.setPreferences(row.id, next);
        await emit(userEvents.updated, { userId: row.id, changed: ['preferences'], roles: row.roles as Profile['roles'], by: row.id }, row.id);
        return next;
      });
    },
    async byEmail({ input, repo }) {
      const row = await repo.byEmail(input.email.trim().toLowerCase());
      if (!row) throw notFound();
      return toProfile(row);
    },
    async roleChanges({ input, repo }) {
      const rows = await repo.roleChanges({ since: input.since === undefined ? undefined : new Date(input.since), userIds: input.userIds });
      return { items: rows.map((r) => ({ userId: r.id, roles: r.roles as Profile['roles'], at: (r.roles_changed_at ?? r.updated_at).getTime() })) };
    },
    async summaries({ input, repo }) {
      const rows = await repo.byIds(input.ids);
      return { items: rows.map((r) => ({ id: r.id, displayName: r.display_name, email: r.status === 'erased' ? null : r.email, status: r.status })) };
    },
    async byId({ input, repo }) {
      const row = await repo.byId(input.id);
      if (!row) throw notFound();
      return toProfile(row);
    },
  },
});

export type { UsersDB };
