/**
 * Data export and erasure across every service, on PostgreSQL and JetStream: the export bundle holds
 * each service's part (and no secrets); an erasure reaches every service through user.deleted and is
 * verifiable afterwards; staff access to records, exports and erasures land in the audit log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICES } from '../services.ts';
import { http, meshNode, query, smtpPeer, waitFor } from './support.ts';

let stack: Awaited<ReturnType<typeof meshNode>>;
let smtp: Awaited<ReturnType<typeof smtpPeer>>;
let base: string;
const pw = 'privacy suite password';
let admin: { accessToken: string; user: { id: string } };
let teacher: { accessToken: string; user: { id: string } };
let courseId: string;

async function register(email: string) {
  const r = await http(base, 'POST', '/api/v1/auth/register', { email, password: pw, displayName: 'Pat Doe' });
  expect(r.status).toBe(201);
  return r.body;
}

const sql = (q: string, params: unknown[] = []) => query(stack.databaseUrl, q, params);

const request = (id: string, token: string) => http(base, 'GET', `/api/v1/privacy/requests/${id}`, undefined, token);

beforeAll(async () => {
  smtp = await smtpPeer();
  process.env.SMTP_URL = smtp.url;
  process.env.RATE_LIMIT_AUTH_PER_MINUTE = '1000';
  stack = await meshNode(Object.values(SERVICES));
  base = stack.base;
  admin = await register('admin@privacy.test');
  teacher = await register('teacher@privacy.test');
  await http(base, 'POST', `/api/v1/users/${teacher.user.id}/roles`, { role: 'instructor' }, admin.accessToken);
  teacher = (await http(base, 'POST', '/api/v1/auth/login', { email: 'teacher@privacy.test', password: pw })).body;
  courseId = (await http(base, 'POST', '/api/v1/courses', { title: 'Privacy 101', category: 'law' }, teacher.accessToken)).body.id;
});
afterAll(async () => {
  await stack?.stop();
  await smtp?.close();
  delete process.env.SMTP_URL;
  delete process.env.RATE_LIMIT_AUTH_PER_MINUTE;
});

describe('data export', () => {
  it('collects every service’s part into one bundle, tracked until complete, with no secrets in it', async () => {
    const pat = await register('pat@privacy.test');
    await http(base, 'PUT', `/api/v1/courses/${courseId}/members/${pat.user.id}`, { role: 'ta' }, teacher.accessToken);
    await http(base, 'PUT', '/api/v1/me/notification-preferences', { types: { grades: { email: 'never', push: 'weekly' } } }, pat.accessToken);
    // The verification mail and the audit entry of the membership are projections: let them land first.
    await waitFor(async () => (await sql('select 1 from notifications.deliveries where user_id = $1', [pat.user.id])).length > 0);
    await waitFor(async () => (await sql(`select 1 from audit.entries where subject_id = $1 and type = 'course.member_changed'`, [pat.user.id])).length > 0);

    const started = await http(base, 'POST', '/api/v1/me/export', {}, pat.accessToken);
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ kind: 'export', status: 'pending', userId: pat.user.id });
    expect((await http(base, 'POST', '/api/v1/me/export', {}, pat.accessToken)).status).toBe(409); // one at a time
    const done = await waitFor(async () => {
      const r = await request(started.body.id, pat.accessToken);
      return r.body.status === 'complete' && r.body;
    }, 20_000);
    expect(Object.values(done.parts)).toEqual(['done', 'done', 'done', 'done', 'done', 'done', 'done']);

    const dl = await http(base, 'GET', `/api/v1/privacy/requests/${started.body.id}/download`, undefined, pat.accessToken);
    expect(dl.status).toBe(200);
    const s = dl.body.data.services;
    expect(Object.keys(s).sort()).toEqual(['audit', 'auth', 'courses', 'enrollments', 'files', 'notifications', 'users']);
    expect(s.users.profile).toMatchObject({ email: 'pat@privacy.test', displayName: 'Pat Doe' });
    expect(s.users.preferences.types.grades).toEqual({ email: 'never', inApp: 'immediately', push: 'weekly', sms: 'never' });
    expect(s.auth.sessions.length).toBeGreaterThanOrEqual(1);
    expect(s.courses.memberships).toEqual([expect.objectContaining({ courseId, role: 'ta' })]);
    expect(s.notifications.deliveries).toEqual(expect.arrayContaining([expect.objectContaining({ template: 'email_verification' })]));
    expect(s.audit.entries.map((e: { type: string }) => e.type)).toContain('course.member_changed');
    const text = JSON.stringify(dl.body);
    for (const secret of ['$argon2', 'password_hash', 'token_hash', 'secret_sealed', 'code_hash']) expect(text).not.toContain(secret);
    await smtp.next('pat@privacy.test', /export of your data/);

    // Nobody else sees it: not even that it exists.
    const other = await register('other@privacy.test');
    expect((await request(started.body.id, other.accessToken)).status).toBe(404);
    expect((await http(base, 'GET', `/api/v1/privacy/requests/${started.body.id}/download`, undefined, other.accessToken)).status).toBe(404);
  });

  it('lets an admin export a user, and the audit log records who asked, who downloaded and who read the record', async () => {
    const sam = await register('sam@privacy.test');
    expect((await http(base, 'GET', `/api/v1/users/${sam.user.id}`, undefined, admin.accessToken)).status).toBe(200);
    const r = await http(base, 'POST', `/api/v1/users/${sam.user.id}/export`, {}, admin.accessToken);
    expect(r.status).toBe(202);
    await waitFor(async () => (await request(r.body.id, admin.accessToken)).body.status === 'complete', 20_000);
    expect((await http(base, 'GET', `/api/v1/privacy/requests/${r.body.id}/download`, undefined, admin.accessToken)).status).toBe(200);
    const entries = await waitFor(async () => {
      const a = (await http(base, 'GET', `/api/v1/audit?subjectId=${sam.user.id}`, undefined, admin.accessToken)).body.items;
      return a.filter((e: { type: string }) => e.type.startsWith('privacy.')).length >= 4 && a;
    });
    const staff = entries.filter((e: { actorId: string }) => e.actorId === admin.user.id).map((e: { type: string; data: { stage?: string } }) => `${e.type}${e.data.stage ? `:${e.data.stage}` : ''}`);
    expect(staff).toEqual(expect.arrayContaining(['privacy.record_accessed', 'privacy.exported:requested', 'privacy.exported:completed', 'privacy.exported:downloaded']));
  });
});

describe('erasure', () => {
  it('erases or anonymises the user in every service, ends their sessions, and can be verified afterwards', async () => {
    const dee = await register('dee@privacy.test');
    await http(base, 'PUT', `/api/v1/courses/${courseId}/members/${dee.user.id}`, { role: 'learner' }, teacher.accessToken);
    const device = { endpoint: 'https://push.example.org/send/dee', keys: { p256dh: `B${'A'.repeat(86)}`, auth: 'AAAAAAAAAAAAAAAAAAAAAA' } };
    expect((await http(base, 'POST', '/api/v1/me/push-subscriptions', device, dee.accessToken)).status).toBe(201);
    expect(await sql('select 1 from notifications.push_subscriptions where user_id = $1', [dee.user.id])).toHaveLength(1);
    expect((await http(base, 'POST', '/api/v1/me/erasure', {}, dee.accessToken)).status).toBe(422); // must confirm
    const r = await http(base, 'POST', '/api/v1/me/erasure', { confirm: 'ERASE' }, dee.accessToken);
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ kind: 'erasure', userId: dee.user.id });

    const done = await waitFor(async () => {
      const q = await request(r.body.id, admin.accessToken);
      return q.body.status === 'complete' && q.body;
    }, 20_000);
    expect(done.parts).toEqual({ auth: 'done', users: 'done', courses: 'done', enrollments: 'done', files: 'done', notifications: 'done', audit: 'done' });
    expect((await http(base, 'GET', '/api/v1/me', undefined, dee.accessToken)).status).toBe(401);
    expect((await http(base, 'POST', '/api/v1/auth/login', { email: 'dee@privacy.test', password: pw })).status).toBe(401);
    expect((await http(base, 'POST', '/api/v1/auth/refresh', { refreshToken: dee.refreshToken })).status).toBe(401);

    const profile = (await http(base, 'GET', `/api/v1/users/${dee.user.id}`, undefined, admin.accessToken)).body;
    expect(profile).toMatchObject({ status: 'erased', displayName: 'Erased user', email: `erased+${dee.user.id}@invalid`, bio: '' });
    // Verified in each service's own tables: nothing personal is left.
    expect(await sql('select * from auth.credentials where user_id = $1', [dee.user.id])).toEqual([]);
    expect(await sql('select * from auth.sessions where user_id = $1', [dee.user.id])).toEqual([]);
    expect(await sql('select * from courses.course_members where user_id = $1', [dee.user.id])).toEqual([]);
    expect(await sql('select * from notifications.deliveries where user_id = $1', [dee.user.id])).toEqual([]);
    expect(await sql('select * from notifications.requests where user_id = $1', [dee.user.id])).toEqual([]);
    expect(await sql('select * from notifications.push_subscriptions where user_id = $1', [dee.user.id])).toEqual([]);
    expect(await sql(`select * from users.users where id = $1 and (email like '%dee%' or display_name like '%Pat%')`, [dee.user.id])).toEqual([]);
    // What the law keeps: the audit trail, by id only, including the erasure itself.
    const audit = (await http(base, 'GET', `/api/v1/audit?subjectId=${dee.user.id}&type=user.deleted`, undefined, admin.accessToken)).body.items;
    expect(audit).toEqual([expect.objectContaining({ actorId: dee.user.id, subjectId: dee.user.id })]);
    // The address is free again.
    expect((await http(base, 'POST', '/api/v1/auth/register', { email: 'dee@privacy.test', password: pw, displayName: 'New Dee' })).status).toBe(201);
  });

  it('lets an admin erase a user but not themselves through that door', async () => {
    const x = await register('x@privacy.test');
    expect((await http(base, 'POST', `/api/v1/users/${admin.user.id}/erasure`, { confirm: 'ERASE' }, admin.accessToken)).status).toBe(409);
    // Nor may the last admin erase themselves: nobody could administer the install afterwards.
    const last = await http(base, 'POST', '/api/v1/me/erasure', { confirm: 'ERASE' }, admin.accessToken);
    expect([last.status, last.body.error.message]).toEqual([409, expect.stringContaining('last active admin')]);
    const r = await http(base, 'POST', `/api/v1/users/${x.user.id}/erasure`, { confirm: 'ERASE' }, admin.accessToken);
    expect(r.status).toBe(202);
    await waitFor(async () => (await request(r.body.id, admin.accessToken)).body.status === 'complete', 20_000);
    expect((await http(base, 'POST', `/api/v1/users/${x.user.id}/erasure`, { confirm: 'ERASE' }, admin.accessToken)).status).toBe(404);
  });
});
