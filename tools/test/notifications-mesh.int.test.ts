/**
 * Notifications on the mesh (PostgreSQL + JetStream) with two nodes running the notifications service:
 * a digest is assembled and sent once; an announcement fans out to a course's learners, is throttled per
 * channel with its progress visible; a new version of a course tells its learners.
 */
import { notificationsOf } from '@lms/notifications';
import { startNode, type LmsNode } from '@lms/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICES } from '../services.ts';
import { defined, drained as pipelineDrained, freePort, http, meshNode, NATS_URL, query, REDIS_URL, smtpPeer, waitFor } from './support.ts';

let a: Awaited<ReturnType<typeof meshNode>>;
let b: LmsNode;
let smtp: Awaited<ReturnType<typeof smtpPeer>>;
let admin: string;
let teacher: string;
const pw = 'mesh notifications password';
const env: Record<string, string> = { RATE_LIMIT_AUTH_PER_MINUTE: '1000', NOTIFY_POLL_MS: '100', NOTIFY_DIGEST_POLL_MS: '3600000', NOTIFY_RATE_EMAIL: '1000' };

beforeAll(async () => {
  const port = await freePort();
  smtp = await smtpPeer(port);
  Object.assign(process.env, env, { SMTP_URL: `smtp://127.0.0.1:${port}` });
  a = await meshNode(Object.values(SERVICES));
  // A second node with only the notifications service, on the same database and broker.
  b = await startNode([defined(SERVICES.notifications)], {
    mode: 'mesh',
    databaseUrl: a.databaseUrl,
    natsUrl: NATS_URL,
    redisUrl: REDIS_URL,
    namespace: a.namespace,
    port: 0,
    migrateOnStart: false,
    nodeId: `${a.namespace}-b`,
  });
  await a.node.broker.waitForServices(['notifications'], 10_000);
  admin = (await http(a.base, 'POST', '/api/v1/auth/register', { email: 'admin@mesh.test', password: pw, displayName: 'Admin' })).body.accessToken;
  const t = (await http(a.base, 'POST', '/api/v1/auth/register', { email: 'teacher@mesh.test', password: pw, displayName: 'Teach' })).body;
  await http(a.base, 'POST', `/api/v1/users/${t.user.id}/roles`, { role: 'instructor' }, admin);
  teacher = (await http(a.base, 'POST', '/api/v1/auth/login', { email: 'teacher@mesh.test', password: pw })).body.accessToken;
}, 60_000);
afterAll(async () => {
  await b?.stop();
  await a?.stop();
  await smtp?.close();
  for (const k of [...Object.keys(env), 'SMTP_URL']) delete process.env[k];
});

const sql = <R = Record<string, unknown>>(q: string, params: unknown[] = []) => query<R>(a.databaseUrl, q, params);
/** Nothing left to send: the queue is empty (the throttle makes the registrations' mail take a while). */
const drained = () =>
  waitFor(
    async () => defined((await sql<{ n: number }>(`select count(*)::int as n from notifications.deliveries where status in ('queued', 'sending')`))[0]).n === 0,
    60_000,
    200,
  );

async function course(title: string) {
  const c = (await http(a.base, 'POST', '/api/v1/courses', { title, category: 'x' }, teacher)).body;
  expect((await http(a.base, 'POST', `/api/v1/courses/${c.id}/publish`, undefined, teacher)).status).toBe(200);
  return c.id as string;
}

describe('digests with two nodes', () => {
  it('gathers held messages into one digest per user, sent once, with both nodes assembling at the same moment', async () => {
    const courseId = await course('Digest course');
    const users = [];
    for (const name of ['dee', 'dom', 'dot']) {
      const u = (await http(a.base, 'POST', '/api/v1/auth/register', { email: `${name}@mesh.test`, password: pw, displayName: name })).body;
      const put = await http(
        a.base,
        'PUT',
        '/api/v1/me/notification-preferences',
        { types: { enrollments: { email: 'daily' }, announcements: { email: 'daily' } } },
        u.accessToken,
      );
      expect(put.status).toBe(200);
      expect((await http(a.base, 'POST', `/api/v1/courses/${courseId}/enrollments`, {}, u.accessToken)).body.status).toBe('active');
      users.push(u);
    }
    for (const title of ['Room change', 'Exam date'])
      expect((await http(a.base, 'POST', `/api/v1/courses/${courseId}/announcements`, { title, body: 'Details inside.' }, teacher)).status).toBe(202);
    const ids = users.map((u) => u.user.id);
    const held = await waitFor(
      async () => {
        const rows = await sql<{ template: string; run_after: Date }>(
          `select template, run_after from notifications.deliveries where user_id = any($1) and status = 'held'`,
          [ids],
        );
        return rows.length === 9 && rows;
      },
      20_000,
      100,
    );
    // Held until the next 08:00 in the user's zone (UTC here), within a day.
    for (const h of held) {
      expect(h.run_after.getTime() - Date.now()).toBeLessThanOrEqual(86_400_000);
      expect(h.run_after.getUTCHours()).toBe(8);
    }
    await drained();
    await sql(`update notifications.deliveries set run_after = now() where user_id = any($1) and status = 'held'`, [ids]);
    // Both nodes assemble at once, over the same rows.
    const [byA, byB] = await Promise.all([notificationsOf(a.node).digest.assembleDue(), notificationsOf(b).digest.assembleDue()]);
    expect(byA + byB).toBe(9);
    for (const name of ['dee', 'dom', 'dot']) {
      const mail = await smtp.next(`${name}@mesh.test`, /3 notifications today/, 20_000);
      for (const t of ['Welcome to Digest course', 'Room change', 'Exam date']) expect(mail.text).toContain(t);
    }
    await pipelineDrained(a.pipeline); // a second digest, if there were one, would have been sent by now
    expect(
      smtp.mails
        .filter((m) => /notifications today/.test(m.text))
        .map((m) => m.to[0])
        .sort(),
    ).toEqual(['dee@mesh.test', 'dom@mesh.test', 'dot@mesh.test']);
    const rows = await sql(
      `select user_id, count(*)::int as n, count(distinct digest_id)::int as digests from notifications.deliveries where user_id = any($1) and status = 'digested' group by user_id`,
      [ids],
    );
    expect(rows.map((r) => [r.n, r.digests])).toEqual([
      [3, 1],
      [3, 1],
      [3, 1],
    ]);
    expect(
      await sql(`select status, count(*)::int as n from notifications.deliveries where user_id = any($1) and template = 'digest' group by status`, [ids]),
    ).toEqual([{ status: 'sent', n: 3 }]);
  }, 90_000);
});

describe('announcements', () => {
  it('fans out to the learners, throttled per channel, with progress visible; a new course version tells them too', async () => {
    const courseId = await course('Crowded course');
    const learners = [];
    for (let i = 0; i < 10; i++) {
      const l = (await http(a.base, 'POST', '/api/v1/auth/register', { email: `crowd${i}@mesh.test`, password: pw, displayName: `Crowd ${i}` })).body;
      expect((await http(a.base, 'POST', `/api/v1/courses/${courseId}/enrollments`, {}, l.accessToken)).body.status).toBe('active');
      learners.push(l);
    }
    // A learner who turned announcements off by email still gets them in the app.
    await http(a.base, 'PUT', '/api/v1/me/notification-preferences', { types: { announcements: { email: 'never' } } }, learners[0].accessToken);
    await drained();

    // 2 mails a second for the whole mesh (read at each claim, set on both nodes as an operator would).
    const setEmailRate = (perSecond: number) => [a.node, b].forEach((n) => notificationsOf(n).delivery.setRate('email', perSecond));
    setEmailRate(2);
    const ann = await http(
      a.base,
      'POST',
      `/api/v1/courses/${courseId}/announcements`,
      { title: 'Lab closed', body: 'No lab on Friday.\nSee you Monday.' },
      teacher,
    );
    expect([ann.status, ann.body.status]).toEqual([202, 'fanning_out']);
    const seen: Array<{ status: string; sent: number; at: number }> = [];
    const done = await waitFor(
      async () => {
        const p = (await http(a.base, 'GET', `/api/v1/courses/${courseId}/announcements/${ann.body.id}`, undefined, teacher)).body;
        seen.push({ status: p.status, sent: p.progress.email?.sent ?? 0, at: Date.now() });
        return p.status === 'done' && p;
      },
      30_000,
      50,
    );
    setEmailRate(1000);
    expect(done).toMatchObject({ recipients: 10, progress: { email: { sent: 9, skipped: 1 } } });
    // Two nodes sending 9 mails at 2 a second for the whole mesh: five one-second windows, so at least 4 s from
    // the first to the last (with a limit per node, 4 a second, it would take 2 s); the progress showed them going.
    expect(seen.some((s) => s.sent > 0 && s.sent < 9)).toBe(true);
    const firstSent = defined(seen.find((s) => s.sent > 0)).at;
    expect(defined(seen.at(-1)).at - firstSent).toBeGreaterThan(3000);
    const mail = await smtp.next('crowd3@mesh.test', /No lab on Friday/);
    expect(mail.text).toContain('Crowded course');
    expect(smtp.mails.some((m) => m.to.includes('crowd0@mesh.test') && /Lab closed/.test(m.text))).toBe(false);
    const inbox = (await http(a.base, 'GET', '/api/v1/me/notifications', undefined, learners[0].accessToken)).body.items;
    expect(inbox.map((i: { title: string }) => i.title)).toContain('Lab closed');
    // Staff see the list with its progress; learners read the announcements, without it.
    expect(
      (await http(a.base, 'GET', `/api/v1/courses/${courseId}/announcements`, undefined, teacher)).body.items.map((i: { title: string }) => i.title),
    ).toEqual(['Lab closed']);
    const asLearner = (await http(a.base, 'GET', `/api/v1/courses/${courseId}/announcements`, undefined, learners[1].accessToken)).body.items;
    expect(asLearner.map((i: { title: string; progress?: unknown }) => [i.title, i.progress])).toEqual([['Lab closed', undefined]]);

    // A new version of the course reaches every learner.
    await http(a.base, 'PATCH', `/api/v1/courses/${courseId}`, { description: 'Now with more labs' }, teacher);
    expect((await http(a.base, 'POST', `/api/v1/courses/${courseId}/publish`, undefined, teacher)).body.version).toBe(2);
    await waitFor(async () => smtp.mails.filter((m) => /Crowded course was updated/.test(m.text)).length === 10, 30_000, 200);
  }, 120_000);
});
