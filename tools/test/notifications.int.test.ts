/**
 * Notifications: email through a real SMTP server (smtp-server), in the user's language; one email for an
 * event delivered twice; SMTP down then up; dead deliveries retried by an operator; per-type preferences
 * with security mail always sent; in-app notifications pushed live over Server-Sent Events.
 */
import { randomUUID } from 'node:crypto';
import { gatewayPort } from '@lms/gateway';
import { startNode, type LmsNode } from '@lms/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICES } from '../services.ts';
import { freePort, http, smtpPeer, waitFor } from './support.ts';

let node: LmsNode;
let base: string;
let smtpPort: number;
let smtp: Awaited<ReturnType<typeof smtpPeer>> | undefined;
let admin: string;
const pw = 'notifications suite password';

beforeAll(async () => {
  smtpPort = await freePort();
  Object.assign(process.env, { SMTP_URL: `smtp://127.0.0.1:${smtpPort}`, RATE_LIMIT_AUTH_PER_MINUTE: '1000', NOTIFY_POLL_MS: '100' });
  node = await startNode(Object.values(SERVICES), { mode: 'embedded', dataDir: 'memory://', port: 0, databaseUrl: undefined });
  base = `http://127.0.0.1:${gatewayPort(node.broker)}`;
  admin = (await http(base, 'POST', '/api/v1/auth/register', { email: 'admin@notify.test', password: pw, displayName: 'Admin' })).body.accessToken;
});
afterAll(async () => {
  await node?.stop();
  await smtp?.close();
  for (const k of ['SMTP_URL', 'RATE_LIMIT_AUTH_PER_MINUTE', 'NOTIFY_POLL_MS', 'NOTIFY_MAX_ATTEMPTS']) delete process.env[k];
});

const deliveries = async (status?: string) => (await http(base, 'GET', `/api/v1/admin/notifications/deliveries${status ? `?status=${status}` : ''}`, undefined, admin)).body.items as Array<{ eventId: string; recipient: string; status: string; attempts: number; template: string; lastError: string | null }>;
const register = async (email: string) => (await http(base, 'POST', '/api/v1/auth/register', { email, password: pw, displayName: 'Sam' })).body;

describe('email delivery', () => {
  it('keeps a message while SMTP is down, and delivers it when SMTP is back', async () => {
    await register('early@notify.test');
    const failing = await waitFor(async () => (await deliveries()).find((d) => d.recipient === 'e***@notify.test' && d.lastError), 15_000, 100);
    expect(failing.status).toMatch(/queued|sending/);
    smtp = await smtpPeer(smtpPort);
    await smtp.next('early@notify.test', /Confirm your email/, 20_000);
    const sent = await waitFor(async () => (await deliveries()).find((d) => d.recipient === 'e***@notify.test' && d.status === 'sent'), 10_000);
    expect(sent.attempts).toBeGreaterThanOrEqual(2);
  });

  it("writes in the user's language, falling back to English", async () => {
    const s = await register('marie@notify.test');
    await http(base, 'PATCH', '/api/v1/me', { locale: 'fr' }, s.accessToken);
    await http(base, 'POST', '/api/v1/auth/password/forgot', { email: 'marie@notify.test' });
    const fr = await smtp!.next('marie@notify.test', /Le lien ne sert qu'une fois/);
    expect(fr.raw).toMatch(/^Subject: =\?UTF-8\?/m); // "Réinitialisez…", encoded
    await http(base, 'POST', '/api/v1/auth/password', { currentPassword: pw, newPassword: 'another long secret' }, s.accessToken);
    await smtp!.next('marie@notify.test', /password of your account was just changed/); // no French version: English
  });

  it('sends one email for an event delivered twice', async () => {
    const sub = node.runtime.subscriptions.get('notifications-email')!;
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
    await smtp!.next('twice@notify.test', /password/);
    await new Promise((r) => setTimeout(r, 1000));
    expect(smtp!.mails.filter((m) => m.to.includes('twice@notify.test'))).toHaveLength(1);
  });

  it('marks a delivery dead after its attempts, and sends it when an operator retries', async () => {
    process.env.NOTIFY_MAX_ATTEMPTS = '1';
    smtp!.state.refuse = /bounce/;
    try {
      await register('bounce@notify.test');
      const dead = await waitFor(async () => (await deliveries('dead')).find((d) => d.recipient === 'b***@notify.test'), 15_000, 100);
      expect(dead.lastError).toMatch(/550/);
      smtp!.state.refuse = undefined;
      const retried = await http(base, 'POST', `/api/v1/admin/notifications/deliveries/${dead.eventId}/retry`, {}, admin);
      expect(retried.body.status).toBe('queued');
      await smtp!.next('bounce@notify.test', /Confirm your email/);
      expect((await http(base, 'POST', `/api/v1/admin/notifications/deliveries/${dead.eventId}/retry`, {}, admin)).status).toBe(409);
    } finally {
      delete process.env.NOTIFY_MAX_ATTEMPTS;
      smtp!.state.refuse = undefined;
    }
  });
});

describe('preferences and in-app', () => {
  it('skips email a user turned off, still sends security mail, and pushes in-app notifications live', async () => {
    const teacher = await register('teacher@notify.test');
    await http(base, 'POST', `/api/v1/users/${teacher.user.id}/roles`, { role: 'instructor' }, admin);
    const t = (await http(base, 'POST', '/api/v1/auth/login', { email: 'teacher@notify.test', password: pw })).body.accessToken;
    const learner = await register('quiet@notify.test');
    await http(base, 'PATCH', '/api/v1/me/preferences', { enrollments: { email: false, inApp: true, push: false, sms: false } }, learner.accessToken);

    // Live stream first, then the event.
    const ctrl = new AbortController();
    const stream = await fetch(`${base}/api/v1/me/notifications/stream`, { headers: { authorization: `Bearer ${learner.accessToken}` }, signal: ctrl.signal });
    expect(stream.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = stream.body!.getReader();
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
    await smtp!.next('quiet@notify.test', /password of your account was just changed/);
    expect(smtp!.mails.some((m) => m.to.includes('quiet@notify.test') && /Welcome to/.test(m.text))).toBe(false);

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
    const mail = await smtp!.next('clicker@notify.test', /Welcome to Loud course/);
    const headers = mail.raw.split(/\r?\n\r?\n/)[0]!.replace(/\r?\n[ \t]+/g, ' ');
    expect(headers).toMatch(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click$/m);
    const url = new URL(/^List-Unsubscribe: <([^>]+)>$/m.exec(headers)![1]!);
    // What a mail client does: a form POST to the link, no session.
    const click = await fetch(`${base}${url.pathname}${url.search}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
    expect([click.status, await click.json()]).toEqual([200, { unsubscribed: true, type: 'enrollments' }]);
    expect((await http(base, 'GET', '/api/v1/me/preferences', undefined, learner.accessToken)).body.enrollments.email).toBe(false);
    const forged = new URL(url);
    forged.searchParams.set('token', `${learner.user.id}.grades.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`);
    expect((await fetch(`${base}${forged.pathname}${forged.search}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' })).status).toBe(401);
    // Security mail has no unsubscribe link.
    const reset = await smtp!.next('clicker@notify.test', /Confirm your email/);
    expect(reset.raw).not.toMatch(/^List-Unsubscribe:/m);
  });
});
