import { auth, authBroadcasts, privacyExportContract, type EventContract } from '@lms/contracts';
import { consumer, createRateLimiter, sealerOf, type ConsumerDefinition, type Handlers, type Sealer, type ServiceContext } from '@lms/runtime';
import type { AuthDB, AuthRepository, EmailTokenPurpose } from './auth.repository.js';
import { oidcProviderVariables, type AuthConfig } from './config.js';
import { Oidc, oidcProvidersFrom } from './oidc.js';
import { Throttle, throttleRules } from './throttle.js';
import { TokenIssuer } from './tokens.js';

/** The procedures the auth service serves. */
export const authContracts = { ...auth, ...privacyExportContract('auth') };

export type AuthContext = ServiceContext<AuthDB, AuthRepository, AuthConfig>;

/** What the auth service's handlers and consumers use besides the repository, built once when the node starts. */
export function authDeps(s: AuthContext) {
  const c = s.config;
  const limiter = createRateLimiter(s.runtime.config, (err) => s.logger.warn({ err: String(err) }, 'auth throttle unavailable'));
  const rules = throttleRules(c);
  let sealer: Promise<Sealer> | undefined;
  const accessTtlS = s.runtime.config.accessTtlS;
  return {
    tokens: new TokenIssuer(s.repo, { accessTtlS, refreshTtlS: c.AUTH_REFRESH_TTL_S, rotateAfterDays: c.AUTH_KEY_ROTATE_DAYS, overlapS: c.AUTH_KEY_OVERLAP_S }),
    limiter,
    /** Failed password checks (logins, password changes, MFA enrolment and removal). */
    throttle: new Throttle(limiter, rules.login),
    emailThrottle: new Throttle(limiter, rules.email),
    mfaThrottle: new Throttle(limiter, rules.mfa),
    /** How long emailed links work. */
    emailTokenTtlS: { verify_email: c.AUTH_VERIFY_TOKEN_TTL_S, reset_password: c.AUTH_RESET_TOKEN_TTL_S } satisfies Record<EmailTokenPurpose, number>,
    /** Issuer shown in authenticator apps. */
    lmsName: c.LMS_NAME,
    oidc: new Oidc(oidcProvidersFrom(c.OIDC_PROVIDERS, oidcProviderVariables), {
      publicUrl: c.PUBLIC_URL ?? `http://localhost:${s.runtime.config.port}`,
      allowInsecureHttp: c.OIDC_ALLOW_INSECURE_HTTP,
    }),
    /** Seals TOTP seeds: AUTH_DATA_KEY, or else a key generated once and kept in the auth schema. */
    sealer(): Promise<Sealer> {
      if (!sealer) {
        const made = sealerOf({
          variable: 'AUTH_DATA_KEY',
          value: c.AUTH_DATA_KEY,
          production: s.runtime.config.env === 'production',
          stored: (make) => s.repo.dataKey(make),
          warn: (m) => s.logger.warn(m),
          what: 'TOTP seeds',
        });
        // A failed read of the stored key is not kept: the next use tries again.
        void made.catch(() => (sealer = undefined));
        sealer = made;
      }
      return sealer;
    },
    /** Tells every gateway, at once, to refuse access tokens of these sessions until they would expire anyway. */
    announceRevoked(sessionIds: string[]): void {
      if (sessionIds.length === 0) return;
      const payload = authBroadcasts.sessionsRevoked.payload.parse({ sessionIds, until: Date.now() + accessTtlS * 1000 });
      void s.broadcast(authBroadcasts.sessionsRevoked.name, payload);
    },
    /** Every node's verifier fetches the keys again at the next token. */
    announceKeysRotated(kid: string): void {
      void s.broadcast(authBroadcasts.keysRotated.name, authBroadcasts.keysRotated.payload.parse({ kid }));
    },
  };
}
export type AuthDeps = ReturnType<typeof authDeps>;

/** The auth service's handlers; each file of handlers/ implements a part of them. */
export type AuthHandlers = Handlers<typeof authContracts, AuthDB, AuthRepository, AuthDeps>;

/** A consumer of the auth service, typed by its repository and dependencies. */
export const authConsumer = <E extends EventContract>(def: ConsumerDefinition<E, AuthDB, AuthRepository, AuthDeps>) => consumer(def);
