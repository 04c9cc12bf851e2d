/**
 * Sign-in with an external identity provider, end to end against a real OpenID Provider
 * (oidc-provider) started here: authorization code + PKCE, state and nonce checked, accounts linked
 * by provider-verified email, created on first sign-in, refused when the email is not verified.
 */
import { createServer, type Server } from 'node:http';
import { gatewayPort } from '@lms/gateway';
import { startNode, type LmsNode } from '@lms/runtime';
import { decodeJwt } from 'jose';
import Provider from 'oidc-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpAt } from '../../services/auth/src/domain/totp.ts';
import { SERVICES } from '../services.ts';
import { defined, freePort, http } from './support.ts';

const accounts: Record<string, { email: string; email_verified: boolean; name: string }> = {
  'sub-alice': { email: 'alice@school.test', email_verified: true, name: 'Alice Example' },
  'sub-bob': { email: 'bob@school.test', email_verified: true, name: 'Bob Example' },
  'sub-mallory': { email: 'victim@school.test', email_verified: false, name: 'Mallory' },
};

let node: LmsNode;
let base: string;
let idp: Server;
let issuer: string;
let idpDown = false;

beforeAll(async () => {
  process.env.RATE_LIMIT_AUTH_PER_MINUTE = '1000';
  // The provider first: auth reads its configuration (OIDC_*, PUBLIC_URL) once, when the node starts.
  const port = await freePort(); // the gateway's: its URL must be known before the node starts, for PUBLIC_URL
  base = `http://127.0.0.1:${port}`;
  idp = createServer();
  await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(idp.address() as { port: number }).port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'lms',
        client_secret: 'lms-secret',
        redirect_uris: [`${base}/api/v1/auth/oidc/school/callback`],
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    findAccount: async (_ctx, sub) => (accounts[sub] ? { accountId: sub, claims: async () => ({ sub, ...accounts[sub] }) } : undefined),
    cookies: { keys: ['oidc-test-cookie-key'] },
  });
  const handle = provider.callback();
  // While `idpDown`, the provider drops every connection: a provider that cannot be reached.
  idp.on('request', (req, res) => (idpDown ? void req.socket.destroy() : void handle(req, res)));
  Object.assign(process.env, {
    PUBLIC_URL: base,
    OIDC_PROVIDERS: 'school',
    OIDC_SCHOOL_NAME: 'Example School',
    OIDC_SCHOOL_ISSUER: issuer,
    OIDC_SCHOOL_CLIENT_ID: 'lms',
    OIDC_SCHOOL_CLIENT_SECRET: 'lms-secret',
    OIDC_ALLOW_INSECURE_HTTP: 'true',
  });
  node = await startNode(Object.values(SERVICES), { mode: 'embedded', dataDir: 'memory://', port, databaseUrl: undefined });
  expect(gatewayPort(node.broker)).toBe(port);
});
afterAll(async () => {
  await node?.stop();
  idp?.close();
  for (const k of [
    'PUBLIC_URL',
    'OIDC_PROVIDERS',
    'OIDC_SCHOOL_NAME',
    'OIDC_SCHOOL_ISSUER',
    'OIDC_SCHOOL_CLIENT_ID',
    'OIDC_SCHOOL_CLIENT_SECRET',
    'OIDC_ALLOW_INSECURE_HTTP',
    'RATE_LIMIT_AUTH_PER_MINUTE',
  ])
    delete process.env[k];
});

/**
 * A browser at the provider: follows redirects with its cookies and fills the provider's login and
 * consent forms as `login`, until the provider sends it back to the LMS. Answers that callback URL.
 */
async function signInAtProvider(startUrl: string, login: string): Promise<URL> {
  const jar = new Map<string, string>();
  let url = new URL(startUrl);
  let method = 'GET';
  let body: string | undefined;
  for (let hop = 0; hop < 20; hop++) {
    if (url.href.startsWith(`${base}/api/v1/auth/oidc/school/callback`)) return url;
    const res = await fetch(url, {
      method,
      redirect: 'manual',
      headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; '), ...(body && { 'content-type': 'application/x-www-form-urlencoded' }) },
      body,
    });
    for (const c of res.headers.getSetCookie()) {
      const pair = c.split(';')[0] ?? '';
      const i = pair.indexOf('=');
      jar.set(pair.slice(0, i), pair.slice(i + 1));
    }
    method = 'GET';
    body = undefined;
    if (res.status >= 300 && res.status < 400) {
      url = new URL(defined(res.headers.get('location')), url);
      continue;
    }
    const html = await res.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    const prompt = /name="prompt" value="(\w+)"/.exec(html)?.[1];
    if (!action || !prompt) throw new Error(`unexpected page at ${url.href}: ${res.status} ${html.slice(0, 200)}`);
    url = new URL(action, url);
    method = 'POST';
    body = new URLSearchParams(prompt === 'login' ? { prompt, login, password: 'any' } : { prompt }).toString();
  }
  throw new Error('too many hops');
}

async function oidcLogin(login: string) {
  const start = await fetch(`${base}/api/v1/auth/oidc/school/start`, { redirect: 'manual' });
  expect(start.status).toBe(302);
  const location = defined(start.headers.get('location'));
  const callback = await signInAtProvider(location, login);
  return { location: new URL(location), callback, result: await http(base, 'GET', `${callback.pathname}${callback.search}`) };
}

describe('OIDC sign-in', () => {
  it('lists the provider and redirects to it with PKCE (S256), state and nonce', async () => {
    const list = await http(base, 'GET', '/api/v1/auth/oidc');
    expect(list.body.providers).toEqual([{ name: 'school', displayName: 'Example School', startUrl: '/api/v1/auth/oidc/school/start' }]);
    const start = await fetch(`${base}/api/v1/auth/oidc/school/start`, { redirect: 'manual' });
    const loc = new URL(defined(start.headers.get('location')));
    expect(loc.origin).toBe(issuer);
    expect(Object.fromEntries(loc.searchParams)).toMatchObject({
      client_id: 'lms',
      response_type: 'code',
      code_challenge_method: 'S256',
      redirect_uri: `${base}/api/v1/auth/oidc/school/callback`,
      scope: 'openid email profile',
    });
    expect(loc.searchParams.get('state')).toMatch(/^[\w-]{43}$/);
    expect(loc.searchParams.get('nonce')).toMatch(/^[\w-]{43}$/);
    expect((await http(base, 'GET', '/api/v1/auth/oidc/nope/start')).status).toBe(404);
  });

  it('creates an account on the first sign-in, then signs the same identity into it', async () => {
    const first = await oidcLogin('sub-alice');
    expect(first.result.status).toBe(200);
    expect(first.result.body.user).toMatchObject({ email: 'alice@school.test', displayName: 'Alice Example', roles: ['admin', 'instructor', 'student'] });
    expect(decodeJwt(first.result.body.accessToken).amr).toEqual(['ext']);
    const me = await http(base, 'GET', '/api/v1/me', undefined, first.result.body.accessToken);
    expect(me.body.emailVerified).toBe(true);
    const again = await oidcLogin('sub-alice');
    expect(again.result.body.user.id).toBe(first.result.body.user.id);
    // Such an account has no password: a password login cannot get in.
    expect((await http(base, 'POST', '/api/v1/auth/login', { email: 'alice@school.test', password: 'anything at all' })).status).toBe(401);
  });

  it('links an existing account by the provider-verified email, and still asks for its second factor', async () => {
    const local = (await http(base, 'POST', '/api/v1/auth/register', { email: 'bob@school.test', password: 'bob local password', displayName: 'Bob' })).body;
    const e = await http(base, 'POST', '/api/v1/auth/mfa/totp', { password: 'bob local password' }, local.accessToken);
    await http(base, 'POST', '/api/v1/auth/mfa/totp/confirm', { code: totpAt(e.body.secret, Date.now()) }, local.accessToken);
    const r = await oidcLogin('sub-bob');
    expect(r.result.status).toBe(200);
    expect(r.result.body.mfaRequired).toBe(true);
    const s = await http(base, 'POST', '/api/v1/auth/mfa/verify', { mfaToken: r.result.body.mfaToken, code: totpAt(e.body.secret, Date.now() + 30_000) });
    expect(s.body.user.id).toBe(local.user.id);
  });

  it('refuses an identity whose email the provider does not vouch for (no takeover of the account with that address)', async () => {
    await http(base, 'POST', '/api/v1/auth/register', { email: 'victim@school.test', password: 'victim own password', displayName: 'Victim' });
    const r = await oidcLogin('sub-mallory');
    expect(r.result.status).toBe(403);
    expect(r.result.body.error.code).toBe('EMAIL_NOT_VERIFIED');
  });

  it('refuses a replayed callback, a forged state and a swapped code verifier', async () => {
    const r = await oidcLogin('sub-alice');
    expect(r.result.status).toBe(200);
    const replay = await http(base, 'GET', `${r.callback.pathname}${r.callback.search}`);
    expect(replay.status).toBe(401);
    expect(replay.body.error.code).toBe('TOKEN_INVALID');

    // A code obtained in one flow, presented with the state of another (login CSRF / code injection).
    const victimStart = await fetch(`${base}/api/v1/auth/oidc/school/start`, { redirect: 'manual' });
    const victimState = defined(new URL(defined(victimStart.headers.get('location'))).searchParams.get('state'));
    const attacker = await oidcLogin('sub-alice').catch(() => undefined);
    expect(attacker).toBeDefined();
    const start = await fetch(`${base}/api/v1/auth/oidc/school/start`, { redirect: 'manual' });
    const cb = await signInAtProvider(defined(start.headers.get('location')), 'sub-alice');
    cb.searchParams.set('state', victimState);
    const swapped = await http(base, 'GET', `${cb.pathname}${cb.search}`);
    expect(swapped.status).toBe(401);
    expect(swapped.body.error.code).toBe('OIDC_FAILED');

    const forged = await http(base, 'GET', '/api/v1/auth/oidc/school/callback?code=abc&state=made-up-state');
    expect(forged.status).toBe(401);
    const denied = await http(base, 'GET', '/api/v1/auth/oidc/school/callback?error=access_denied&state=whatever');
    expect(denied.body.error.code).toBe('OIDC_FAILED');
  });

  it('answers 503 with Retry-After, not a refused sign-in, when the provider cannot be reached at the callback', async () => {
    const start = await fetch(`${base}/api/v1/auth/oidc/school/start`, { redirect: 'manual' });
    const cb = await signInAtProvider(defined(start.headers.get('location')), 'sub-alice');
    idpDown = true;
    try {
      const r = await http(base, 'GET', `${cb.pathname}${cb.search}`);
      expect([r.status, r.body.error.code, r.headers.get('retry-after')]).toEqual([503, 'SERVICE_UNAVAILABLE', '1']);
    } finally {
      idpDown = false;
    }
  });
});
