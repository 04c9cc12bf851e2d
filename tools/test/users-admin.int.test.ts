/** Admin user management and the account lifecycle, with its events consumed by auth. */
import { gatewayPort } from '@lms/gateway';
import { startNode, type LmsNode } from '@lms/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICES } from '../services.ts';
import { defined, http, waitFor } from './support.ts';

let node: LmsNode;
let base: string;
let admin: { accessToken: string; user: { id: string } };
const pw = 'admin tests password';
const sessionOf = async (email: string) => (await http(base, 'POST', '/api/v1/auth/login', { email, password: pw })).body;

beforeAll(async () => {
  node = await startNode(Object.values(SERVICES), { mode: 'embedded', dataDir: 'memory://', port: 0, databaseUrl: undefined });
  base = `http://127.0.0.1:${gatewayPort(node.broker)}`;
  admin = (await http(base, 'POST', '/api/v1/auth/register', { email: 'root@admin.test', password: pw, displayName: 'Root' })).body;
  for (const [i, name] of ['Ana Silva', 'Ben Okafor', 'Chen Wei', 'Dora Müller', 'Eli 100%_sure'].entries()) {
    await http(base, 'POST', '/api/v1/auth/register', { email: `u${i}@admin.test`, password: pw, displayName: name });
  }
});
afterAll(() => node?.stop());

describe('profiles', () => {
  it('lets a user set locale and time zone, refusing invalid ones', async () => {
    const ana = await sessionOf('u0@admin.test');
    const ok = await http(base, 'PATCH', '/api/v1/me', { locale: 'pt-BR', timezone: 'America/Sao_Paulo', bio: 'hi' }, ana.accessToken);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ locale: 'pt-BR', timezone: 'America/Sao_Paulo', bio: 'hi', status: 'active' });
    const bad = await http(base, 'PATCH', '/api/v1/me', { locale: 'not a locale', timezone: 'Mars/Olympus' }, ana.accessToken);
    expect(bad.status).toBe(422);
    expect(bad.body.error.details.issues.map((i: { path: string }) => i.path).sort()).toEqual(['locale', 'timezone']);
  });
});

describe('user administration', () => {
  it('lists, searches and filters users in cursor pages, for admins only', async () => {
    const ana = await sessionOf('u0@admin.test');
    expect((await http(base, 'GET', '/api/v1/users', undefined, ana.accessToken)).status).toBe(403);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { items: Array<{ email: string }>; nextCursor: string | null } } = await http(
        base,
        'GET',
        `/api/v1/users?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        undefined,
        admin.accessToken,
      );
      seen.push(...page.body.items.map((u) => u.email));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toHaveLength(6);
    expect(new Set(seen).size).toBe(6);

    const byName = await http(base, 'GET', '/api/v1/users?q=müll', undefined, admin.accessToken);
    expect(byName.body.items.map((u: { displayName: string }) => u.displayName)).toEqual(['Dora Müller']);
    const byEmail = await http(base, 'GET', '/api/v1/users?q=U3%40', undefined, admin.accessToken);
    expect(byEmail.body.items.map((u: { email: string }) => u.email)).toEqual(['u3@admin.test']);
    // LIKE wildcards in the search are taken literally.
    const literal = await http(base, 'GET', `/api/v1/users?q=${encodeURIComponent('100%_')}`, undefined, admin.accessToken);
    expect(literal.body.items.map((u: { displayName: string }) => u.displayName)).toEqual(['Eli 100%_sure']);
    const wildcard = await http(base, 'GET', `/api/v1/users?q=${encodeURIComponent('%')}`, undefined, admin.accessToken);
    expect(wildcard.body.items.map((u: { displayName: string }) => u.displayName)).toEqual(['Eli 100%_sure']);
    const admins = await http(base, 'GET', '/api/v1/users?role=admin', undefined, admin.accessToken);
    expect(admins.body.items.map((u: { email: string }) => u.email)).toEqual(['root@admin.test']);
  });

  it('grants and revokes roles, but an admin cannot demote themself', async () => {
    const ben = (await http(base, 'GET', '/api/v1/users?q=u1%40', undefined, admin.accessToken)).body.items[0];
    expect((await http(base, 'POST', `/api/v1/users/${ben.id}/roles`, { role: 'instructor' }, admin.accessToken)).body.roles).toEqual([
      'instructor',
      'student',
    ]);
    expect((await http(base, 'DELETE', `/api/v1/users/${ben.id}/roles/instructor`, undefined, admin.accessToken)).body.roles).toEqual(['student']);
    const self = await http(base, 'DELETE', `/api/v1/users/${admin.user.id}/roles/admin`, undefined, admin.accessToken);
    expect(self.status).toBe(409);
  });

  it('deactivates a user: login and refresh refused, sessions revoked through user.deactivated; reactivates', async () => {
    const chen = await sessionOf('u2@admin.test');
    expect(chen.refreshToken).toBeTruthy();
    const off = await http(base, 'POST', `/api/v1/users/${chen.user.id}/deactivate`, undefined, admin.accessToken);
    expect(off.status).toBe(200);
    expect(off.body.status).toBe('deactivated');

    const login = await http(base, 'POST', '/api/v1/auth/login', { email: 'u2@admin.test', password: pw });
    expect(login.status).toBe(401);
    expect(login.body.error.code).toBe('INVALID_CREDENTIALS');
    // The auth service consumed user.deactivated and revoked the session.
    await waitFor(async () => (await http(base, 'POST', '/api/v1/auth/refresh', { refreshToken: chen.refreshToken })).status === 401);
    expect((await http(base, 'POST', `/api/v1/users/${admin.user.id}/deactivate`, undefined, admin.accessToken)).status).toBe(409);

    const on = await http(base, 'POST', `/api/v1/users/${chen.user.id}/reactivate`, undefined, admin.accessToken);
    expect(on.body.status).toBe('active');
    expect((await http(base, 'POST', '/api/v1/auth/login', { email: 'u2@admin.test', password: pw })).status).toBe(200);
  });

  it('records the lifecycle as events in the outbox log', async () => {
    const log = await node.runtime.db.root.selectFrom('lms_events.log').select('subject').execute();
    const subjects = log.map((r: { subject: string }) => r.subject);
    expect(subjects.filter((s: string) => s === 'lms.user.created.v1')).toHaveLength(6);
    expect(subjects).toEqual(expect.arrayContaining(['lms.user.updated.v1', 'lms.user.deactivated.v1']));
  });
});

describe('an erased account is a tombstone', () => {
  it('cannot be reactivated, deactivated or given or stripped of roles: 404 USER_NOT_FOUND, nothing changes', async () => {
    const gone = (await http(base, 'POST', '/api/v1/auth/register', { email: 'tomb@admin.test', password: pw, displayName: 'Tomb Stone' })).body;
    expect((await http(base, 'POST', `/api/v1/users/${gone.user.id}/erasure`, { confirm: 'ERASE' }, admin.accessToken)).status).toBe(202);
    const before = (await http(base, 'GET', `/api/v1/users/${gone.user.id}`, undefined, admin.accessToken)).body;
    expect(before.status).toBe('erased');
    const eventsBefore = await node.runtime.db.root.selectFrom('lms_events.log').select('subject').execute();
    for (const [method, path, body] of [
      ['POST', `/users/${gone.user.id}/reactivate`, undefined],
      ['POST', `/users/${gone.user.id}/deactivate`, undefined],
      ['POST', `/users/${gone.user.id}/roles`, { role: 'admin' }],
      ['DELETE', `/users/${gone.user.id}/roles/student`, undefined],
    ] as const) {
      const r = await http(base, method, `/api/v1${path}`, body, admin.accessToken);
      expect(r.status, `${method} ${path}`).toBe(404);
      expect(r.body.error.code).toBe('USER_NOT_FOUND');
    }
    const after = (await http(base, 'GET', `/api/v1/users/${gone.user.id}`, undefined, admin.accessToken)).body;
    expect(after).toEqual(before);
    const eventsAfter = await node.runtime.db.root.selectFrom('lms_events.log').select('subject').execute();
    expect(eventsAfter.filter((e: { subject: string }) => /user\.(updated|deactivated)/.test(e.subject))).toHaveLength(
      eventsBefore.filter((e: { subject: string }) => /user\.(updated|deactivated)/.test(e.subject)).length,
    );
  });
});

describe('a deactivated account reveals nothing', () => {
  const median = (xs: number[]) => defined([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]);
  const timedLogin = async (email: string, password: string) => {
    const t = performance.now();
    const r = await http(base, 'POST', '/api/v1/auth/login', { email, password });
    return { ...r, ms: performance.now() - t };
  };
  const publicPart = (r: { status: number; body: { error: { code: string; message: string; details?: unknown } } }) => ({
    status: r.status,
    code: r.body.error.code,
    message: r.body.error.message,
    details: r.body.error.details,
  });

  it('its login (right password) answers exactly like a wrong password, in similar time; its refresh like an invalid token', async () => {
    const gone = (await http(base, 'POST', '/api/v1/auth/register', { email: 'closed@admin.test', password: pw, displayName: 'Closed' })).body;
    await http(base, 'POST', '/api/v1/auth/register', { email: 'open@admin.test', password: pw, displayName: 'Open' });
    expect((await http(base, 'POST', `/api/v1/users/${gone.user.id}/deactivate`, undefined, admin.accessToken)).status).toBe(200);

    const closed: Array<Awaited<ReturnType<typeof timedLogin>>> = [];
    const wrong: Array<Awaited<ReturnType<typeof timedLogin>>> = [];
    for (let i = 0; i < 3; i++) {
      wrong.push(await timedLogin('open@admin.test', 'not the password'));
      closed.push(await timedLogin('closed@admin.test', pw));
    }
    for (const r of [...closed, ...wrong]) expect(publicPart(r)).toEqual(publicPart(defined(wrong[0])));
    expect(publicPart(defined(closed[0]))).toMatchObject({ status: 401, code: 'INVALID_CREDENTIALS' });
    // Same work either way (one password hash check); only scheduling noise may differ.
    expect(median(closed.map((r) => r.ms))).toBeLessThan(median(wrong.map((r) => r.ms)) * 2 + 50);

    // Its refresh token fails like any invalid one (whether or not revocation got there first).
    const refresh = await http(base, 'POST', '/api/v1/auth/refresh', { refreshToken: gone.refreshToken });
    const unknown = await http(base, 'POST', '/api/v1/auth/refresh', { refreshToken: 'x'.repeat(43) });
    expect(publicPart(refresh)).toEqual(publicPart(unknown));
  });
});

describe('avatar check when files cannot answer', () => {
  // Last in this file: it takes the files service away.
  it('refuses a file that does not exist, but answers 503 (not "not an image of yours") when files is unreachable', async () => {
    const ana = await sessionOf('u0@admin.test');
    const fileId = '00000000-0000-4000-8000-000000000001';
    const missing = await http(base, 'PATCH', '/api/v1/me', { avatarFileId: fileId }, ana.accessToken);
    expect(missing.status).toBe(422);
    expect(missing.body.error.details.issues[0].code).toBe('invalid_avatar');
    const files = node.broker.getLocalService('files');
    if (!files) throw new Error('no files service on this node');
    await node.broker.destroyService(files);
    const outage = await http(base, 'PATCH', '/api/v1/me', { avatarFileId: fileId }, ana.accessToken);
    expect(outage.status).toBe(503);
    expect(outage.body.error.code).toBe('SERVICE_UNAVAILABLE');
  });
});
