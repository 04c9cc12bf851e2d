import type { Kysely } from 'kysely';
import { DomainError, users, usersInternal } from '@lms/contracts';
import { defineService } from '@lms/runtime';
import * as m0 from './migrations/20261124000000_users.js';
import { toProfile, UsersRepository, type UsersDB } from './users.repository.js';

const notFound = () => new DomainError('USER_NOT_FOUND', 'No such user');

/** Profiles and roles. Accounts' credentials live in the auth service. */
export const usersService = defineService({
  name: 'users',
  contracts: { ...users, ...usersInternal },
  migrations: { '20261124000000_users': m0 },
  repository: (db: Kysely<UsersDB>) => new UsersRepository(db),
  handlers: {
    async me({ caller, repo }) {
      const row = await repo.byId(caller!.userId);
      if (!row) throw notFound();
      return toProfile(row);
    },
    async updateMe({ input, caller, repo }) {
      const row = await repo.update(caller!.userId, input);
      if (!row) throw notFound();
      return toProfile(row);
    },
    async get({ input, caller, can, repo }) {
      if (input.userId !== caller!.userId && !can('users:manage')) throw new DomainError('FORBIDDEN', 'You may only see your own profile');
      const row = await repo.byId(input.userId);
      if (!row) throw notFound();
      return toProfile(row);
    },
    async grantRole({ input, repo, logger, caller }) {
      const row = await repo.addRole(input.userId, input.role);
      if (!row) throw notFound();
      logger.info({ userId: input.userId, role: input.role, by: caller!.userId }, 'role granted');
      return toProfile(row);
    },
    async create({ input, repo }) {
      const row = await repo.create(input);
      if (row === 'email_taken') throw new DomainError('EMAIL_TAKEN', 'An account with this email already exists');
      return toProfile(row);
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
