import { DomainError } from '@lms/contracts';
import { isUnreachable } from '@lms/runtime';
import * as oidc from 'openid-client';
import type { OidcProviderKey } from './config.js';

/** One external identity provider, from the environment (OIDC_PROVIDERS and OIDC_<NAME>_*). */
export interface OidcProviderConfig {
  name: string;
  displayName: string;
  issuer: string;
  clientId: string;
  clientSecret: string;
  scopes: string;
  /** Link a first login to an existing account with the same, provider-verified email. */
  linkByEmail: boolean;
  /** Create an account on a first login when no account has the email. */
  createAccounts: boolean;
}

/**
 * The providers of OIDC_PROVIDERS (names lower-cased; names other than letters, digits and `-` ignored) from their
 * `OIDC_<NAME>_*` variables (config.ts reads them): ISSUER and CLIENT_ID are required (a provider without them is
 * left out), CLIENT_SECRET, NAME, SCOPES (`openid email profile`), LINK_BY_EMAIL and CREATE_ACCOUNTS (both on
 * unless `false`) optional.
 */
export function oidcProvidersFrom(
  names: readonly string[],
  variables: (names: string[]) => Record<string, Partial<Record<OidcProviderKey, string>>>,
): OidcProviderConfig[] {
  const valid = names.map((s) => s.trim().toLowerCase()).filter((s) => /^[a-z0-9-]+$/.test(s));
  const vars = variables(valid);
  return valid.flatMap((name) => {
    const v = vars[name] ?? {};
    if (!v.ISSUER || !v.CLIENT_ID) return [];
    return [
      {
        name,
        displayName: v.NAME ?? name,
        issuer: v.ISSUER,
        clientId: v.CLIENT_ID,
        clientSecret: v.CLIENT_SECRET ?? '',
        scopes: v.SCOPES ?? 'openid email profile',
        linkByEmail: v.LINK_BY_EMAIL !== 'false',
        createAccounts: v.CREATE_ACCOUNTS !== 'false',
      },
    ];
  });
}

export interface StartedFlow {
  url: string;
  state: string;
  codeVerifier: string;
  nonce: string;
}

export interface ExternalIdentity {
  subject: string;
  email: string | null;
  emailVerified: boolean;
  name: string | null;
}

/** The configured identity providers (read once, at start) and the code flow with them. */
export class Oidc {
  private readonly configs = new Map<string, Promise<oidc.Configuration>>();
  private readonly base: string;
  private readonly insecure: boolean;

  constructor(
    readonly providers: readonly OidcProviderConfig[],
    settings: { publicUrl: string; allowInsecureHttp: boolean },
  ) {
    this.base = settings.publicUrl.replace(/\/$/, '');
    this.insecure = settings.allowInsecureHttp;
  }

  named(name: string): OidcProviderConfig {
    const p = this.providers.find((x) => x.name === name);
    if (!p) throw new DomainError('NOT_FOUND', `No identity provider named "${name}"`);
    return p;
  }

  /** Where the provider sends the browser back: the gateway's callback route. */
  redirectUri(provider: string): string {
    return `${this.base}/api/v1/auth/oidc/${provider}/callback`;
  }

  /** The provider's discovered configuration, cached; a failed discovery is retried on the next use. */
  private configurationOf(p: OidcProviderConfig): Promise<oidc.Configuration> {
    const key = `${p.name}|${p.issuer}|${p.clientId}`;
    let c = this.configs.get(key);
    if (!c) {
      // Plain http only where the operator says so (a provider on localhost in development and tests).
      c = oidc.discovery(
        new URL(p.issuer),
        p.clientId,
        p.clientSecret || undefined,
        undefined,
        this.insecure ? { execute: [oidc.allowInsecureRequests] } : undefined,
      );
      this.configs.set(key, c);
      void c.catch(() => this.configs.delete(key));
    }
    return c;
  }

  /** Authorization code + PKCE (S256), with state and nonce. */
  async startFlow(p: OidcProviderConfig): Promise<StartedFlow> {
    const config = await this.configurationOf(p).catch((err: unknown) => {
      throw new DomainError('SERVICE_UNAVAILABLE', `The identity provider "${p.name}" cannot be reached`, { cause: String(err).slice(0, 200) });
    });
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: this.redirectUri(p.name),
      scope: p.scopes,
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    return { url: url.href, state, codeVerifier, nonce };
  }

  /** Exchanges the code (checking state, nonce, PKCE, issuer and the ID token) for the user's claims. */
  async finishFlow(
    p: OidcProviderConfig,
    callbackQuery: Record<string, string>,
    checks: { state: string; codeVerifier: string; nonce: string },
  ): Promise<ExternalIdentity> {
    const config = await this.configurationOf(p);
    const current = new URL(this.redirectUri(p.name));
    for (const [k, v] of Object.entries(callbackQuery)) current.searchParams.set(k, v);
    try {
      const tokens = await oidc.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: checks.codeVerifier,
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        idTokenExpected: true,
      });
      const idToken = tokens.claims();
      if (!idToken) throw new Error('no ID token');
      // Providers that keep the ID token small put email and name in the userinfo response only;
      // fetchUserInfo checks that its subject is the ID token's.
      const claims: Record<string, unknown> =
        idToken.email === undefined ? { ...(await oidc.fetchUserInfo(config, tokens.access_token, idToken.sub)), sub: idToken.sub } : idToken;
      return {
        subject: idToken.sub,
        email: typeof claims.email === 'string' ? claims.email.toLowerCase() : null,
        emailVerified: claims.email_verified === true,
        name: typeof claims.name === 'string' ? claims.name : null,
      };
    } catch (err) {
      // A provider that cannot be reached or does not answer did not refuse anyone: an outage, not a failed sign-in.
      if (isUnreachable(err)) throw new DomainError('SERVICE_UNAVAILABLE', `The identity provider "${p.name}" cannot be reached`);
      throw new DomainError('OIDC_FAILED', 'The identity provider did not confirm the sign-in', {
        reason: err instanceof Error ? err.message.slice(0, 200) : 'unknown',
      });
    }
  }
}
