import { authEvents, DomainError, usersInternal } from '@lms/contracts';
import { randomUUID } from 'node:crypto';
import type { AuthHandlers } from '../deps.js';
import { clientFields, mfaChallengeFor, mustBeActive, openSession, sha256 } from './shared.js';

/** Sign-in with an external identity provider (OpenID Connect, code + PKCE). */
export const oidcHandlers: Pick<AuthHandlers, 'oidcProviders' | 'oidcStart' | 'oidcCallback'> = {
  async oidcProviders({ deps }) {
    return { providers: deps.oidc.providers.map((p) => ({ name: p.name, displayName: p.displayName, startUrl: `/api/v1/auth/oidc/${p.name}/start` })) };
  },

  async oidcStart({ input, repo, deps }) {
    const p = deps.oidc.named(input.provider);
    const flow = await deps.oidc.startFlow(p);
    // Only the state's hash is kept; the verifier and nonce wait here for the callback, ten minutes at most.
    await repo.newOidcFlow({
      stateHash: sha256(flow.state),
      provider: p.name,
      codeVerifier: flow.codeVerifier,
      nonce: flow.nonce,
      expiresAt: new Date(Date.now() + 600_000),
    });
    return { location: flow.url };
  },

  async oidcCallback({ input, repo, deps, call, client, uow, logger }) {
    const p = deps.oidc.named(input.provider);
    if (input.error) throw new DomainError('OIDC_FAILED', 'The identity provider refused the sign-in', { error: input.error });
    // A state works once and only for the provider it was made for: no replay, no mix-up.
    const flow = await repo.useOidcFlow(sha256(input.state), p.name);
    if (!flow) throw new DomainError('TOKEN_INVALID', 'This sign-in attempt has expired or was already used; start again');
    const { provider: _provider, ...query } = input;
    const ext = await deps.oidc.finishFlow(p, query, { state: input.state, codeVerifier: flow.code_verifier, nonce: flow.nonce });

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
        await call(usersInternal.create, { id: userId, email: ext.email, displayName: ext.name ?? ext.email.split('@')[0] ?? ext.email });
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
      const email = ext.email;
      await uow(async ({ repo, emit }) => {
        await repo.linkIdentity({ provider: p.name, subject: ext.subject, userId, email });
        await emit(authEvents.identityLinked, { userId, provider: p.name, created: outcome === 'created' }, userId);
        // The provider vouched for the address: the account's email is verified too.
        if (email && (await repo.markEmailVerified(userId, email))) await emit(authEvents.emailVerified, { userId, email }, userId);
      });
      logger.info({ userId, provider: p.name, outcome }, 'external identity linked');
    } else {
      await repo.linkIdentity({ provider: p.name, subject: ext.subject, userId, email: ext.email });
    }
    // An account with TOTP on still needs its second factor.
    const challenge = await mfaChallengeFor(repo, userId);
    if (challenge) return challenge;
    await repo.touchLogin(userId);
    return openSession(
      uow,
      deps,
      profile,
      client,
      ({ emit }, sessionId) => emit(authEvents.loginSucceeded, { userId, sessionId, ...clientFields(client) }, userId),
      ['ext'],
    );
  },
};
