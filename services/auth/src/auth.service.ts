import type { Kysely } from 'kysely';
import { defineService } from '@lms/runtime';
import { AuthRepository, type AuthDB } from './auth.repository.js';
import { authEnv } from './config.js';
import { authConsumers } from './consumers.js';
import { authContracts, authDeps } from './deps.js';
import { accountHandlers } from './handlers/accounts.js';
import { emailTokenHandlers } from './handlers/email-tokens.js';
import { mfaHandlers } from './handlers/mfa.js';
import { oidcHandlers } from './handlers/oidc.js';
import { sessionHandlers } from './handlers/sessions.js';
import * as m0 from './migrations/20261124000000_auth.js';
import * as m1 from './migrations/20261124120000_sessions.js';
import * as m2 from './migrations/20261124200000_identity.js';

/** Accounts' credentials and access tokens (EdDSA JWTs); profiles live in the users service. */
export const authService = defineService({
  name: 'auth',
  contracts: authContracts,
  env: authEnv,
  migrations: { '20261124000000_auth': m0, '20261124120000_sessions': m1, '20261124200000_identity': m2 },
  dependencies: ['users'],
  repository: (db: Kysely<AuthDB>) => new AuthRepository(db),
  deps: authDeps,
  stopped: async ({ limiter }) => (await limiter).close(),
  consumers: authConsumers,
  handlers: { ...accountHandlers, ...sessionHandlers, ...mfaHandlers, ...oidcHandlers, ...emailTokenHandlers },
});
