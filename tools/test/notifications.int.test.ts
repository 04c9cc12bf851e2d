/**
 * Notifications: email through a real SMTP server (smtp-server), in the user's language; one email for an
 * event delivered twice; SMTP down then up; bounces retried by an operator; per-type preferences with
 * security mail always sent; in-app notifications pushed live over Server-Sent Events; web push to a real
 * HTTPS receiver that decrypts the message (RFC 8291) and checks the VAPID signature (RFC 8292); SMS to a
 * local HTTP gateway; quiet hours; preference validation; template preview.
 */
import { execFileSync } from 'node:child_process';
import { createECDH, createPublicKey, randomBytes, randomUUID, verify } from 'node:crypto';
import fs from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import path from 'node:path';
import ece from 'http_ece';
import { gatewayPort } from '@lms/gateway';
import { notificationsOf } from '@lms/notifications';
import { startNode, type LmsNode } from '@lms/runtime';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICES } from '../services.ts';
import { defined, drained, freePort, http, smtpPeer, tempDir, waitFor } from './support.ts';

let node: LmsNode;
let base: string;
let smtpPort: number;
let smtp: Awaited<ReturnType<typeof smtpPeer>> | undefined;
/** The SMTP peer, started by the first email test (the ones after it need it). */
const mailbox = () => defined(smtp, 'the SMTP peer (started by the first email test)');
let admin: string;
const pw = 'notifications suite password';

interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}
const pushed: Received[] = [];
const texted: Received[] = [];
const smsAnswer = { status: 200 };
const certs = tempDir();
const collect = (into: Received[], answer: (path: string) => number) => (req: IncomingMessage, res: import('node:http').ServerResponse) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    into.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
    res.writeHead(answer(req.url ?? ''), { 'content-type': 'application/json' }).end(JSON.stringify({ id: `msg-${into.length}` }));
  });
};
// A push service (HTTPS, self-signed for the test) and an SMS gateway, both real HTTP peers.
const keyFile = path.join(certs.dir, 'key.pem');
const certFile = path.join(certs.dir, 'cert.pem');
execFileSync(
  'openssl',
  [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '1',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
  ],
  { stdio: 'ignore' },
);
const pushService = createHttpsServer(
  { key: fs.readFileSync(keyFile), cert: fs.readFileSync(certFile) },
  collect(pushed, (p) => (p.includes('gone') ? 410 : 201)),
);
const smsGateway = createHttpServer(collect(texted, () => smsAnswer.status));
let pushBase: string;

beforeAll(async () => {
  smtpPort = await freePort();
  await new Promise<void>((r) => pushService.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => smsGateway.listen(0, '127.0.0.1', r));
  pushBase = `https://127.0.0.1:${(pushService.address() as import('node:net').AddressInfo).port}`;
  Object.assign(process.env, {
    SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
    RATE_LIMIT_AUTH_PER_MINUTE: '1000',
    NOTIFY_POLL_MS: '100',
    PUSH_CA_FILE: certFile,
    PUSH_ALLOW_PRIVATE: '1',
    SMS_HTTP_URL: `http://127.0.0.1:${(smsGateway.address() as import('node:net').AddressInfo).port}/messages`,
    SMS_HTTP_TOKEN: 'gateway-secret',
  });
  node = await startNode(Object.values(SERVICES), { mode: 'embedded', dataDir: 'memory://', port: 0, databaseUrl: undefined });
  base = `http://127.0.0.1:${gatewayPort(node.broker)}`;
  admin = (await http(base, 'POST', '/api/v1/auth/register', { email: 'admin@notify.test', password: pw, displayName: 'Admin' })).body.accessToken;
});
afterAll(async () => {
  await node?.stop();
  await smtp?.close();
  pushService.close();
  smsGateway.close();
  certs.remove();
  for (const k of [
    'SMTP_URL',
    'RATE_LIMIT_AUTH_PER_MINUTE',
    'NOTIFY_POLL_MS',
    'NOTIFY_MAX_ATTEMPTS',
    'PUSH_CA_FILE',
    'PUSH_ALLOW_PRIVATE',
    'SMS_HTTP_URL',
    'SMS_HTTP_TOKEN',
  ])
    delete process.env[k];
});

const deliveries = async (status?: string) =>
  (await http(base, 'GET', `/api/v1/admin/notifications/deliveries?limit=100${status ? `&status=${status}` : ''}`, undefined, admin)).body.items as Array<{
    id: string;
    channel: string;
    recipient: string;
    status: string;
    attempts: number;
    template: string;
    lastError: string | null;
    runAfter: string;
  }>;
const register = async (email: string) => (await http(base, 'POST', '/api/v1/auth/register', { email, password: pw, displayName: 'Sam' })).body;

describe('email delivery', () => {
  it('keeps a message while SMTP is down, and delivers it when SMTP is back', async () => {
    await register('early@notify.test');
    const failing = await waitFor(async () => (await deliveries()).find((d) => d.recipient === 'e***@notify.test' && d.lastError), 15_000, 100);
    expect(failing.status).toMatch(/queued|sending/);
    smtp = await smtpPeer(smtpPort);
    await smtp.next('early@notify.test', /Confirm your email/, 20_000);
    // user.created: a welcome, besides the verification mail from the auth service.
    await smtp.next('early@notify.test', /Your account is ready/, 20_000);
    const sent = await waitFor(async () => (await deliveries()).find((d) => d.recipient === 'e***@notify.test' && d.status === 'sent'), 10_000);
    expect(sent.attempts).toBeGreaterThanOrEqual(2);
  });

  it("writes in the user's language, falling back to English", async () => {
    const s = await register('marie@notify.test');
    await http(base, 'PATCH', '/api/v1/me', { locale: 'fr' }, s.accessToken);
    await http(base, 'POST', '/api/v1/auth/password/forgot', { email: 'marie@notify.test' });
    const fr = await mailbox().next('marie@notify.test', /Le lien ne sert qu'une fois/);
    expect(fr.raw).toMatch(/^Subject: =\?UTF-8\?/m); // "Réinitialisez…", encoded
    await http(base, 'POST', '/api/v1/auth/password', { currentPassword: pw, newPassword: 'another long secret' }, s.accessToken);
    await mailbox().next('marie@notify.test', /password of your account was just changed/); // no French version: English
  });

  it('sends one email for an event delivered twice', async () => {
    const sub = defined(node.runtime.subscriptions.get('notifications-email'));
    const env = {
      id: randomUUID(),
      subject: 'lms.notification.requested.v1',
      version: 1,
      occurredAt: new Date().toISOString(),
      key: null,
      requestId: null,
      payload: { userId: null, to: 'twice@notify.test', template: 'password_changed', locale: 'en', data: { displayName: 'Twice' } },
    };
    for (let i = 0; i < 2; i++) await sub.db.transaction().execute((trx) => sub.handle(env, trx));
    await mailbox().next('twice@notify.test', /password/);
    await drained({ db: node.runtime.db.root }); // a second email, if there were one, would be queued or sending by now
    expect(mailbox().mails.filter((m) => m.to.includes('twice@notify.test'))).toHaveLength(1);
  });

  it('picks up work a dead process left half done once its lease ends: a claimed request, a delivery mid-send', async () => {
    const db = defined(node.runtime.subscriptions.get('notifications-email')).db;
    // As a router that died after claiming leaves it: pending, its lease (run_after) over.
    await sql`insert into notifications.requests (event_id, user_id, "to", template, locale, data, status, run_after)
      values (${randomUUID()}, null, 'lease-a@notify.test', 'password_changed', 'en', '{"displayName":"A"}', 'pending', now() - interval '1 second')`.execute(
      db,
    );
    // As a sender that died between the SMTP hand-off and the record leaves it: sending, lease over (sent again: at least once).
    await sql`insert into notifications.deliveries (id, event_id, user_id, channel, template, recipient, status, attempts, run_after, locale, data)
      values (${randomUUID()}, ${randomUUID()}, null, 'email', 'password_changed', 'lease-b@notify.test', 'sending', 0, now() - interval '1 second', 'en', '{"displayName":"B"}')`.execute(
      db,
    );
    await mailbox().next('lease-a@notify.test', /password of your account was just changed/);
    await mailbox().next('lease-b@notify.test', /password of your account was just changed/);
    await waitFor(async () => (await deliveries('sent')).some((d) => d.recipient === 'l***@notify.test'), 5000);
  });

  it('sends a deactivated account nothing but mandatory mail', async () => {
    const u = await register('gone@notify.test');
    expect((await http(base, 'POST', `/api/v1/users/${u.user.id}/deactivate`, {}, admin)).status).toBe(200);
    const sub = defined(node.runtime.subscriptions.get('notifications-email'));
    const ask = async (template: string) => {
      const id = randomUUID();
      const env = {
        id,
        subject: 'lms.notification.requested.v1',
        version: 1,
        occurredAt: new Date().toISOString(),
        key: null,
        requestId: null,
        payload: { userId: u.user.id, to: 'gone@notify.test', template, locale: 'en', data: {} },
      };
      await sub.db.transaction().execute((trx) => sub.handle(env, trx));
      return id;
    };
    const optional = await ask('privacy_export_ready');
    await ask('password_changed');
    await mailbox().next('gone@notify.test', /password of your account was just changed/);
    const db = sub.db;
    await waitFor(
      async () =>
        (await sql<{ status: string }>`select status from notifications.requests where event_id = ${optional}`.execute(db)).rows[0]?.status === 'routed',
      5000,
    );
    expect((await sql`select 1 from notifications.deliveries where event_id = ${optional}`.execute(db)).rows).toEqual([]);
    expect((await sql`select 1 from notifications.inbox where event_id = ${optional}`.execute(db)).rows).toEqual([]);
  });

  it('records a bounce (a 5xx from the receiving server) at once, and sends it when an operator retries', async () => {
    mailbox().state.refuse = /bounce/;
    try {
      await register('bounce@notify.test');
      const bounced = await waitFor(
        async () => (await deliveries('bounced')).find((d) => d.recipient === 'b***@notify.test' && d.template === 'email_verification'),
        15_000,
        100,
      );
      expect([bounced.attempts, bounced.lastError]).toEqual([1, expect.stringMatching(/550/)]);
      mailbox().state.refuse = undefined;
      const retried = await http(base, 'POST', `/api/v1/admin/notifications/deliveries/${bounced.id}/retry`, {}, admin);
      expect(retried.body.status).toBe('queued');
      await mailbox().next('bounce@notify.test', /Confirm your email/);
      expect((await http(base, 'POST', `/api/v1/admin/notifications/deliveries/${bounced.id}/retry`, {}, admin)).status).toBe(409);
    } finally {
      mailbox().state.refuse = undefined;
    }
  });
});

describe('preferences and in-app', () => {
  it('skips email a user turned off, still sends security mail, and pushes in-app notifications live', async () => {
    const teacher = await register('teacher@notify.test');
    await http(base, 'POST', `/api/v1/users/${teacher.user.id}/roles`, { role: 'instructor' }, admin);
    const t = (await http(base, 'POST', '/api/v1/auth/login', { email: 'teacher@notify.test', password: pw })).body.accessToken;
    const learner = await register('quiet@notify.test');
    expect((await http(base, 'PUT', '/api/v1/me/notification-preferences', { types: { enrollments: { email: 'never' } } }, learner.accessToken)).status).toBe(
      200,
    );

    // Live stream first, then the event.
    const ctrl = new AbortController();
    const stream = await fetch(`${base}/api/v1/me/notifications/stream`, { headers: { authorization: `Bearer ${learner.accessToken}` }, signal: ctrl.signal });
    expect(stream.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = defined(stream.body).getReader();
    let seen = '';
    const live = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return seen;
        seen += Buffer.from(value).toString();
        if (seen.includes('event: notification')) return seen;
      }
    })();

    const course = (await http(base, 'POST', '/api/v1/courses', { title: 'Quiet course', category: 'x' }, t)).body;
    await http(base, 'POST', `/api/v1/courses/${course.id}/publish`, undefined, t);
    expect((await http(base, 'POST', `/api/v1/courses/${course.id}/enrollments`, {}, learner.accessToken)).body.status).toBe('active');
    const got = await Promise.race([live, new Promise<string>((r) => setTimeout(() => r('timeout'), 10_000))]);
    ctrl.abort();
    expect(got).toContain('"template":"enrollment_welcome"');

    const skipped = await waitFor(async () => (await deliveries('skipped')).find((d) => d.recipient === 'q***@notify.test'), 10_000);
    expect(skipped.template).toBe('enrollment_welcome');
    await http(base, 'POST', '/api/v1/auth/password', { currentPassword: pw, newPassword: 'silent but safe now' }, learner.accessToken);
    await mailbox().next('quiet@notify.test', /password of your account was just changed/);
    expect(mailbox().mails.some((m) => m.to.includes('quiet@notify.test') && /Welcome to/.test(m.text))).toBe(false);

    const inbox = (await http(base, 'GET', '/api/v1/me/notifications', undefined, learner.accessToken)).body;
    expect(inbox.unreadCount).toBeGreaterThanOrEqual(1);
    expect(inbox.items.map((i: { template: string }) => i.template)).toContain('enrollment_welcome');
    expect(inbox.items.map((i: { template: string }) => i.template)).not.toContain('email_verification'); // tokens stay out of the inbox
    const one = await http(base, 'POST', `/api/v1/me/notifications/${inbox.items[0].id}/read`, {}, learner.accessToken);
    expect(one.body.readAt).toBeTruthy();
    expect((await http(base, 'POST', `/api/v1/me/notifications/${inbox.items[0].id}/read`, {}, teacher.accessToken)).status).toBe(404);
    await http(base, 'POST', '/api/v1/me/notifications/read-all', {}, learner.accessToken);
    expect((await http(base, 'GET', '/api/v1/me/notifications?unread=true', undefined, learner.accessToken)).body).toMatchObject({ items: [], unreadCount: 0 });
  });

  it('unsubscribes from a kind of email with the one-click link (RFC 8058) in the message', async () => {
    const t = (await http(base, 'POST', '/api/v1/auth/login', { email: 'teacher@notify.test', password: pw })).body.accessToken;
    const learner = await register('clicker@notify.test');
    const course = (await http(base, 'POST', '/api/v1/courses', { title: 'Loud course', category: 'x' }, t)).body;
    await http(base, 'POST', `/api/v1/courses/${course.id}/publish`, undefined, t);
    await http(base, 'POST', `/api/v1/courses/${course.id}/enrollments`, {}, learner.accessToken);
    const mail = await mailbox().next('clicker@notify.test', /Welcome to Loud course/);
    const headers = defined(mail.raw.split(/\r?\n\r?\n/)[0]).replace(/\r?\n[ \t]+/g, ' ');
    expect(headers).toMatch(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click$/m);
    const url = new URL(defined(defined(/^List-Unsubscribe: <([^>]+)>$/m.exec(headers))[1]));
    // What a mail client does: a form POST to the link, no session.
    const click = await fetch(`${base}${url.pathname}${url.search}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    });
    expect([click.status, await click.json()]).toEqual([200, { unsubscribed: true, type: 'enrollments' }]);
    expect((await http(base, 'GET', '/api/v1/me/notification-preferences', undefined, learner.accessToken)).body.types.enrollments.email).toBe('never');
    const forged = new URL(url);
    forged.searchParams.set('token', `${learner.user.id}.grades.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`);
    expect(
      (
        await fetch(`${base}${forged.pathname}${forged.search}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: 'List-Unsubscribe=One-Click',
        })
      ).status,
    ).toBe(401);
    // Security mail has no unsubscribe link.
    const reset = await mailbox().next('clicker@notify.test', /Confirm your email/);
    expect(reset.raw).not.toMatch(/^List-Unsubscribe:/m);
  });
});

describe('announcements for learners', () => {
  it('lets enrolled learners read their course announcements, without the delivery progress staff see', async () => {
    const courseId = await publishedCourse('Announced course');
    const teacher = defined(await author);
    const learner = await register('reader@notify.test');
    const outsider = await register('outsider@notify.test');
    expect((await http(base, 'POST', `/api/v1/courses/${courseId}/enrollments`, {}, learner.accessToken)).body.status).toBe('active');
    const ann = await http(base, 'POST', `/api/v1/courses/${courseId}/announcements`, { title: 'Exam moved', body: 'To Friday.' }, teacher);
    expect(ann.status).toBe(202);
    // The learner's membership follows the enrolment event: wait until the list answers.
    const list = await waitFor(async () => {
      const r = await http(base, 'GET', `/api/v1/courses/${courseId}/announcements`, undefined, learner.accessToken);
      return r.status === 200 && r.body;
    });
    expect(list.items).toEqual([
      { id: ann.body.id, courseId, authorId: ann.body.authorId, title: 'Exam moved', body: 'To Friday.', createdAt: ann.body.createdAt },
    ]);
    const one = await http(base, 'GET', `/api/v1/courses/${courseId}/announcements/${ann.body.id}`, undefined, learner.accessToken);
    expect(one.status).toBe(200);
    expect(Object.keys(one.body).sort()).toEqual(['authorId', 'body', 'courseId', 'createdAt', 'id', 'title']);
    // Staff still see how the sending goes.
    const staff = (await http(base, 'GET', `/api/v1/courses/${courseId}/announcements/${ann.body.id}`, undefined, teacher)).body;
    expect(staff).toHaveProperty('progress');
    expect(staff).toHaveProperty('recipients');
    // Someone who may see the (public) course but is not in it: refused; a learner may not announce.
    expect((await http(base, 'GET', `/api/v1/courses/${courseId}/announcements`, undefined, outsider.accessToken)).status).toBe(403);
    expect((await http(base, 'POST', `/api/v1/courses/${courseId}/announcements`, { title: 'x', body: 'y' }, learner.accessToken)).status).toBe(403);
  });
});

/** A course an instructor publishes, for events to happen in. */
let author: Promise<string> | undefined;
async function publishedCourse(title: string) {
  author ??= (async () => {
    const a = await register('author@notify.test');
    await http(base, 'POST', `/api/v1/users/${a.user.id}/roles`, { role: 'instructor' }, admin);
    return (await http(base, 'POST', '/api/v1/auth/login', { email: 'author@notify.test', password: pw })).body.accessToken as string;
  })();
  const t = await author;
  const course = (await http(base, 'POST', '/api/v1/courses', { title, category: 'x' }, t)).body;
  await http(base, 'POST', `/api/v1/courses/${course.id}/publish`, undefined, t);
  return course.id as string;
}

/** A browser's push subscription: a P-256 key pair and a 16-byte auth secret, as PushSubscription.toJSON() has them. */
function browserKeys() {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const auth = randomBytes(16);
  return { ecdh, auth, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') } };
}

describe('preferences', () => {
  it('answers the defaults, refuses turning off or delaying mandatory email, and validates modes', async () => {
    const u = await register('prefs@notify.test');
    const got = (await http(base, 'GET', '/api/v1/me/notification-preferences', undefined, u.accessToken)).body;
    expect(got).toMatchObject({ mandatory: ['security'], quietHours: null, smsNumber: null });
    expect(got.types.security).toEqual({ email: 'immediately', inApp: 'immediately', push: 'never', sms: 'never' });
    expect(got.types.announcements).toEqual({ email: 'immediately', inApp: 'immediately', push: 'immediately', sms: 'never' });
    for (const bad of [
      { types: { security: { email: 'never' } } },
      { types: { security: { email: 'daily' } } },
      { types: { grades: { inApp: 'weekly' } } },
      { types: { grades: { email: 'sometimes' } } },
      { smsNumber: '0612345678' },
      { quietHours: { start: '22:00', end: '25:00' } },
    ]) {
      const r = await http(base, 'PUT', '/api/v1/me/notification-preferences', bad, u.accessToken);
      expect([r.status, r.body.error?.code], JSON.stringify(bad)).toEqual([422, 'VALIDATION_FAILED']);
    }
    const put = await http(
      base,
      'PUT',
      '/api/v1/me/notification-preferences',
      { types: { grades: { email: 'weekly', push: 'never' } }, quietHours: { start: '22:00', end: '07:00' } },
      u.accessToken,
    );
    expect(put.status).toBe(200);
    expect(put.body.types.grades).toEqual({ email: 'weekly', inApp: 'immediately', push: 'never', sms: 'never' });
    // PUT replaces: what is left out goes back to its default.
    const again = await http(base, 'PUT', '/api/v1/me/notification-preferences', { types: {} }, u.accessToken);
    expect([again.body.types.grades.email, again.body.quietHours]).toEqual(['immediately', null]);
  });

  it('holds messages during quiet hours in the user time zone, but never security mail', async () => {
    const u = await register('night@notify.test');
    await http(base, 'PATCH', '/api/v1/me', { timezone: 'Asia/Tokyo' }, u.accessToken);
    // A window around "now" in Tokyo (UTC+9, no DST).
    const tokyo = new Date(Date.now() + 9 * 3600_000);
    const hhmm = (d: Date) => d.toISOString().slice(11, 16);
    const end = new Date(tokyo.getTime() + 3600_000);
    await http(
      base,
      'PUT',
      '/api/v1/me/notification-preferences',
      { quietHours: { start: hhmm(new Date(tokyo.getTime() - 3600_000)), end: hhmm(end) } },
      u.accessToken,
    );
    const courseId = await publishedCourse('Night course');
    await http(base, 'POST', `/api/v1/courses/${courseId}/enrollments`, {}, u.accessToken);
    const held = await waitFor(async () => (await deliveries()).find((d) => d.recipient === 'n***@notify.test' && d.template === 'enrollment_welcome'), 10_000);
    expect(held.status).toBe('queued');
    const expectedEnd = Date.parse(`${new Date(Date.now() + 3600_000).toISOString().slice(0, 11)}${hhmm(end)}:00Z`) - 9 * 3600_000;
    expect(Math.abs(Date.parse(held.runAfter) - expectedEnd) % 86_400_000).toBeLessThan(120_000);
    await http(base, 'POST', '/api/v1/auth/password', { currentPassword: pw, newPassword: 'the stars keep calm at dusk' }, u.accessToken);
    await mailbox().next('night@notify.test', /password of your account was just changed/);
    expect(mailbox().mails.some((m) => m.to.includes('night@notify.test') && /Welcome to Night course/.test(m.text))).toBe(false);
  });
});

describe('digests (embedded)', () => {
  it('holds a weekly message until Monday 08:00 in the user time zone, then sends one digest', async () => {
    const u = await register('weekly@notify.test');
    await http(base, 'PATCH', '/api/v1/me', { timezone: 'America/New_York' }, u.accessToken);
    await http(base, 'PUT', '/api/v1/me/notification-preferences', { types: { enrollments: { email: 'weekly' } } }, u.accessToken);
    await http(base, 'POST', `/api/v1/courses/${await publishedCourse('Weekly course')}/enrollments`, {}, u.accessToken);
    const held = await waitFor(async () => (await deliveries('held')).find((d) => d.recipient === 'w***@notify.test'), 10_000);
    const local = new Intl.DateTimeFormat('en-US', {
      timeZone: 'America/New_York',
      weekday: 'short',
      hour: 'numeric',
      minute: 'numeric',
      hourCycle: 'h23',
    }).format(new Date(held.runAfter));
    expect(local).toBe('Mon 08:00');
    const db = defined(node.runtime.subscriptions.get('notifications-email')).db;
    await db.transaction().execute((trx) => sql`update notifications.deliveries set run_after = now() where id = ${held.id}`.execute(trx));
    expect(await notificationsOf(node).digest.assembleDue()).toBe(1);
    const mail = await mailbox().next('weekly@notify.test', /1 notification this week/);
    expect(mail.text).toContain('Welcome to Weekly course');
    expect((await deliveries('digested')).find((d) => d.id === held.id)).toBeTruthy();
  });
});

describe('web push and SMS', () => {
  it('pushes an encrypted, VAPID-signed message to each device, forgets expired ones, and texts the phone', async () => {
    const u = await register('devices@notify.test');
    await http(
      base,
      'PUT',
      '/api/v1/me/notification-preferences',
      { types: { enrollments: { sms: 'immediately' } }, smsNumber: '+33612345678' },
      u.accessToken,
    );
    const phone = browserKeys();
    const old = browserKeys();
    const s1 = await http(
      base,
      'POST',
      '/api/v1/me/push-subscriptions',
      { endpoint: `${pushBase}/push/device-1`, keys: phone.keys, userAgent: 'Firefox' },
      u.accessToken,
    );
    expect([s1.status, s1.body.endpointHost]).toEqual([201, new URL(pushBase).host]);
    await http(base, 'POST', '/api/v1/me/push-subscriptions', { endpoint: `${pushBase}/push/gone-2`, keys: old.keys }, u.accessToken);
    expect((await http(base, 'POST', '/api/v1/me/push-subscriptions', { endpoint: 'http://push.example.org/x', keys: phone.keys }, u.accessToken)).status).toBe(
      422,
    );

    const courseId = await publishedCourse('Pocket course');
    await http(base, 'POST', `/api/v1/courses/${courseId}/enrollments`, {}, u.accessToken);
    const push = await waitFor(async () => pushed.find((p) => p.path === '/push/device-1'), 10_000);
    // What the browser would do: decrypt with its private key and auth secret.
    const message = JSON.parse(ece.decrypt(push.body, { version: 'aes128gcm', privateKey: phone.ecdh, authSecret: phone.keys.auth }).toString());
    expect(message).toMatchObject({ title: 'Welcome to Pocket course', url: expect.stringContaining(`/courses/${courseId}`) });
    expect(push.headers['content-encoding']).toBe('aes128gcm');
    expect(Number(push.headers.ttl)).toBeGreaterThan(0);
    // VAPID: a JWT for this push service's origin, signed with the key the browser subscribed with.
    const { publicKey } = (await http(base, 'GET', '/api/v1/notifications/push-key')).body;
    const [, jwt, k] = defined(/^vapid t=([^,]+), k=(.+)$/.exec(String(push.headers.authorization)));
    expect(k).toBe(publicKey);
    const [h, p, sig] = defined(jwt).split('.');
    expect(JSON.parse(Buffer.from(defined(p), 'base64url').toString())).toMatchObject({ aud: pushBase, sub: expect.stringMatching(/^mailto:/) });
    const raw = Buffer.from(publicKey, 'base64url');
    const key = createPublicKey({
      key: { kty: 'EC', crv: 'P-256', x: raw.subarray(1, 33).toString('base64url'), y: raw.subarray(33, 65).toString('base64url') },
      format: 'jwk',
    });
    expect(verify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(defined(sig), 'base64url'))).toBe(true);
    // The push service said 410 for the other device: it is forgotten.
    await waitFor(async () => (await http(base, 'GET', '/api/v1/me/push-subscriptions', undefined, u.accessToken)).body.items.length === 1, 10_000);
    // Secrets never travel by push: the verification link went by email only.
    expect(
      pushed
        .map((x) =>
          ece
            .decrypt(x.body, {
              version: 'aes128gcm',
              privateKey: x.path.includes('gone') ? old.ecdh : phone.ecdh,
              authSecret: (x.path.includes('gone') ? old : phone).keys.auth,
            })
            .toString(),
        )
        .join(),
    ).not.toMatch(/token=/);

    const sms = await waitFor(async () => texted.find((t) => JSON.parse(t.body.toString()).to === '+33612345678'), 10_000);
    expect(sms.headers.authorization).toBe('Bearer gateway-secret');
    expect(JSON.parse(sms.body.toString()).text).toMatch(/^Welcome to Pocket course: http/);
    const listed = await waitFor(
      async () =>
        (await http(base, 'GET', '/api/v1/admin/notifications/deliveries?channel=sms', undefined, admin)).body.items.filter(
          (d: { status: string }) => d.status === 'sent',
        ),
      5000,
    );
    expect(listed).toContainEqual(expect.objectContaining({ recipient: '+33*******78', status: 'sent', template: 'enrollment_welcome' }));
  });

  it('records a refused SMS as bounced, and refuses push endpoints on private addresses', async () => {
    smsAnswer.status = 400;
    try {
      const u = await register('badphone@notify.test');
      await http(
        base,
        'PUT',
        '/api/v1/me/notification-preferences',
        { types: { enrollments: { sms: 'immediately' } }, smsNumber: '+15005550001' },
        u.accessToken,
      );
      await http(base, 'POST', `/api/v1/courses/${await publishedCourse('Silent phone course')}/enrollments`, {}, u.accessToken);
      const bounced = await waitFor(async () => (await deliveries('bounced')).find((d) => d.channel === 'sms' && d.recipient === '+15*******01'), 10_000);
      expect(bounced.lastError).toMatch(/400/);
    } finally {
      smsAnswer.status = 200;
    }
    // Without PUSH_ALLOW_PRIVATE the agent will not connect to a private address (checked at connection time).
    const { generateVapidKeys, pushAgent, sendPush, isPrivateAddress } = await import('../../services/notifications/src/channels.ts');
    expect(['127.0.0.1', '10.1.2.3', '169.254.169.254', '192.168.0.1', '::1', '::ffff:10.0.0.1', 'fd00::1'].every(isPrivateAddress)).toBe(true);
    expect(['8.8.8.8', '2a00:1450::1'].some(isPrivateAddress)).toBe(false);
    {
      // The node's agent allows private addresses (PUSH_ALLOW_PRIVATE=1 here); one built without it refuses them.
      const push = pushAgent({ allowPrivate: false, caFile: certFile });
      const vapid = { subject: 'mailto:a@b.c', ...generateVapidKeys() };
      // An address literal, and a name that resolves to one (refused by the agent's lookup when it connects).
      const literal = await sendPush({ endpoint: `${pushBase}/push/ssrf`, ...browserKeys().keys }, { title: 'x', body: 'y' }, vapid, push);
      const named = await sendPush(
        { endpoint: `${pushBase.replace('127.0.0.1', 'localhost')}/push/ssrf`, ...browserKeys().keys },
        { title: 'x', body: 'y' },
        vapid,
        push,
      );
      push.agent.destroy();
      expect(literal).toMatchObject({ ok: false, error: expect.stringMatching(/private address/) });
      expect(named).toMatchObject({ ok: false, error: expect.stringMatching(/resolves to a private address/) });
      expect(pushed.some((x) => x.path === '/push/ssrf')).toBe(false);
    }
  });
});

describe('templates', () => {
  it('lists templates and previews one in a locale with sample or given values, escaped', async () => {
    const list = (await http(base, 'GET', '/api/v1/admin/notifications/templates', undefined, admin)).body.items;
    expect(list).toContainEqual({ template: 'password_reset', type: 'security', mandatory: true, locales: ['en', 'fr'] });
    const fr = (await http(base, 'POST', '/api/v1/admin/notifications/templates/welcome/preview', { locale: 'fr-CA' }, admin)).body;
    expect(fr).toMatchObject({ template: 'welcome', locale: 'fr', subject: 'Bienvenue, Ada Lovelace' });
    const de = (
      await http(
        base,
        'POST',
        '/api/v1/admin/notifications/templates/announcement/preview',
        { locale: 'de', data: { title: 'Exam', body: '<script>alert(1)</script>' } },
        admin,
      )
    ).body;
    expect(de).toMatchObject({ locale: 'en', subject: 'Exam' });
    expect(de.html).toContain('&#60;script&#62;');
    expect(de.html).not.toContain('<script>');
  });
});
