import { DomainError } from '@lms/contracts';
import * as oidc from 'openid-client';

/** One external identity provider, from the environment (OIDC_<NAME>_*). */
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

const env = (name: string, key: string) => process.env[`OIDC_${name.toUpperCase()}_${key}`];

/**
 * OIDC_PROVIDERS=school,google plus, per provider, OIDC_SCHOOL_ISSUER, OIDC_SCHOOL_CLIENT_ID,
 * OIDC_SCHOOL_CLIENT_SECRET, and optionally OIDC_SCHOOL_NAME, _SCOPES, _LINK_BY_EMAIL, _CREATE_ACCOUNTS.
 * Read on each use, so a test or an operator can add a provider without a code change.
 */
export function oidcProviders(): OidcProviderConfig[] {
  const names = (process.env.OIDC_PROVIDERS ?? '').split(',').map((s) => s.trim().toLowerCase()).filter((s) => /^[a-z0-9-]+$/.test(s));
  return names.flatMap((name) => {
    const issuer = env(name, 'ISSUER');
    const clientId = env(name, 'CLIENT_ID');
    if (!issuer || !clientId) return [];
    return [
      {
        name,
        displayName: env(name, 'NAME') ?? name,
        issuer,
        clientId,
        clientSecret: env(name, 'CLIENT_SECRET') ?? '',
        scopes: env(name, 'SCOPES') ?? 'openid email profile',
        linkByEmail: env(name, 'LINK_BY_EMAIL') !== 'false',
        createAccounts: env(name, 'CREATE_ACCOUNTS') !== 'false',
      },
    ];
  });
}

export function providerNamed(name: string): OidcProviderConfig {
  const p = oidcProviders().find((x) => x.name === name);
  if (!p) throw new DomainError('NOT_FOUND', `No identity provider named "${name}"`);
  return p;
}

/** Where the provider sends the browser back: the gateway's callback route. */
export function redirectUri(provider: string): string {
  const base = (process.env.PUBLIC_URL ?? `http://localhost:${process.env.PORT ?? 3000}`).replace(/\/$/, '');
  return `${base}/api/v1/auth/oidc/${provider}/callback`;
}

const configs = new Map<string, Promise<oidc.Configuration>>();

/** The provider's discovered configuration, cached; a failed discovery is retried on the next use. */
export function configurationOf(p: OidcProviderConfig): Promise<oidc.Configuration> {
  const key = `${p.name}|${p.issuer}|${p.clientId}`;
  let c = configs.get(key);
  if (!c) {
    // Plain http only where the operator says so (a provider on localhost in development and tests).
    const insecure = process.env.OIDC_ALLOW_INSECURE_HTTP === 'true';
    c = oidc.discovery(new URL(p.issuer), p.clientId, p.clientSecret || undefined, undefined, insecure ? { execute: [oidc.allowInsecureRequests] } : undefined);
    configs.set(key, c);
    c.catch(() => configs.delete(key));
  }
  return c;
}

export interface StartedFlow {
  url: string;
  state: string;
  codeVerifier: string;
  nonce: string;
}

/** Authorization code + PKCE (S256), with state and nonce. */
export async function startFlow(p: OidcProviderConfig): Promise<StartedFlow> {
  const config = await configurationOf(p).catch((err) => {
    throw new DomainError('SERVICE_UNAVAILABLE', `The identity provider "${p.name}" cannot be reached`, { cause: String(err).slice(0, 200) });
  });
  const codeVerifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri(p.name),
    scope: p.scopes,
    code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  return { url: url.href, state, codeVerifier, nonce };
}

export interface ExternalIdentity {
  subject: string;
  email: string | null;
  emailVerified: boolean;
  name: string | null;
}

/** Exchanges the code (checking state, nonce, PKCE, issuer and the ID token) for the user's claims. */
export async function finishFlow(p: OidcProviderConfig, callbackQuery: Record<string, string>, checks: { state: string; codeVerifier: string; nonce: string }): Promise<ExternalIdentity> {
  const config = await configurationOf(p);
  const current = new URL(redirectUri(p.name));
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
    const claims: Record<string, unknown> = idToken.email === undefined ? { ...(await oidc.fetchUserInfo(config, tokens.access_token, idToken.sub)), sub: idToken.sub } : idToken;
    return {
      subject: idToken.sub,
      email: typeof claims.email === 'string' ? claims.email.toLowerCase() : null,
      emailVerified: claims.email_verified === true,
      name: typeof claims.name === 'string' ? claims.name : null,
    };
  } catch (err) {
    throw new DomainError('OIDC_FAILED', 'The identity provider did not confirm the sign-in', { reason: err instanceof Error ? err.message.slice(0, 200) : 'unknown' });
  }
}
