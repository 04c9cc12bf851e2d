/**
 * The live notification stream (Server-Sent Events) lives no longer than its session and its access token:
 * logout, revocation, a password change or reset elsewhere, deactivation and erasure end it within a moment,
 * and so does the token's expiry (the client reconnects with a fresh token).
 */
import { gatewayPort } from '@lms/gateway';
import { startNode, type LmsNode } from '@lms/runtime';
import { decodeJwt, importJWK, SignJWT, type JWK } from 'jose';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICES } from '../services.ts';
import { defined, http } from './support.ts';

let node: LmsNode;
let base: string;
let admin: { accessToken: string };
const pw = 'stream session password';

beforeAll(async () => {
  node = await startNode(Object.values(SERVICES), { mode: 'embedded', dataDir: 'memory://', port: 0, databaseUrl: undefined });
  base = `http://127.0.0.1:${gatewayPort(node.broker)}`;
  admin = (await http(base, 'POST', '/api/v1/auth/register', { email: 'admin@stream.test', password: pw, displayName: 'Admin' })).body;
});
afterAll(() => node?.stop());

type Session = { accessToken: string; refreshToken: string; sessionId: string; user: { id: string } };
const register = async (email: string): Promise<Session> =>
  (await http(base, 'POST', '/api/v1/auth/register', { email, password: pw, displayName: 'Streamer' })).body;
const login = async (email: string): Promise<Session> => (await http(base, 'POST', '/api/v1/auth/login', { email, password: pw })).body;

/** Opens the stream; `ended` resolves with what was received and when the server closed it. */
async function openStream(token: string) {
  const ctrl = new AbortController();
  const res = await fetch(`${base}/api/v1/me/notifications/stream`, { headers: { authorization: `Bearer ${token}` }, signal: ctrl.signal });
  expect(res.status).toBe(200);
  const reader = defined(res.body).getReader();
  let text = '';
  let connected!: () => void;
  const isConnected = new Promise<void>((r) => (connected = r));
  const ended = (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return { text, at: Date.now() };
      text += Buffer.from(value).toString();
      if (text.includes(': connected')) connected();
    }
  })();
  await isConnected;
  return { ended, close: () => ctrl.abort() };
}

/** The stream ends within two seconds of `action` answering. */
async function endsAfter(stream: Awaited<ReturnType<typeof openStream>>, action: () => Promise<{ status: number }>, reason = 'session_ended') {
  const r = await action();
  expect(r.status).toBeLessThan(300);
  const answeredAt = Date.now();
  const got = await Promise.race([stream.ended, new Promise<'still open'>((res) => setTimeout(() => res('still open'), 2_000))]);
  stream.close();
  expect(got).not.toBe('still open');
  if (got === 'still open') return;
  expect(got.at - answeredAt).toBeLessThan(2_000);
  expect(got.text).toContain(`"reason":"${reason}"`);
}

describe('the notification stream ends with its session', () => {
  it('on logout', async () => {
    const s = await register('logout@stream.test');
    const stream = await openStream(s.accessToken);
    await endsAfter(stream, () => http(base, 'POST', '/api/v1/auth/logout', undefined, s.accessToken));
  });

  it('when the session is revoked (by the user elsewhere, or all of them by an admin), and only that session', async () => {
    const phone = await register('revoke@stream.test');
    const laptop = await login('revoke@stream.test');
    const phoneStream = await openStream(phone.accessToken);
    const laptopStream = await openStream(laptop.accessToken);
    await endsAfter(phoneStream, () => http(base, 'DELETE', `/api/v1/me/sessions/${phone.sessionId}`, undefined, laptop.accessToken));
    // The laptop's stream is still open: it ends only when its own session does.
    const still = await Promise.race([laptopStream.ended, new Promise<'open'>((r) => setTimeout(() => r('open'), 300))]);
    expect(still).toBe('open');
    await endsAfter(laptopStream, () => http(base, 'DELETE', `/api/v1/users/${laptop.user.id}/sessions`, undefined, admin.accessToken));
  });

  it('when the password is changed in another session', async () => {
    const here = await register('change@stream.test');
    const elsewhere = await login('change@stream.test');
    const stream = await openStream(elsewhere.accessToken);
    await endsAfter(stream, () =>
      http(base, 'POST', '/api/v1/auth/password', { currentPassword: pw, newPassword: 'another strong passphrase' }, here.accessToken),
    );
  });

  it('when the account is deactivated', async () => {
    const s = await register('deactivate@stream.test');
    const stream = await openStream(s.accessToken);
    await endsAfter(stream, () => http(base, 'POST', `/api/v1/users/${s.user.id}/deactivate`, undefined, admin.accessToken));
  });

  it('when the account is erased', async () => {
    const s = await register('erase@stream.test');
    const stream = await openStream(s.accessToken);
    await endsAfter(stream, () => http(base, 'POST', '/api/v1/me/erasure', { confirm: 'ERASE' }, s.accessToken));
  });

  it('when its access token expires', async () => {
    const s = await register('expiry@stream.test');
    // The same token, signed by auth's own key, but expiring in two seconds.
    const key = await sql<{ kid: string; private_jwk: JWK }>`select kid, private_jwk from auth.signing_keys order by created_at desc limit 1`.execute(
      node.runtime.db.root,
    );
    const { kid, private_jwk } = defined(key.rows[0]);
    const { exp: _exp, iat: _iat, ...claims } = decodeJwt(s.accessToken);
    const short = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'JWT' })
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + 2)
      .sign(await importJWK(private_jwk, 'EdDSA'));
    const opened = Date.now();
    const stream = await openStream(short);
    const got = await Promise.race([stream.ended, new Promise<'still open'>((res) => setTimeout(() => res('still open'), 5_000))]);
    stream.close();
    expect(got).not.toBe('still open');
    if (got === 'still open') return;
    expect(got.text).toContain('"reason":"token_expired"');
    expect(got.at - opened).toBeLessThan(4_000);
  });
});
