import type { Kysely } from 'kysely';
import { DomainError, userEvents, users, usersInternal, type AnyProcedure, type Profile } from '@lms/contracts';
import { decodeCursor, defineService, encodeCursor, keysetPage, type HandlerArgs } from '@lms/runtime';
import * as m0 from './migrations/20261124000000_users.js';
import * as m1 from './migrations/20261124130000_profile_status.js';
import { toProfile, UsersRepository, type UsersDB } from './users.repository.js';

const notFound = () => new DomainError('USER_NOT_FOUND', 'No such user');

/** Applies a change in a transaction that also records user.updated in the outbox. */
async function changed(
  tx: HandlerArgs<AnyProcedure, UsersDB, UsersRepository>['tx'],
  by: string | null,
  what: string[],
  change: (repo: UsersRepository) => ReturnType<UsersRepository['byId']>,
): Promise<Profile> {
  return tx(async (trx, emit) => {
    const row = await change(new UsersRepository(trx));
    if (!row) throw notFound();
    await emit(userEvents.updated, { userId: row.id, changed: what, roles: row.roles as Profile['roles'], by }, row.id);
    return toProfile(row);
  });
}

/** Profiles and roles. Accounts' credentials live in the auth service. */
export const usersService = defineService({
  name: 'users',
  contracts: { ...users, ...usersInternal },
  migrations: { '20261124000000_users': m0, '20261124130000_profile_status': m1 },
  repository: (db: Kysely<UsersDB>) => new UsersRepository(db),
  handlers: {
    async me({ caller, repo }) {
      const row = await repo.byId(caller!.userId);
      if (!row) throw notFound();
      return toProfile(row);
    },
    async updateMe({ input, caller, tx }) {
      return changed(tx, caller!.userId, Object.keys(input), (r) => r.update(caller!.userId, input));
    },
    async get({ input, caller, can, repo }) {
      if (input.userId !== caller!.userId && !can('users:manage')) throw new DomainError('FORBIDDEN', 'You may only see your own profile');
      const row = await repo.byId(input.userId);
      if (!row) throw notFound();
      return toProfile(row);
    },
    async grantRole({ input, tx, logger, caller }) {
      const p = await changed(tx, caller!.userId, ['roles'], (r) => r.addRole(input.userId, input.role));
      logger.info({ userId: input.userId, role: input.role, by: caller!.userId }, 'role granted');
      return p;
    },
    async revokeRole({ input, tx, logger, caller }) {
      if (input.userId === caller!.userId && input.role === 'admin') throw new DomainError('CONFLICT', 'Admins cannot take admin from themselves');
      const p = await changed(tx, caller!.userId, ['roles'], (r) => r.removeRole(input.userId, input.role));
      logger.info({ userId: input.userId, role: input.role, by: caller!.userId }, 'role revoked');
      return p;
    },
    async list({ input, repo }) {
      const rows = await repo.list({ limit: input.limit, after: input.cursor ? decodeCursor(input.cursor) : undefined, q: input.q, role: input.role, status: input.status });
      return keysetPage(rows, input.limit, toProfile, (p) => encodeCursor(p.createdAt, p.id));
    },
    async deactivate({ input, tx, caller, logger }) {
      if (input.userId === caller!.userId) throw new DomainError('CONFLICT', 'You cannot deactivate yourself');
      return tx(async (trx, emit) => {
        const row = await new UsersRepository(trx).setStatus(input.userId, 'deactivated');
        if (!row) throw notFound();
        await emit(userEvents.deactivated, { userId: row.id, by: caller!.userId }, row.id);
        logger.info({ userId: row.id, by: caller!.userId }, 'user deactivated');
        return toProfile(row);
      });
    },
    async reactivate({ input, tx, caller }) {
      return changed(tx, caller!.userId, ['status'], (r) => r.setStatus(input.userId, 'active'));
    },
    async create({ input, tx }) {
      return tx(async (trx, emit) => {
        const row = await new UsersRepository(trx).create(input);
        if (row === 'email_taken') throw new DomainError('EMAIL_TAKEN', 'An account with this email already exists');
        const p = toProfile(row);
        await emit(userEvents.created, { userId: p.id, email: p.email, displayName: p.displayName, roles: p.roles }, p.id);
        return p;
      });
    },
    async remove({ input, repo }) {
      return { removed: await repo.remove(input.id) };
    },
    async byId({ input, repo }) {
      const row = await repo.byId(input.id);
      if (!row) throw notFound();
      return toProfile(row);
    },
  },
});

export type { UsersDB };
