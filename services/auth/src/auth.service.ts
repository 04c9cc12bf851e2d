import { hash, verify } from '@node-rs/argon2';
import { auth, DomainError, usersInternal, type Profile } from '@lms/contracts';
import { defineService } from '@lms/runtime';
import type { Kysely } from 'kysely';
import { randomUUID } from 'node:crypto';
import { AuthRepository, type AuthDB } from './auth.repository.js';
import * as m0 from './migrations/20261124000000_auth.js';
import { ACCESS_TTL_S, TokenIssuer } from './tokens.js';

// OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane.
const ARGON = { algorithm: 2 /* Algorithm.Argon2id (a const enum) */, memoryCost: 19_456, timeCost: 2, parallelism: 1 };
// Verified when the email is unknown, so a miss costs as long as a hit.
const DUMMY_HASH = hash('not-a-real-password', ARGON);

function session(profile: Profile, accessToken: string) {
  return {
    user: { id: profile.id, email: profile.email, displayName: profile.displayName, roles: profile.roles },
    accessToken,
    tokenType: 'Bearer' as const,
    expiresIn: ACCESS_TTL_S,
  };
}

/** Accounts' credentials and access tokens (EdDSA JWTs); profiles live in the users service. */
export const authService = defineService({
  name: 'auth',
  contracts: auth,
  migrations: { '20261124000000_auth': m0 },
  dependencies: ['users'],
  repository: (db: Kysely<AuthDB>) => {
    const repo = new AuthRepository(db);
    return { repo, tokens: new TokenIssuer(repo) };
  },
  handlers: {
    async register({ input, repo: { repo, tokens }, call, logger }) {
      if (await repo.byEmail(input.email)) throw new DomainError('EMAIL_TAKEN', 'An account with this email already exists');
      const passwordHash = await hash(input.password, ARGON);
      const id = randomUUID();
      const profile = await call(usersInternal.create, { id, email: input.email, displayName: input.displayName });
      if (!(await repo.insertCredential({ userId: id, email: input.email, passwordHash }))) {
        // Lost a race for the email: undo the profile so nothing half-made is left.
        await call(usersInternal.remove, { id });
        throw new DomainError('EMAIL_TAKEN', 'An account with this email already exists');
      }
      logger.info({ userId: id, admin: profile.roles.includes('admin') }, 'account registered');
      return session(profile, await tokens.issue(profile));
    },
    async login({ input, repo: { repo, tokens }, call }) {
      const cred = await repo.byEmail(input.email);
      const ok = await verify(cred?.password_hash ?? (await DUMMY_HASH), input.password).catch(() => false);
      if (!cred || !ok) throw new DomainError('INVALID_CREDENTIALS', 'Email or password is wrong');
      const profile = await call(usersInternal.byId, { id: cred.user_id });
      await repo.touchLogin(cred.user_id);
      return session(profile, await tokens.issue(profile));
    },
    async jwks({ repo: { tokens } }) {
      return (await tokens.jwks()) as { keys: Array<{ kty: string; kid: string; alg: string; use: string; crv: string; x: string }> };
    },
  },
});
