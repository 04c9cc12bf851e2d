/**
 * Email verification, password reset and TOTP on the real stack: PostgreSQL, Redis (throttles),
 * NATS JetStream (notification.requested) and an SMTP server (smtp-server) that receives the mail.
 */
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpAt } from '../../services/auth/src/domain/totp.ts';
import { SERVICES } from '../services.ts';
import { drained, http, meshNode, query, smtpPeer, tokenIn, waitFor } from './support.ts';

let stack: Awaited<ReturnType<typeof meshNode>>;
let smtp: Awaited<ReturnType<typeof smtpPeer>>;
let base: string;
const pw = 'identity suite password';

beforeAll(async () => {
  smtp = await smtpPeer();
  process.env.SMTP_URL = smtp.url;
  process.env.LMS_MFA_REQUIRED_ROLES = 'admin';
  process.env.RATE_LIMIT_AUTH_PER_MINUTE = '1000'; // the gateway's per-IP limit on /auth is not under test here
  stack = await meshNode(Object.values(SERVICES));
  base = stack.base;
  await register('root@identity.test'); // the first account: admin
});
afterAll(async () => {
  await stack?.stop();
  await smtp?.close();
  delete process.env.SMTP_URL;
  delete process.env.LMS_MFA_REQUIRED_ROLES;
  delete process.env.RATE_LIMIT_AUTH_PER_MINUTE;
});

async function register(email: string, password = pw) {
  const r = await http(base, 'POST', '/api/v1/auth/register', { email, password, displayName: 'Someone' });
  expect(r.status).toBe(201);
  return r.body;
}
const login = (email: string, password = pw) => http(base, 'POST', '/api/v1/auth/login', { email, password });
const forgot = (email: string) => http(base, 'POST', '/api/v1/auth/password/forgot', { email });

const sql = (q: string, params: unknown[] = []) => query(stack.databaseUrl, q, params);

describe('email verification', () => {
  it('mails a single-use link through notification.requested and SMTP; following it marks the profile verified', async () => {
    const s = await register('vera@identity.test');
    const mail = await smtp.next('vera@identity.test', /Confirm your email/);
    const token = tokenIn(mail);
    expect(token).toMatch(/^[\w-]{43}$/);
    expect((await http(base, 'GET', '/api/v1/me', undefined, s.accessToken)).body.emailVerified).toBe(false);

    const ok = await http(base, 'POST', '/api/v1/auth/email/verify', { token });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ verified: true, userId: s.user.id });
    const again = await http(base, 'POST', '/api/v1/auth/email/verify', { token });
    expect(again.status).toBe(401);
    expect(again.body.error.code).toBe('TOKEN_INVALID');
    await waitFor(async () => (await http(base, 'GET', '/api/v1/me', undefined, s.accessToken)).body.emailVerified === true);
    expect((await http(base, 'POST', '/api/v1/auth/email/verify', { token: 'x'.repeat(43) })).status).toBe(401);
    // Only the hash is stored: the token itself is nowhere in the database.
    expect(await sql('select 1 from auth.email_tokens where token_hash = $1', [token])).toEqual([]);
  });

  it('resends only to unverified accounts, and the newest link replaces the old one', async () => {
    const s = await register('rex@identity.test');
    const first = tokenIn(await smtp.next('rex@identity.test', /Confirm your email/));
    const resend = await http(base, 'POST', '/api/v1/auth/email/verify/resend', {}, s.accessToken);
    expect(resend).toMatchObject({ status: 202, body: { sent: true } });
    const second = tokenIn(await smtp.next('rex@identity.test', new RegExp(`verify-email\\?token=(?!${first})`)));
    expect(second).not.toBe(first);
    expect((await http(base, 'POST', '/api/v1/auth/email/verify', { token: first })).status).toBe(401);
    expect((await http(base, 'POST', '/api/v1/auth/email/verify', { token: second })).status).toBe(200);
    expect((await http(base, 'POST', '/api/v1/auth/email/verify/resend', {}, s.accessToken)).body).toEqual({ sent: false });
  });
});

describe('password reset', () => {
  it('answers an unknown email exactly like a known one, and mails only the account', async () => {
    await register('kim@identity.test');
    const unknown = await forgot('nobody@identity.test');
    const known = await forgot('kim@identity.test');
    expect([unknown.status, unknown.body]).toEqual([202, { accepted: true }]);
    expect([known.status, known.body]).toEqual([known.status, unknown.body]);
    await smtp.next('kim@identity.test', /Reset your password/);
    await drained(stack.pipeline);
    expect(smtp.mails.some((m) => m.to.includes('nobody@identity.test'))).toBe(false);
  });

  it('sets a new password with the token once, ends every session, and the old password stops working', async () => {
    await register('rob@identity.test');
    const before = (await login('rob@identity.test')).body;
    await forgot('rob@identity.test');
    const token = tokenIn(await smtp.next('rob@identity.test', /Reset your password/));

    const weak = await http(base, 'POST', '/api/v1/auth/password/reset', { token, newPassword: 'password12' });
    expect(weak.status).toBe(422); // refused before the token is spent
    const ok = await http(base, 'POST', '/api/v1/auth/password/reset', { token, newPassword: 'a brand new secret phrase' });
    expect(ok.status).toBe(200);
    expect(ok.body.sessionsRevoked).toBeGreaterThanOrEqual(2); // registration's and the login's
    const reuse = await http(base, 'POST', '/api/v1/auth/password/reset', { token, newPassword: 'yet another secret phrase' });
    expect(reuse.status).toBe(401);
    expect(reuse.body.error.code).toBe('TOKEN_INVALID');

    expect((await login('rob@identity.test')).status).toBe(401);
    expect((await login('rob@identity.test', 'a brand new secret phrase')).status).toBe(200);
    expect((await http(base, 'POST', '/api/v1/auth/refresh', { refreshToken: before.refreshToken })).status).toBe(401);
    expect((await http(base, 'GET', '/api/v1/me', undefined, before.accessToken)).status).toBe(401);
    await smtp.next('rob@identity.test', /password was changed/);
  });

  it('expires links, and a password change voids a link sent before it', async () => {
    const s = await register('eve@identity.test');
    await forgot('eve@identity.test');
    const stale = tokenIn(await smtp.next('eve@identity.test', /Reset your password/));
    const changed = await http(base, 'POST', '/api/v1/auth/password', { currentPassword: pw, newPassword: 'changed in the meantime' }, s.accessToken);
    expect(changed.status).toBe(200);
    expect((await http(base, 'POST', '/api/v1/auth/password/reset', { token: stale, newPassword: 'attacker chosen phrase' })).status).toBe(401);

    await forgot('eve@identity.test');
    const fresh = tokenIn(await smtp.next('eve@identity.test', new RegExp(`Reset your password[\\s\\S]*token=(?!${stale})`)));
    await sql(`update auth.email_tokens set expires_at = now() - interval '1 second' where user_id = $1`, [s.user.id]);
    expect((await http(base, 'POST', '/api/v1/auth/password/reset', { token: fresh, newPassword: 'too late for this one' })).status).toBe(401);
  });

  it('throttles reset requests per account in Redis: 429 with Retry-After, known or not', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await forgot('flood@identity.test')).status);
    expect(statuses).toEqual([202, 202, 202, 202, 202, 429]);
    const last = await forgot('flood@identity.test');
    expect(Number(last.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

/** Enrols TOTP for a signed-in user; answers the secret and the recovery codes. */
async function enrol(accessToken: string, password = pw) {
  const e = await http(base, 'POST', '/api/v1/auth/mfa/totp', { password }, accessToken);
  expect(e.status).toBe(200);
  const c = await http(base, 'POST', '/api/v1/auth/mfa/totp/confirm', { code: totpAt(e.body.secret, Date.now()) }, accessToken);
  expect(c.status).toBe(200);
  return { secret: e.body.secret as string, recoveryCodes: c.body.recoveryCodes as string[] };
}

describe('TOTP', () => {
  it('enrols with the password and a code, then asks for the second factor at every login', async () => {
    const s = await register('tom@identity.test');
    expect((await http(base, 'POST', '/api/v1/auth/mfa/totp', { password: 'not my password' }, s.accessToken)).status).toBe(401);
    const e = await http(base, 'POST', '/api/v1/auth/mfa/totp', { password: pw }, s.accessToken);
    expect(e.body.otpauthUri).toMatch(/^otpauth:\/\/totp\/LMS:tom%40identity\.test\?secret=[A-Z2-7]{32}&issuer=LMS/);
    expect(e.body.qrCodeSvg).toContain('<svg');
    const wrong = await http(base, 'POST', '/api/v1/auth/mfa/totp/confirm', { code: totpAt(e.body.secret, Date.now() + 10 * 60_000) }, s.accessToken);
    expect(wrong.status).toBe(401);
    const c = await http(base, 'POST', '/api/v1/auth/mfa/totp/confirm', { code: totpAt(e.body.secret, Date.now()) }, s.accessToken);
    expect(c.status).toBe(200);
    expect(c.body.recoveryCodes).toHaveLength(10);
    await smtp.next('tom@identity.test', /Two-step sign-in is on/);
    // The seed is sealed at rest.
    const [row] = await sql('select secret_sealed from auth.mfa_totp where user_id = $1', [s.user.id]);
    expect(row?.secret_sealed).toMatch(/^v1\./);
    expect(row?.secret_sealed).not.toContain(e.body.secret);

    const challenge = await login('tom@identity.test');
    expect(challenge.status).toBe(200);
    expect(challenge.body).toMatchObject({ mfaRequired: true, methods: ['totp', 'recovery_code'] });
    expect(challenge.body.accessToken).toBeUndefined();
    const bad = await http(base, 'POST', '/api/v1/auth/mfa/verify', { mfaToken: challenge.body.mfaToken, code: '000000' });
    expect(bad.status).toBe(401);
    // The enrolment used this time step's code; the next step's is accepted (one step of drift).
    const code = totpAt(e.body.secret, Date.now() + 30_000);
    const ok = await http(base, 'POST', '/api/v1/auth/mfa/verify', { mfaToken: challenge.body.mfaToken, code });
    expect(ok.status).toBe(200);
    expect(decodeJwt(ok.body.accessToken).amr).toEqual(['pwd', 'otp']);
    // The challenge is spent, and the same code does not work twice.
    expect((await http(base, 'POST', '/api/v1/auth/mfa/verify', { mfaToken: challenge.body.mfaToken, code })).status).toBe(401);
    const again = (await login('tom@identity.test')).body;
    expect((await http(base, 'POST', '/api/v1/auth/mfa/verify', { mfaToken: again.mfaToken, code })).status).toBe(401);

    // A recovery code works once, in any case and without its dash.
    const rc = c.body.recoveryCodes[0] as string;
    const viaCode = await http(base, 'POST', '/api/v1/auth/mfa/verify', { mfaToken: again.mfaToken, recoveryCode: rc.toUpperCase().replace('-', '') });
    expect(viaCode.status).toBe(200);
    const third = (await login('tom@identity.test')).body;
    expect((await http(base, 'POST', '/api/v1/auth/mfa/verify', { mfaToken: third.mfaToken, recoveryCode: rc })).status).toBe(401);
    // Refreshing keeps the session's second factor.
    const refreshed = await http(base, 'POST', '/api/v1/auth/refresh', { refreshToken: ok.body.refreshToken });
    expect(decodeJwt(refreshed.body.accessToken).amr).toEqual(['pwd', 'otp']);
    const status = await http(base, 'GET', '/api/v1/auth/mfa', undefined, refreshed.body.accessToken);
    expect(status.body).toEqual({ totp: true, recoveryCodesLeft: 9, required: false, thisSessionUsedMfa: true });
  });

  it('throttles wrong codes per account: after 5, even the right code waits (429)', async () => {
    const s = await register('tess@identity.test');
    const { secret } = await enrol(s.accessToken);
    let challenge = (await login('tess@identity.test')).body;
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) codes.push((await http(base, 'POST', '/api/v1/auth/mfa/verify', { mfaToken: challenge.mfaToken, code: '000000' })).status);
    expect(codes).toEqual([401, 401, 401, 401, 401]);
    challenge = (await login('tess@identity.test')).body;
    const locked = await http(base, 'POST', '/api/v1/auth/mfa/verify', { mfaToken: challenge.mfaToken, code: totpAt(secret, Date.now() + 30_000) });
    expect(locked.status).toBe(429);
    expect(locked.body.error.code).toBe('RATE_LIMITED');
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('turns off with the password and a recovery code; logins are one step again', async () => {
    const s = await register('tina@identity.test');
    const { recoveryCodes } = await enrol(s.accessToken);
    const noCode = await http(base, 'POST', '/api/v1/auth/mfa/totp/disable', { password: pw, code: '000000' }, s.accessToken);
    expect(noCode.status).toBe(401);
    const off = await http(base, 'POST', '/api/v1/auth/mfa/totp/disable', { password: pw, recoveryCode: recoveryCodes[3] }, s.accessToken);
    expect(off).toMatchObject({ status: 200, body: { disabled: true } });
    expect((await login('tina@identity.test')).body.accessToken).toBeTruthy();
    expect(await sql('select 1 from auth.recovery_codes where user_id = $1', [s.user.id])).toEqual([]);
  });

  it('lets admins use their powers only in a session that used a second factor (LMS_MFA_REQUIRED_ROLES)', async () => {
    const s = (await login('root@identity.test')).body;
    const denied = await http(base, 'GET', '/api/v1/users', undefined, s.accessToken);
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('MFA_REQUIRED');
    expect((await http(base, 'GET', '/api/v1/auth/mfa', undefined, s.accessToken)).body).toMatchObject({ totp: false, required: true });
    const { secret } = await enrol(s.accessToken);
    const challenge = (await login('root@identity.test')).body;
    const verified = await http(base, 'POST', '/api/v1/auth/mfa/verify', { mfaToken: challenge.mfaToken, code: totpAt(secret, Date.now() + 30_000) });
    expect(verified.body).toMatchObject({ accessToken: expect.any(String) });
    const strong = verified.body;
    expect((await http(base, 'GET', '/api/v1/users', undefined, strong.accessToken)).status).toBe(200);
    // The audit log has the MFA changes, readable by the admin now.
    const audit = await waitFor(async () => {
      const r = await http(base, 'GET', '/api/v1/audit?type=auth.mfa_changed', undefined, strong.accessToken);
      return r.body.items?.length >= 4 && r.body;
    });
    expect(audit.items.map((e: { data: { change: string } }) => e.data.change)).toEqual(expect.arrayContaining(['enabled', 'disabled', 'recovery_code_used']));
  });
});
