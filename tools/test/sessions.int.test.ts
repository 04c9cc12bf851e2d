/** Refresh tokens rotate on every use; a reused one revokes its session; sessions can be listed and revoked. */
import { gatewayPort } from '@lms/gateway';
import { startNode, type LmsNode } from '@lms/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICES } from '../services.ts';
import { defined, http } from './support.ts';

let node: LmsNode;
let base: string;
const pw = 'session password 1';

beforeAll(async () => {
  node = await startNode(Object.values(SERVICES), { mode: 'embedded', dataDir: 'memory://', port: 0, databaseUrl: undefined });
  base = `http://127.0.0.1:${gatewayPort(node.broker)}`;
  await http(base, 'POST', '/api/v1/auth/register', { email: 'admin@sessions.test', password: pw, displayName: 'Admin' });
  await http(base, 'POST', '/api/v1/auth/register', { email: 'sam@sessions.test', password: pw, displayName: 'Sam' });
});
afterAll(() => node?.stop());

const login = async (email = 'sam@sessions.test', ua = 'test-agent/1') =>
  (await http(base, 'POST', '/api/v1/auth/login', { email, password: pw }, undefined, { 'user-agent': ua })).body;
const refresh = (refreshToken: string) => http(base, 'POST', '/api/v1/auth/refresh', { refreshToken });

describe('refresh tokens', () => {
  it('rotate: each refresh token works once and yields a new pair', async () => {
    const s = await login();
    expect(s.refreshToken).toMatch(/^[\w-]{43}$/);
    const r1 = await refresh(s.refreshToken);
    expect(r1.status).toBe(200);
    expect(r1.body.refreshToken).not.toBe(s.refreshToken);
    expect(r1.body.sessionId).toBe(s.sessionId);
    expect((await http(base, 'GET', '/api/v1/me', undefined, r1.body.accessToken)).status).toBe(200);
    const r2 = await refresh(r1.body.refreshToken);
    expect(r2.status).toBe(200);
  });

  it('revoke the whole session when a rotated token is reused', async () => {
    const s = await login();
    const next = (await refresh(s.refreshToken)).body;
    const replay = await refresh(s.refreshToken); // an attacker replays the stolen, already-used token
    expect(replay.status).toBe(401);
    expect(replay.body.error.code).toBe('TOKEN_INVALID');
    // The legitimate holder's newer token is dead too: the family is revoked.
    expect((await refresh(next.refreshToken)).status).toBe(401);
    // Its access token is refused at once too, and the session is gone from the list.
    expect((await http(base, 'GET', '/api/v1/me', undefined, next.accessToken)).status).toBe(401);
    const other = await login();
    const list = (await http(base, 'GET', '/api/v1/me/sessions', undefined, other.accessToken)).body.items;
    expect(list.map((x: { id: string }) => x.id)).not.toContain(s.sessionId);
  });

  it('refuse unknown tokens and carry role changes into the next access token', async () => {
    expect((await refresh('x'.repeat(43))).status).toBe(401);
    const admin = await login('admin@sessions.test');
    const sam = await login();
    const grant = await http(base, 'POST', `/api/v1/users/${sam.user.id}/roles`, { role: 'instructor' }, admin.accessToken);
    expect(grant.status).toBe(200);
    const r = await refresh(sam.refreshToken);
    expect(r.body.user.roles).toContain('instructor');
    const created = await http(base, 'POST', '/api/v1/courses', { title: 'After refresh', category: 'x' }, r.body.accessToken);
    expect(created.status).toBe(201);
  });
});

describe('revocation reaches access tokens', () => {
  it('refuses the access token of a session the moment it ends, not at its expiry', async () => {
    const phone = await login('sam@sessions.test', 'phone/9');
    const laptop = await login('sam@sessions.test', 'laptop/9');
    expect((await http(base, 'GET', '/api/v1/me', undefined, phone.accessToken)).status).toBe(200); // now cached as verified
    await http(base, 'DELETE', `/api/v1/me/sessions/${phone.sessionId}`, undefined, laptop.accessToken);
    const after = await http(base, 'GET', '/api/v1/me', undefined, phone.accessToken);
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe('TOKEN_INVALID');
    expect((await http(base, 'GET', '/api/v1/me', undefined, laptop.accessToken)).status).toBe(200);
    await http(base, 'POST', '/api/v1/auth/logout', undefined, laptop.accessToken);
    expect((await http(base, 'GET', '/api/v1/me', undefined, laptop.accessToken)).status).toBe(401);
  });
});

describe('sessions', () => {
  it('lists the caller’s sessions with device and IP, and revokes one, all, or the current one', async () => {
    const phone = await login('sam@sessions.test', 'phone/2.0');
    const laptop = await login('sam@sessions.test', 'laptop/3.0');
    const list = (await http(base, 'GET', '/api/v1/me/sessions', undefined, laptop.accessToken)).body.items as Array<Record<string, unknown>>;
    const mine = defined(list.find((x) => x.id === laptop.sessionId));
    expect(mine).toMatchObject({ userAgent: 'laptop/3.0', current: true });
    expect(mine.ip).toMatch(/127\.0\.0\.1/);
    expect(list.find((x) => x.id === phone.sessionId)).toMatchObject({ userAgent: 'phone/2.0', current: false });

    // Revoke the phone from the laptop: the phone's refresh token stops working at once.
    expect((await http(base, 'DELETE', `/api/v1/me/sessions/${phone.sessionId}`, undefined, laptop.accessToken)).status).toBe(200);
    expect((await refresh(phone.refreshToken)).status).toBe(401);

    // Someone else's session is not found, not revoked.
    const admin = await login('admin@sessions.test');
    const foreign = await http(base, 'DELETE', `/api/v1/me/sessions/${admin.sessionId}`, undefined, laptop.accessToken);
    expect(foreign.status).toBe(404);
    expect((await refresh(admin.refreshToken)).status).toBe(200);

    // Log out ends the current session.
    const out = await http(base, 'POST', '/api/v1/auth/logout', undefined, laptop.accessToken);
    expect(out.body).toEqual({ revoked: true });
    expect((await refresh(laptop.refreshToken)).status).toBe(401);

    // Log out everywhere.
    const a = await login();
    const b = await login();
    const all = await http(base, 'DELETE', '/api/v1/me/sessions', undefined, a.accessToken);
    expect(all.body.revoked).toBeGreaterThanOrEqual(2);
    expect((await refresh(a.refreshToken)).status).toBe(401);
    expect((await refresh(b.refreshToken)).status).toBe(401);
  });

  it('lets an admin list and end every session of a user, at once for access tokens too', async () => {
    const admin = await login('admin@sessions.test');
    const s1 = await login('sam@sessions.test', 'phone/1');
    const s2 = await login('sam@sessions.test', 'tablet/1');
    const samId = (await http(base, 'GET', '/api/v1/me', undefined, s1.accessToken)).body.id;
    const listed = await http(base, 'GET', `/api/v1/users/${samId}/sessions`, undefined, admin.accessToken);
    expect(listed.body.items.map((x: { id: string }) => x.id)).toEqual(expect.arrayContaining([s1.sessionId, s2.sessionId]));
    expect((await http(base, 'GET', `/api/v1/users/${samId}/sessions`, undefined, s1.accessToken)).status).toBe(403);
    const r = await http(base, 'DELETE', `/api/v1/users/${samId}/sessions`, undefined, admin.accessToken);
    expect(r.body.revoked).toBeGreaterThanOrEqual(2);
    expect((await http(base, 'GET', '/api/v1/me', undefined, s2.accessToken)).status).toBe(401);
    expect((await refresh(s1.refreshToken)).status).toBe(401);
    expect((await refresh(admin.refreshToken)).status).toBe(200);
  });
});

describe('changing the password', () => {
  it('needs the current password, refuses weak ones, and revokes every other session', async () => {
    const here = await login();
    const elsewhere = await login();
    const wrong = await http(
      base,
      'POST',
      '/api/v1/auth/password',
      { currentPassword: 'not it at all', newPassword: 'a fresh new passphrase' },
      here.accessToken,
    );
    expect(wrong.status).toBe(401);
    const weak = await http(base, 'POST', '/api/v1/auth/password', { currentPassword: pw, newPassword: 'password1234' }, here.accessToken);
    expect(weak.status).toBe(422);
    expect(weak.body.error.details.issues[0]).toMatchObject({ path: 'newPassword', code: 'weak_password' });
    const ok = await http(base, 'POST', '/api/v1/auth/password', { currentPassword: pw, newPassword: 'a fresh new passphrase' }, here.accessToken);
    expect(ok.status).toBe(200);
    expect(ok.body.otherSessionsRevoked).toBeGreaterThanOrEqual(1);
    expect((await refresh(elsewhere.refreshToken)).status).toBe(401);
    expect((await refresh(here.refreshToken)).status).toBe(200);
    expect((await http(base, 'POST', '/api/v1/auth/login', { email: 'sam@sessions.test', password: pw })).status).toBe(401);
    expect((await http(base, 'POST', '/api/v1/auth/login', { email: 'sam@sessions.test', password: 'a fresh new passphrase' })).status).toBe(200);
  });

  it('refuses common passwords at registration', async () => {
    const r = await http(base, 'POST', '/api/v1/auth/register', { email: 'new@sessions.test', password: 'qwertyuiop', displayName: 'New' });
    expect(r.status).toBe(422);
    expect(r.body.error.message).toMatch(/most common/);
  });
});
