/**
 * Data export and erasure across every service, on PostgreSQL and JetStream: the export bundle holds
 * each service's part (and no secrets); an erasure reaches every service through user.deleted and is
 * verifiable afterwards; staff access to records, exports and erasures land in the audit log.
 */
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { privacyParticipants } from '@lms/contracts';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICES } from '../services.ts';
import { drained, http, meshNode, query, smtpPeer, tempDir, waitFor } from './support.ts';

let stack: Awaited<ReturnType<typeof meshNode>>;
let smtp: Awaited<ReturnType<typeof smtpPeer>>;
let files: ReturnType<typeof tempDir>;
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
  // Client addresses from X-Forwarded-For (two devices of one user), and file bytes where the test can look.
  process.env.TRUST_PROXY = 'true';
  files = tempDir();
  process.env.FILES_DIR = files.dir;
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
  delete process.env.TRUST_PROXY;
  delete process.env.FILES_DIR;
  files?.remove();
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
    expect(done.parts).toEqual(Object.fromEntries(privacyParticipants.map((p) => [p, 'done'])));

    const dl = await http(base, 'GET', `/api/v1/privacy/requests/${started.body.id}/download`, undefined, pat.accessToken);
    expect(dl.status).toBe(200);
    const s = dl.body.data.services;
    expect(Object.keys(s).sort()).toEqual([...privacyParticipants].sort());
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
    const staff = entries
      .filter((e: { actorId: string }) => e.actorId === admin.user.id)
      .map((e: { type: string; data: { stage?: string } }) => `${e.type}${e.data.stage ? `:${e.data.stage}` : ''}`);
    expect(staff).toEqual(
      expect.arrayContaining(['privacy.record_accessed', 'privacy.exported:requested', 'privacy.exported:completed', 'privacy.exported:downloaded']),
    );
  });
});

describe('erasure', () => {
  it('erases or anonymises the user in every service, ends their sessions, and can be verified afterwards', async () => {
    const dee = await register('dee@privacy.test');
    await http(base, 'PUT', `/api/v1/courses/${courseId}/members/${dee.user.id}`, { role: 'learner' }, teacher.accessToken);
    const device = { endpoint: 'https://push.example.org/send/dee', keys: { p256dh: `B${'A'.repeat(86)}`, auth: 'AAAAAAAAAAAAAAAAAAAAAA' } };
    expect((await http(base, 'POST', '/api/v1/me/push-subscriptions', device, dee.accessToken)).status).toBe(201);
    expect(await sql('select 1 from notifications.push_subscriptions where user_id = $1', [dee.user.id])).toHaveLength(1);
    expect((await http(base, 'GET', '/api/v1/search?q=Dee%20looks%20for%20something', undefined, dee.accessToken)).status).toBe(200);
    await waitFor(async () => (await sql('select 1 from search.members where user_id = $1', [dee.user.id])).length > 0);
    expect(await sql('select 1 from search.searches where user_id = $1', [dee.user.id])).toHaveLength(1);
    expect((await http(base, 'POST', '/api/v1/me/erasure', {}, dee.accessToken)).status).toBe(422); // must confirm
    const r = await http(base, 'POST', '/api/v1/me/erasure', { confirm: 'ERASE' }, dee.accessToken);
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ kind: 'erasure', userId: dee.user.id });

    const done = await waitFor(async () => {
      const q = await request(r.body.id, admin.accessToken);
      return q.body.status === 'complete' && q.body;
    }, 20_000);
    expect(done.parts).toEqual({
      auth: 'done',
      users: 'done',
      courses: 'done',
      enrollments: 'done',
      files: 'done',
      notifications: 'done',
      audit: 'done',
      assessments: 'done',
      attempts: 'done',
      assignments: 'done',
      credentials: 'done',
      grades: 'done',
      search: 'done',
      llm: 'done',
    });
    // Search keeps the query, not who asked, and no membership of theirs.
    expect(await sql('select query from search.searches where user_id = $1', [dee.user.id])).toEqual([]);
    expect(await sql('select query from search.searches where query = $1', ['dee looks for something'])).toHaveLength(1);
    expect(await sql('select 1 from search.members where user_id = $1', [dee.user.id])).toEqual([]);
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
    // The address itself, not `%dee%`: the erased placeholder holds the user's id, whose hex may spell "dee" (it did).
    expect(await sql(`select * from users.users where id = $1 and (email ilike 'dee@%' or display_name like '%Pat%')`, [dee.user.id])).toEqual([]);
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

/** Every page of a list endpoint (follows nextCursor), or the one response of any other. */
async function walk(url: string, token: string): Promise<Array<{ url: string; status: number; text: string }>> {
  const out: Array<{ url: string; status: number; text: string }> = [];
  let next: string | null = url;
  for (let i = 0; next && i < 100; i++) {
    const r = await http(base, 'GET', next, undefined, token);
    out.push({ url: next, status: r.status, text: typeof r.body === 'string' ? r.body : JSON.stringify(r.body) });
    const cursor: unknown = r.body?.nextCursor;
    next = typeof cursor === 'string' && cursor ? `${url}${url.includes('?') ? '&' : '?'}cursor=${encodeURIComponent(cursor)}` : null;
  }
  return out;
}

/** Rows of every table of every service's schema whose text holds one of the needles: `schema.table: needle`. */
async function rowsHolding(needles: string[], allowed: (table: string, needle: string) => boolean = () => false): Promise<string[]> {
  const c = new pg.Client({ connectionString: stack.databaseUrl });
  await c.connect();
  try {
    const tables = await c.query<{ s: string; t: string }>(
      `select table_schema as s, table_name as t from information_schema.tables
        where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema') order by 1, 2`,
    );
    const found: string[] = [];
    for (const { s, t } of tables.rows) {
      const hits = await c.query<{ n: string }>(
        `select n from unnest($1::text[]) n where exists (select 1 from "${s}"."${t}" x where strpos(lower(x::text), lower(n)) > 0)`,
        [needles],
      );
      for (const { n } of hits.rows) if (!allowed(`${s}.${t}`, n)) found.push(`${s}.${t}: ${n}`);
    }
    return found;
  } finally {
    await c.end();
  }
}

/** Files under a directory whose bytes hold one of the needles. */
function filesHolding(dir: string, needles: string[]): string[] {
  const found: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const full = path.join(e.parentPath, e.name);
    const text = fs.readFileSync(full).toString('latin1').toLowerCase();
    for (const n of needles) if (text.includes(n.toLowerCase())) found.push(`${path.relative(dir, full)}: ${n}`);
  }
  return found;
}

describe('erasure of someone who did everything', () => {
  it('drops an export that is still running when its user is erased: no bundle is stored after the erasure', async () => {
    const rae = await register('rae@privacy.test');
    const exp = await http(base, 'POST', '/api/v1/me/export', {}, rae.accessToken);
    expect(exp.status).toBe(202);
    const er = await http(base, 'POST', '/api/v1/me/erasure', { confirm: 'ERASE' }, rae.accessToken);
    expect(er.status).toBe(202);
    await waitFor(async () => (await request(er.body.id, admin.accessToken)).body.status === 'complete', 20_000);
    const settled = await waitFor(async () => {
      const r = (await request(exp.body.id, admin.accessToken)).body;
      return (r.status === 'failed' || r.status === 'complete') && r;
    }, 20_000);
    // Let a job that was mid-way finish what it would have written: no privacy job, event or consumer left in flight.
    await drained(stack.pipeline);
    expect(await sql('select id from users.privacy_requests where user_id = $1 and result is not null', [rae.user.id])).toEqual([]);
    expect((await http(base, 'GET', `/api/v1/privacy/requests/${exp.body.id}/download`, undefined, admin.accessToken)).status).toBe(404);
    expect(['failed', 'complete']).toContain(settled.status);
  });

  it('leaves nothing about them in any response staff can get, in any service’s tables or in stored files', async () => {
    const email = 'quinn.leftover@privacy.test';
    const name = 'Quinn Leftover';
    const bio = 'Quinn writes about tidepools';
    const phone = '+15550107777';
    const notes = 'quinn private notes';
    const phoneDevice = { 'x-forwarded-for': '203.0.113.77', 'user-agent': 'QuinnPhone/7.1' };
    const laptop = { 'x-forwarded-for': '198.51.100.88', 'user-agent': 'QuinnLaptop/8.2' };
    const hashed = createHash('sha256').update(email).digest('hex');
    const needles = [email, name, bio, phone, notes, '203.0.113.77', '198.51.100.88', 'QuinnPhone/7.1', 'QuinnLaptop/8.2', hashed];

    // An auditor, and a published course with a lesson.
    const aud = await register('auditor@privacy.test');
    await http(base, 'POST', `/api/v1/users/${aud.user.id}/roles`, { role: 'auditor' }, admin.accessToken);
    const auditor = (await http(base, 'POST', '/api/v1/auth/login', { email: 'auditor@privacy.test', password: pw })).body;
    const course = (await http(base, 'POST', '/api/v1/courses', { title: 'Tidepools', category: 'biology' }, teacher.accessToken)).body;
    const mod = (await http(base, 'POST', `/api/v1/courses/${course.id}/modules`, { title: 'Rocks' }, teacher.accessToken)).body;
    const lesson = (
      await http(base, 'POST', `/api/v1/modules/${mod.id}/lessons`, { title: 'Barnacles', content: { type: 'markdown', body: 'x' } }, teacher.accessToken)
    ).body;
    expect((await http(base, 'POST', `/api/v1/courses/${course.id}/publish`, undefined, teacher.accessToken)).status).toBe(200);

    // Quinn: two devices, a failed login, a profile with a bio and a phone number, a push subscription.
    const reg = await http(base, 'POST', '/api/v1/auth/register', { email, password: pw, displayName: name }, undefined, phoneDevice);
    expect(reg.status).toBe(201);
    const quinn = reg.body;
    const qid: string = quinn.user.id;
    expect((await http(base, 'POST', '/api/v1/auth/login', { email, password: 'not it at all' }, undefined, laptop)).status).toBe(401);
    const second = await http(base, 'POST', '/api/v1/auth/login', { email, password: pw }, undefined, laptop);
    expect(second.status).toBe(200);
    const token: string = second.body.accessToken;
    expect((await http(base, 'PATCH', '/api/v1/me', { bio }, token)).status).toBe(200);
    expect((await http(base, 'PUT', '/api/v1/me/notification-preferences', { smsNumber: phone }, token)).status).toBe(200);
    const device = { endpoint: 'https://push.example.org/send/quinn', keys: { p256dh: `B${'A'.repeat(86)}`, auth: 'AAAAAAAAAAAAAAAAAAAAAA' } };
    expect((await http(base, 'POST', '/api/v1/me/push-subscriptions', device, token, laptop)).status).toBe(201);
    // Enrolled, with progress; a file of their own; notified in the app and by email.
    const enr = await http(base, 'POST', `/api/v1/courses/${course.id}/enrollments`, {}, token);
    expect(enr.body.status).toBe('active');
    expect((await http(base, 'POST', `/api/v1/lessons/${lesson.id}/complete`, {}, token)).status).toBe(200);
    const up = await http(base, 'POST', '/api/v1/files', `${notes} of ${name} <${email}>`, token, {
      'content-type': 'text/plain',
      'x-filename': `${name} notes.txt`,
    });
    expect(up.status).toBe(201);
    // An assignment handed in: free text and their file (once the enrolment has made them a learner of the course).
    const asg = (
      await http(
        base,
        'POST',
        `/api/v1/courses/${course.id}/assignments`,
        { title: 'Field notes', maxPoints: 10, submissionTypes: 'both', published: true },
        teacher.accessToken,
      )
    ).body;
    await waitFor(
      async () =>
        (await http(base, 'POST', `/api/v1/assignments/${asg.id}/submissions`, { text: `${notes}, by ${name}`, fileIds: [up.body.id] }, token)).status === 201,
    );
    expect(
      (await http(base, 'POST', `/api/v1/courses/${course.id}/announcements`, { title: 'Low tide at six', body: 'Bring boots.' }, teacher.accessToken)).status,
    ).toBe(202);
    await waitFor(async () => (await http(base, 'GET', '/api/v1/me/notifications', undefined, token)).body.items?.length > 0, 20_000);
    await waitFor(
      async () => (await sql(`select 1 from notifications.deliveries where user_id = $1 and channel = 'email' and status = 'sent'`, [qid])).length > 0,
      20_000,
    );
    // Exported their data.
    const exp = await http(base, 'POST', '/api/v1/me/export', {}, token);
    await waitFor(async () => (await request(exp.body.id, token)).body.status === 'complete', 20_000);
    const bundle = await http(base, 'GET', `/api/v1/privacy/requests/${exp.body.id}/download`, undefined, token);
    expect(bundle.status).toBe(200);
    for (const n of [email, name, bio, phone, '203.0.113.77', '198.51.100.88', 'QuinnPhone/7.1', 'QuinnLaptop/8.2'])
      expect(JSON.stringify(bundle.body)).toContain(n);
    await waitFor(async () => (await sql(`select 1 from audit.entries where subject_id = $1 and type = 'privacy.exported'`, [qid])).length >= 3);

    // What staff can read, as a list of requests per role.
    const staffViews = (fileId: string) => ({
      admin: [
        '/api/v1/users?limit=100',
        `/api/v1/users?q=quinn`,
        `/api/v1/users/${qid}`,
        `/api/v1/users/${qid}/sessions`,
        '/api/v1/audit?limit=100',
        `/api/v1/audit?subjectId=${qid}&limit=100`,
        `/api/v1/audit?actorId=${qid}&limit=100`,
        '/api/v1/courses?limit=100',
        `/api/v1/courses/${course.id}`,
        `/api/v1/courses/${course.id}/members`,
        `/api/v1/courses/${course.id}/roster`,
        `/api/v1/courses/${course.id}/announcements`,
        `/api/v1/courses/${course.id}/content`,
        '/api/v1/admin/notifications/deliveries?limit=100',
        '/api/v1/analytics/courses/enrollments',
        '/api/v1/analytics/courses/published-by-category',
        `/api/v1/privacy/requests/${exp.body.id}`,
        `/api/v1/privacy/requests/${exp.body.id}/download`,
        `/api/v1/enrollments/${enr.body.id}`,
        `/api/v1/files/${fileId}`,
        '/api/v1/catalog',
        '/api/v1/me/notifications?limit=100',
        '/api/v1/me/dashboard',
      ],
      teacher: [
        '/api/v1/courses?limit=100',
        `/api/v1/courses/${course.id}`,
        `/api/v1/courses/${course.id}/members`,
        `/api/v1/courses/${course.id}/roster`,
        `/api/v1/courses/${course.id}/announcements`,
        `/api/v1/courses/${course.id}/content`,
        '/api/v1/analytics/courses/enrollments',
        `/api/v1/enrollments/${enr.body.id}`,
        `/api/v1/files/${fileId}`,
        '/api/v1/catalog',
        '/api/v1/me/notifications?limit=100',
        '/api/v1/me/dashboard',
        `/api/v1/assignments/${asg.id}/submissions?limit=100`,
      ],
      auditor: [
        '/api/v1/audit?limit=100',
        `/api/v1/audit?subjectId=${qid}&limit=100`,
        `/api/v1/audit?actorId=${qid}&limit=100`,
        `/api/v1/users/${qid}`,
        '/api/v1/users?limit=100',
      ],
    });
    const tokens: Record<'admin' | 'teacher' | 'auditor', string> = { admin: admin.accessToken, teacher: teacher.accessToken, auditor: auditor.accessToken };
    const readAll = async () => {
      const views = staffViews(up.body.id);
      const seen: Array<{ who: string; url: string; status: number; text: string }> = [];
      for (const who of ['admin', 'teacher', 'auditor'] as const)
        for (const url of views[who]) for (const r of await walk(url, tokens[who])) seen.push({ who, ...r });
      return seen;
    };
    const holding = (seen: Array<{ who: string; url: string; text: string }>) =>
      seen.flatMap((r) => needles.filter((n) => r.text.toLowerCase().includes(n.toLowerCase())).map((n) => `${r.who} GET ${r.url}: ${n}`));

    // Before: the search finds them (so that "nothing" afterwards means something).
    const before = holding(await readAll()).join('\n');
    for (const n of [email, name, notes, '203.0.113.77', '198.51.100.88', 'QuinnPhone/7.1', 'QuinnLaptop/8.2']) expect(before).toContain(n);
    expect((await rowsHolding([qid, ...needles])).length).toBeGreaterThan(10);
    expect(filesHolding(files.dir, [notes])).not.toEqual([]);

    const er = await http(base, 'POST', '/api/v1/me/erasure', { confirm: 'ERASE' }, token);
    expect(er.status).toBe(202);
    await waitFor(async () => (await request(er.body.id, admin.accessToken)).body.status === 'complete', 30_000);
    await waitFor(async () => (await sql(`select 1 from audit.entries where subject_id = $1 and type = 'user.deleted'`, [qid])).length > 0);

    // A message about them that arrives after the erasure (here: mandatory mail to the old address) is dropped.
    const mailsBefore = smtp.mails.filter((m) => m.to.includes(email)).length;
    const late = randomUUID();
    await sql(
      `insert into notifications.requests (event_id, user_id, "to", template, data) values ($1, $2, $3, 'email_verification', '{"token":"late-token-123"}')`,
      [late, qid, email],
    );
    await waitFor(async () => (await sql('select 1 from notifications.requests where event_id = $1', [late])).length === 0);
    expect(await sql('select 1 from notifications.deliveries where event_id = $1', [late])).toEqual([]);
    expect(smtp.mails.filter((m) => m.to.includes(email))).toHaveLength(mailsBefore);
    // The finished export is gone with the rest: its download is not found, for anyone.
    expect.soft((await http(base, 'GET', `/api/v1/privacy/requests/${exp.body.id}/download`, undefined, admin.accessToken)).status).toBe(404);
    // Nothing staff can read holds them.
    expect.soft(holding(await readAll())).toEqual([]);
    // Nor any row of any service: their id remains only in the tombstone, the privacy requests, the audit log and a
    // revoked certificate (reason `erased`, no name, no signed copy: its code verifies as revoked; docs/security.md).
    const keepsId = new Set(['users.users', 'users.privacy_requests', 'audit.entries', 'credentials.credentials']);
    expect.soft(await rowsHolding([qid, ...needles], (table, needle) => needle === qid && keepsId.has(table))).toEqual([]);
    // Nor the bytes in storage.
    expect.soft(filesHolding(files.dir, [notes, email])).toEqual([]);
  }, 120_000);
});
