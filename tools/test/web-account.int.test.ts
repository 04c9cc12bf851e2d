/**
 * The web app's account pages (clients/web) in Debian's Chromium against a real embedded LMS, as web.int.test.ts does:
 * sign in → rename in the profile → turn on TOTP (the secret read off the page, codes from the same TOTP helper as the
 * auth tests) → sessions (another device signed out) → a notification preference and quiet hours → the inbox receiving
 * a notification live (an enrolment made through the API while the page is open) → mark read; then the email links
 * (verify email, forgot → reset password) with tokens taken from the mail an SMTP peer received. axe-core checks each
 * new page in the light and the dark theme, also at a 360 px phone width.
 */
import net from 'node:net';
import { createLmsClient, type LmsClient } from '@lms/client';
import { gatewayPort } from '@lms/gateway';
import { startNode, type LmsNode } from '@lms/runtime';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpAt } from '../../services/auth/src/domain/totp.ts';
import { ensureWeb } from '../build-web.mjs';
import { SERVICES } from '../services.ts';
import { defined, smtpPeer, tokenIn } from './support.ts';
import { axe, launchChromium, openPage, waitInPage } from './web-browser.ts';

const PASSWORD = 'an account pages password';
const PHONE_UA = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';

let node: LmsNode;
let smtp: Awaited<ReturnType<typeof smtpPeer>>;
let base: string;
let browser: Browser;
let courseId: string;
/** The learner's own API session (the one that enrols while the inbox is open). */
let learner: LmsClient;
/** The learner's "phone": a second session, signed out from the settings page. */
let phoneSessionId: string;
const problems: string[] = [];

beforeAll(async () => {
  ensureWeb();
  smtp = await smtpPeer();
  process.env.SMTP_URL = smtp.url;
  process.env.RATE_LIMIT_AUTH_PER_MINUTE = '1000';
  // A port known before the start, so that PUBLIC_URL (the links in the mails and the inbox) is this LMS's origin.
  const port = await freePort();
  process.env.PUBLIC_URL = `http://127.0.0.1:${port}`;
  node = await startNode(Object.values(SERVICES), { mode: 'embedded', dataDir: 'memory://', port, databaseUrl: undefined });
  base = `http://127.0.0.1:${gatewayPort(node.broker)}`;

  const anon = createLmsClient({ url: base });
  const admin = await anon.auth.register.mutate({ email: 'admin@account.test', password: PASSWORD, displayName: 'Admin' });
  const api = createLmsClient({ url: base, token: admin.accessToken });
  const course = await api.courses.create.mutate({
    title: 'Knots at sea',
    category: 'sailing',
    summary: 'Bowline and friends.',
    level: 'beginner',
    language: 'en',
  });
  courseId = course.id;
  const m = await api.courses.createModule.mutate({ courseId, title: 'Basics' });
  await api.courses.createLesson.mutate({ moduleId: m.id, title: 'Bowline', content: { type: 'markdown', body: 'Rabbit, hole, tree.' } });
  await api.courses.publish.mutate({ courseId });

  const s = await anon.auth.register.mutate({ email: 'learner@account.test', password: PASSWORD, displayName: 'Learner' });
  learner = createLmsClient({ url: base, token: s.accessToken });
  // A second device, with a phone's user agent so the settings page names it.
  const phoneFetch: typeof fetch = (input, init) => {
    const headers = new Headers(init?.headers);
    headers.set('user-agent', PHONE_UA);
    return fetch(input, { ...init, headers });
  };
  const phone = await createLmsClient({ url: base, fetch: phoneFetch }).auth.login.mutate({ email: 'learner@account.test', password: PASSWORD });
  if (!('sessionId' in phone)) throw new Error('expected a session');
  phoneSessionId = phone.sessionId;

  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  delete process.env.RATE_LIMIT_AUTH_PER_MINUTE;
  delete process.env.SMTP_URL;
  delete process.env.PUBLIC_URL;
  await browser?.close();
  await node?.stop();
  await smtp?.close();
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

function newPage(opts: { width?: number; height?: number; locale?: string } = {}): Promise<{ context: BrowserContext; page: Page }> {
  return openPage(browser, base, problems, opts);
}

const heading = (page: Page, name: string | RegExp) => page.getByRole('heading', { level: 1, name }).waitFor();
/** The focused element's text: where a keyboard user now is. */
const focusedText = (page: Page) => page.evaluate<string>('document.activeElement?.textContent ?? ""');

describe('the account pages in Chromium', { timeout: 90_000 }, () => {
  it('profile → TOTP → sessions → notification preferences → a notification arriving live in the inbox', async () => {
    const { context, page } = await newPage();
    await page.goto('/signin');
    await heading(page, 'Sign in');
    await page.getByLabel('Email').fill('learner@account.test');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).last().click();
    await heading(page, 'My learning');

    // Settings: the profile's new name is saved and shown in the header at once.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
    await heading(page, 'Account settings');
    await waitInPage(page, "document.activeElement?.tagName === 'H1'", 5_000);
    const profile = page.getByRole('region', { name: 'Profile' });
    await profile.getByText('not verified yet').waitFor();
    await axe(page, 'settings');
    await profile.getByRole('textbox', { name: 'Name' }).fill('Learner Renamed');
    await profile.getByRole('button', { name: 'Save' }).click();
    await profile.getByRole('status').filter({ hasText: 'Your profile is saved.' }).waitFor();
    await page.locator('.user-name', { hasText: 'Learner Renamed' }).waitFor();
    expect((await learner.users.me.query({})).displayName).toBe('Learner Renamed');

    // Two-step sign-in: password, then the secret as text (and its QR code), a code from it, the recovery codes.
    const mfa = page.getByRole('region', { name: 'Two-step sign-in' });
    await mfa.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await mfa.getByRole('button', { name: 'Turn on two-step sign-in' }).click();
    await mfa.getByRole('heading', { name: 'Add this account to your authenticator app' }).waitFor();
    expect(await focusedText(page)).toBe('Add this account to your authenticator app');
    await mfa.getByRole('img', { name: /QR code/ }).waitFor();
    const secret = (await mfa.getByTestId('totp-secret').textContent()) ?? '';
    expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
    await axe(page, 'settings (TOTP enrolment)');
    await mfa.getByLabel('Code from your authenticator app').fill('000000');
    await mfa.getByRole('button', { name: 'Confirm and turn on' }).click();
    await mfa.getByRole('alert').filter({ hasText: 'This code is not right.' }).waitFor();
    await mfa.getByLabel('Code from your authenticator app').fill(totpAt(secret, Date.now()));
    await mfa.getByRole('button', { name: 'Confirm and turn on' }).click();
    await mfa.getByRole('heading', { name: 'Your recovery codes' }).waitFor();
    expect(await focusedText(page)).toBe('Your recovery codes');
    const codes = await mfa.getByRole('list', { name: 'Your recovery codes' }).getByRole('listitem').allTextContents();
    expect(codes.length).toBeGreaterThanOrEqual(8);
    await axe(page, 'settings (recovery codes)');
    await mfa.getByRole('button', { name: 'I have kept them' }).click();
    await mfa.getByText(`Two-step sign-in is on. Recovery codes left: ${codes.length}.`).waitFor();
    expect(await learner.auth.mfaStatus.query({})).toMatchObject({ totp: true, recoveryCodesLeft: codes.length });

    // Sessions: this browser, the API's and the phone's; the phone is signed out from here.
    const sessions = page.getByRole('region', { name: 'Where you are signed in' });
    await sessions.getByText('this device').waitFor();
    await sessions.getByText('Chrome · Linux').waitFor();
    await sessions.getByRole('button', { name: /^Sign out Safari · iOS/ }).click();
    await sessions.getByText('Safari · iOS').waitFor({ state: 'detached' });
    expect((await learner.auth.sessions.query({})).items.map((s) => s.id)).not.toContain(phoneSessionId);

    // Notification preferences: announcements by email in a daily digest; quiet hours 22:00–07:00.
    await page.getByRole('link', { name: 'Notification preferences' }).click();
    await heading(page, 'Notification preferences');
    expect(await page.getByRole('group', { name: 'Security' }).getByLabel('Email').isDisabled()).toBe(true);
    await axe(page, 'notification preferences');
    await page.getByRole('group', { name: 'Announcements' }).getByLabel('Email').selectOption('daily');
    await page.getByLabel('Use quiet hours').check();
    await page.getByLabel('From').fill('22:00');
    await page.getByLabel('Until').fill('07:00');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('status').filter({ hasText: 'Your preferences are saved.' }).waitFor();
    const prefs = await learner.users.notificationPreferences.query({});
    expect(prefs.types.announcements.email).toBe('daily');
    expect(prefs.types.announcements.inApp).toBe('immediately');
    expect(prefs.quietHours).toEqual({ start: '22:00', end: '07:00' });
    await axe(page, 'notification preferences (saved)');

    // The inbox: an enrolment made elsewhere while the page is open arrives without a reload.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Notifications' }).click();
    await heading(page, 'Notifications');
    await page.getByText('updated live').waitFor();
    await page.evaluate('window.__sameDocument = true');
    await learner.enrollments.enrol.mutate({ courseId });
    const item = page.getByRole('listitem').filter({ has: page.getByRole('heading', { name: /Welcome to Knots at sea/ }) });
    await item.waitFor();
    expect(await page.evaluate('window.__sameDocument')).toBe(true);
    await page.getByRole('status').filter({ hasText: 'New notification: Welcome to Knots at sea' }).waitFor();
    expect(await item.getByRole('link').getAttribute('href')).toBe(`${base}/courses/${courseId}`);
    await axe(page, 'inbox');
    const unread = async () => Number(/Unread: (\d+)/.exec((await page.getByText(/^Unread: \d+/).textContent()) ?? '')?.[1]);
    const before = await unread();
    expect(before).toBeGreaterThanOrEqual(1);
    await item.getByRole('button', { name: 'Mark as read: Welcome to Knots at sea' }).click();
    await item.getByRole('button').waitFor({ state: 'detached' });
    expect(await unread()).toBe(before - 1);
    const server = await learner.notifications.inbox.query({ limit: 50 });
    expect(server.items.find((n) => n.title === 'Welcome to Knots at sea')?.readAt).not.toBeNull();
    expect(server.unreadCount).toBe(before - 1);
    // The link opens the course inside the app.
    await item.getByRole('link').click();
    await heading(page, 'Knots at sea');
    expect(await page.evaluate('window.__sameDocument')).toBe(true);

    // Two-step sign-in off with a recovery code; then a new password, which signs the other sessions out.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
    await heading(page, 'Account settings');
    await mfa.getByLabel('Password', { exact: true }).fill('not the password');
    await mfa.getByLabel('Code from your app, or a recovery code').fill(defined(codes[0]));
    await mfa.getByRole('button', { name: 'Turn off two-step sign-in' }).click();
    await mfa.getByRole('alert').filter({ hasText: 'The password or the code is not right.' }).waitFor();
    await mfa.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await mfa.getByRole('button', { name: 'Turn off two-step sign-in' }).click();
    await mfa.getByRole('status').filter({ hasText: 'Two-step sign-in is off.' }).waitFor();
    // The form that had focus is gone: focus goes on from the section's heading.
    await waitInPage(page, "document.activeElement?.id === 'mfa-h'", 5_000);
    expect((await learner.auth.mfaStatus.query({})).totp).toBe(false);
    const password = page.getByRole('region', { name: 'Password' });
    await password.getByLabel('Current password').fill(PASSWORD);
    await password.getByLabel('New password', { exact: true }).fill('a newer account password');
    await password.getByLabel('New password again').fill('a newer account password');
    await password.getByRole('button', { name: 'Change password' }).click();
    await password.getByRole('status').filter({ hasText: 'Your password is changed. Other sessions signed out: 1.' }).waitFor();
    await expect(learner.users.me.query({})).rejects.toThrow();
    await page.getByRole('region', { name: 'Where you are signed in' }).getByText('this device').waitFor();

    await context.close();
    expect(problems).toEqual([]);
  });

  it('the email links: verify email, forgot password → reset password; then at 360 px', async () => {
    const anon = createLmsClient({ url: base });
    await anon.auth.register.mutate({ email: 'links@account.test', password: PASSWORD, displayName: 'Links' });
    const verifyMail = await smtp.next('links@account.test', /verify-email\?token=/);
    expect(verifyMail.text).toContain(`${base}/verify-email?token=`);

    const { context, page } = await newPage();
    await page.goto(`/verify-email?token=${'x'.repeat(43)}`);
    await heading(page, 'Email verification');
    await page.getByRole('alert').filter({ hasText: 'This verification link has expired' }).waitFor();
    await axe(page, 'verify email (bad link)');
    await page.goto(`/verify-email?token=${tokenIn(verifyMail)}`);
    await page.getByRole('status').filter({ hasText: 'Your email address is verified.' }).waitFor();
    await axe(page, 'verify email');

    await page.goto('/signin');
    await heading(page, 'Sign in');
    await page.getByRole('link', { name: 'Forgot your password?' }).click();
    await heading(page, 'Reset your password');
    await axe(page, 'forgot password');
    await page.getByLabel('Email').fill('links@account.test');
    await page.getByRole('button', { name: 'Send the link' }).click();
    await page.getByRole('heading', { name: 'Check your email' }).waitFor();
    expect(await focusedText(page)).toBe('Check your email');
    const resetMail = await smtp.next('links@account.test', /reset-password\?token=/);
    expect(resetMail.text).toContain(`${base}/reset-password?token=`);

    await page.goto(`/reset-password?token=${tokenIn(resetMail)}`);
    await heading(page, 'Choose a new password');
    await axe(page, 'reset password');
    await page.getByLabel('New password', { exact: true }).fill('a brand new pass phrase');
    await page.getByLabel('New password again').fill('another pass phrase');
    await page.getByRole('button', { name: 'Set the new password' }).click();
    await page.getByRole('alert').filter({ hasText: 'The two new passwords are not the same.' }).waitFor();
    await page.getByLabel('New password again').fill('a brand new pass phrase');
    await page.getByRole('button', { name: 'Set the new password' }).click();
    await page.getByRole('heading', { name: 'Your password is changed' }).waitFor();
    const again = await anon.auth.login.mutate({ email: 'links@account.test', password: 'a brand new pass phrase' });
    expect('accessToken' in again).toBe(true);
    // The same link a second time: spent.
    await page.goto(`/reset-password?token=${tokenIn(resetMail)}`);
    await page.getByLabel('New password', { exact: true }).fill('yet another pass phrase');
    await page.getByLabel('New password again').fill('yet another pass phrase');
    await page.getByRole('button', { name: 'Set the new password' }).click();
    await page.getByRole('alert').filter({ hasText: 'This reset link has expired or was already used.' }).waitFor();
    await context.close();

    // A phone: the signed-in pages fit 360 px and pass axe there too.
    const phone = await newPage({ width: 360, height: 740 });
    await phone.page.goto('/signin');
    await phone.page.getByLabel('Email').fill('links@account.test');
    await phone.page.getByLabel('Password').fill('a brand new pass phrase');
    await phone.page.getByRole('button', { name: 'Sign in' }).last().click();
    await heading(phone.page, 'My learning');
    for (const [path, title] of [
      ['/settings', 'Account settings'],
      ['/settings/notifications', 'Notification preferences'],
      ['/notifications', 'Notifications'],
    ] as const) {
      await phone.page.goto(path);
      await heading(phone.page, title);
      await waitInPage(phone.page, "![...document.querySelectorAll('[role=status]')].some((e) => e.textContent === 'Loading…')");
      const wide = await phone.page.evaluate<string[]>(
        "[...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > 361).slice(0, 8).map((e) => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))",
      );
      expect(await phone.page.evaluate<number>('document.documentElement.scrollWidth'), `${path}: ${wide.join(', ')}`).toBeLessThanOrEqual(360);
      await axe(phone.page, `${path} (phone)`);
    }
    await phone.context.close();
    expect(problems).toEqual([]);
  });

  it('in French and with the keyboard alone: forgot password, then a spent reset link explained', async () => {
    const { context, page } = await newPage({ locale: 'fr-FR' });
    await page.goto('/signin');
    await heading(page, 'Connexion');
    await page.evaluate("for (const type of ['pointerdown', 'mousedown']) window.addEventListener(type, () => (window.__pointer = true), true)");
    const focused = () =>
      page.evaluate<{ text: string; name: string; outline: string }>(`(() => {
        const el = document.activeElement;
        return { text: el?.textContent ?? '', name: el?.getAttribute('name') ?? '', outline: el ? getComputedStyle(el).outlineStyle : 'none' };
      })()`);
    for (let i = 0; i < 30 && (await focused()).text !== 'Mot de passe oublié ?'; i++) await page.keyboard.press('Tab');
    expect(await focused()).toMatchObject({ text: 'Mot de passe oublié ?' });
    expect((await focused()).outline).not.toBe('none');
    await page.keyboard.press('Enter');
    await heading(page, 'Réinitialiser votre mot de passe');
    await waitInPage(page, "document.activeElement?.tagName === 'H1'", 5_000);
    for (let i = 0; i < 10 && (await focused()).name !== 'email'; i++) await page.keyboard.press('Tab');
    expect((await focused()).outline).not.toBe('none');
    await page.keyboard.type('nobody@account.test');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Consultez votre messagerie' }).waitFor();
    expect((await focused()).text).toBe('Consultez votre messagerie');
    expect(await page.evaluate('window.__pointer ?? false')).toBe(false);
    await axe(page, 'forgot password (fr, sent)');

    await page.goto(`/reset-password?token=${'y'.repeat(43)}`);
    await heading(page, 'Choisir un nouveau mot de passe');
    await page.getByLabel('Nouveau mot de passe', { exact: true }).fill('a brand new pass phrase');
    await page.getByLabel('Nouveau mot de passe (encore)').fill('a brand new pass phrase');
    await page.keyboard.press('Enter');
    await page.getByRole('alert').filter({ hasText: 'Ce lien de réinitialisation a expiré ou a déjà servi.' }).waitFor();
    await axe(page, 'reset password (fr, error)');
    await context.close();
    expect(problems).toEqual([]);
  });
});
