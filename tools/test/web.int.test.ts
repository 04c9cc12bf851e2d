/**
 * The web app (clients/web) end to end: the gateway serving it (shell, hashed assets, CSP, nothing else shadowed),
 * then Debian's Chromium driven by playwright-core through a real embedded LMS: the anonymous catalogue, sign up,
 * enrol, the player (safe markdown, mark complete, next lesson), the dashboard's progress; again at a 360 px phone
 * viewport with an expired session (silent refresh, then a refused refresh sending the person to sign in and back);
 * keyboard-only sign-in; French. axe-core checks every visited page in the light and the dark theme.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createLmsClient } from '@lms/client';
import { gatewayPort } from '@lms/gateway';
import { startNode, type LmsNode } from '@lms/runtime';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpAt } from '../../services/auth/src/domain/totp.ts';
import { ensureWeb } from '../build-web.mjs';
import { SERVICES } from '../services.ts';
import { defined } from './support.ts';
import { axe, CHROMIUM, launchChromium, openPage, waitInPage } from './web-browser.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const PASSWORD = 'a web journey password';

let node: LmsNode;
let base: string;
let browser: Browser;
let courseId: string;
/** CSP violations and page errors seen by any page: each test ends with none. */
const problems: string[] = [];

beforeAll(async () => {
  ensureWeb(); // cached: builds only when clients/web changed since the last build
  process.env.RATE_LIMIT_AUTH_PER_MINUTE = '1000';
  node = await startNode(Object.values(SERVICES), { mode: 'embedded', dataDir: 'memory://', port: 0, databaseUrl: undefined });
  base = `http://127.0.0.1:${gatewayPort(node.broker)}`;

  // An admin (the first account) publishes a sequential course: module 2 unlocks once module 1 is complete.
  const anon = createLmsClient({ url: base });
  const admin = await anon.auth.register.mutate({ email: 'admin@web.test', password: PASSWORD, displayName: 'Admin' });
  const api = createLmsClient({ url: base, token: admin.accessToken });
  const course = await api.courses.create.mutate({
    title: 'Cartography for beginners',
    category: 'geography',
    summary: 'Maps, scales and projections.',
    level: 'beginner',
    language: 'en',
    sequential: true,
  });
  courseId = course.id;
  const m1 = await api.courses.createModule.mutate({ courseId, title: 'Reading maps' });
  const m2 = await api.courses.createModule.mutate({ courseId, title: 'Making maps' });
  const hostile = [
    '## Scales',
    'A **scale** relates map to ground.',
    '<script>window.__xss = 1</script><img src="x" onerror="window.__xss = 1">',
    '[a bad link](javascript:window.__xss=1) and [a good one](https://example.org/maps)',
  ].join('\n\n');
  await api.courses.createLesson.mutate({ moduleId: m1.id, title: 'Scales', content: { type: 'markdown', body: hostile } });
  await api.courses.createLesson.mutate({ moduleId: m1.id, title: 'Legends', content: { type: 'markdown', body: 'Every map has a **legend**.' } });
  await api.courses.createLesson.mutate({ moduleId: m2.id, title: 'Projections', content: { type: 'markdown', body: 'Mercator and friends.' } });
  await api.courses.publish.mutate({ courseId });

  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  delete process.env.RATE_LIMIT_AUTH_PER_MINUTE;
  await browser?.close();
  await node?.stop();
});

function newPage(opts: { width?: number; height?: number; locale?: string } = {}): Promise<{ context: BrowserContext; page: Page }> {
  return openPage(browser, base, problems, opts);
}

const heading = (page: Page, name: string | RegExp) => page.getByRole('heading', { level: 1, name }).waitFor();

describe('the gateway serves the web app', () => {
  it('shell with no-cache and a CSP without inline scripts, hashed assets immutable and compressed, API paths untouched', async () => {
    const shell = await fetch(`${base}/`);
    expect(shell.status).toBe(200);
    expect(shell.headers.get('content-type')).toMatch(/text\/html/);
    expect(shell.headers.get('cache-control')).toBe('no-cache');
    const csp = defined(shell.headers.get('content-security-policy'));
    expect(csp).toMatch(/script-src 'self'(;|$)/);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
    const html = await shell.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script
    const scripts = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+\.js)"/g)].map((m) => defined(m[1]));
    expect(scripts.length).toBeGreaterThan(0);

    // The initial JavaScript (the entry and what it preloads), as sent compressed.
    let gzipped = 0;
    for (const src of scripts) {
      const res = await fetch(`${base}${src}`, { headers: { 'accept-encoding': 'gzip' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(res.headers.get('content-type')).toMatch(/javascript/);
      gzipped += fs.statSync(path.join(ROOT, 'clients/web/dist', `${src}.gz`)).size;
    }
    console.log(`web app: initial JavaScript ${(gzipped / 1024).toFixed(1)} KiB gzipped`);
    expect(gzipped).toBeLessThan(180 * 1024);
    const br = await fetch(`${base}${scripts[0]}`, { headers: { 'accept-encoding': 'br, gzip' } });
    expect(br.headers.get('content-encoding')).toBe('br');
    expect(br.headers.get('vary')).toMatch(/Accept-Encoding/);

    // A client-side route asked for by a browser: the shell; by an API client: the JSON 404 as before.
    const head = await fetch(`${base}/`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('cache-control')).toBe('no-cache');
    expect((await fetch(`${base}${scripts[0]}`, { method: 'HEAD' })).headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const deep = await fetch(`${base}/courses/${courseId}`, { headers: { accept: 'text/html,*/*' } });
    expect(deep.status).toBe(200);
    expect(deep.headers.get('cache-control')).toBe('no-cache');
    const deepJson = await fetch(`${base}/courses/${courseId}`);
    expect(deepJson.status).toBe(404);
    expect(((await deepJson.json()) as { error: { code: string } }).error.code).toBe('ROUTE_NOT_FOUND');
    for (const p of ['/api/v1/nope', '/trpc/nope', '/metrics', '/assets/missing-abc.js', '/health/nope', '/docs/nope']) {
      const res = await fetch(`${base}${p}`, { headers: { accept: 'text/html' } });
      expect(res.status, p).toBe(404);
      expect(res.headers.get('content-type'), p).toMatch(/json/);
    }
    // /verify/{code} is the server's own page (certificates): never the app's shell.
    expect(await (await fetch(`${base}/verify/NOPE`, { headers: { accept: 'text/html' } })).text()).not.toContain('id="root"');
    const live = await fetch(`${base}/health/live`);
    expect(live.status).toBe(200);
    const catalog = await fetch(`${base}/api/v1/catalog`, { headers: { accept: 'text/html' } });
    expect(catalog.status).toBe(200);
    expect(((await catalog.json()) as { items: unknown[] }).items).toHaveLength(1);
    expect((await fetch(`${base}/openapi.json`)).headers.get('content-type')).toMatch(/json/);
  });
});

describe('in Chromium', { timeout: 90_000 }, () => {
  it('anonymous catalogue → sign up → enrol → player (safe markdown, complete, next) → dashboard progress', async () => {
    const { context, page } = await newPage();
    await page.goto('/');
    await heading(page, 'Course catalogue');
    await page.getByRole('link', { name: 'Cartography for beginners' }).waitFor();
    await axe(page, 'catalogue');
    // Searching narrows the list through the API's filter.
    await page.getByRole('searchbox', { name: 'Search courses' }).fill('nothing like this');
    await page.keyboard.press('Enter');
    await page.getByText('No course matches.').waitFor();
    await page.getByRole('searchbox', { name: 'Search courses' }).fill('cartography');
    await page.keyboard.press('Enter');
    await page.getByRole('link', { name: 'Cartography for beginners' }).click();
    await heading(page, 'Cartography for beginners');
    await axe(page, 'course (signed out)');

    await page.getByRole('link', { name: 'Sign in to enrol' }).click();
    await heading(page, 'Sign in');
    await axe(page, 'sign in');
    await page.getByRole('main').getByRole('link', { name: 'Sign up' }).click();
    await heading(page, 'Create an account');
    await axe(page, 'sign up');
    await page.getByLabel('Name').fill('Learner One');
    await page.getByLabel('Email').fill('learner@web.test');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();

    // Back on the course page, signed in.
    await heading(page, 'Cartography for beginners');
    await page.getByRole('button', { name: 'Enrol' }).click();
    await page.getByText('You are enrolled.').waitFor();
    await axe(page, 'course (enrolled)');
    await page.getByRole('link', { name: 'Go to the course' }).click();

    await heading(page, 'Cartography for beginners');
    await page.locator('#lesson-title', { hasText: 'Scales' }).waitFor();
    const prose = page.locator('.prose');
    await prose.getByRole('heading', { name: 'Scales' }).waitFor();
    expect(await prose.locator('strong').first().textContent()).toBe('scale');
    expect(await prose.locator('script, img[onerror], [onerror]').count()).toBe(0);
    expect(await page.evaluate('window.__xss')).toBeUndefined();
    expect(await prose.getByRole('link', { name: 'a good one' }).getAttribute('href')).toBe('https://example.org/maps');
    expect((await prose.locator('a').allTextContents()).join()).toContain('a bad link');
    expect(await prose.locator('a[href^="javascript"]').count()).toBe(0);
    // Module 2 is locked until module 1 is complete (a sequential course).
    await page.getByRole('navigation', { name: 'Course outline' }).getByText('Projections (locked)').waitFor();
    await axe(page, 'player');

    await page.getByRole('button', { name: 'Mark as complete' }).click();
    await page.getByRole('status').filter({ hasText: 'Completed' }).waitFor();
    await page.getByRole('link', { name: 'Next lesson: Legends' }).click();
    await page.locator('#lesson-title', { hasText: 'Legends' }).waitFor();
    await page.getByRole('button', { name: 'Mark as complete' }).click();
    await page.getByRole('link', { name: 'Next lesson: Projections' }).waitFor(); // unlocked now
    await axe(page, 'player (module 1 done)');

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'My learning' }).click();
    await heading(page, 'My learning');
    const bar = page.getByRole('progressbar', { name: 'Progress' });
    await bar.waitFor();
    expect(Number(await bar.getAttribute('aria-valuenow'))).toBeGreaterThanOrEqual(66);
    await page.getByText('Next: Projections').waitFor();
    await axe(page, 'dashboard');

    // The theme switch overrides the system's and is remembered.
    // React Aria's Switch: a visually hidden checkbox in a label; press the label as a person would.
    expect(await page.getByRole('switch', { name: 'Dark theme' }).isChecked()).toBe(false);
    await page.locator('label.switch').click();
    expect(await page.getByRole('switch', { name: 'Dark theme' }).isChecked()).toBe(true);
    expect(await page.evaluate('document.documentElement.dataset.theme')).toBe('dark');
    await page.reload();
    await heading(page, 'My learning');
    expect(await page.evaluate('document.documentElement.dataset.theme')).toBe('dark');
    await axe(page, 'dashboard (dark picked)');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await heading(page, 'Course catalogue');
    await page.getByRole('link', { name: 'Sign in' }).first().waitFor();
    expect(await page.evaluate('localStorage.getItem("lms.session")')).toBeNull();
    await context.close();
    expect(problems).toEqual([]);
  });

  it('at 360×740: no sideways scrolling; an expired token refreshes silently; a refused refresh signs in again and comes back', async () => {
    const { context, page } = await newPage({ width: 360, height: 740 });
    await page.goto('/signin');
    await heading(page, 'Sign in');
    await page.getByLabel('Email').fill('learner@web.test');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await heading(page, 'My learning');
    const noOverflow = async (label: string) => expect(await page.evaluate<number>('document.documentElement.scrollWidth'), label).toBeLessThanOrEqual(360);
    await noOverflow('dashboard');
    await axe(page, 'dashboard (phone)');

    // The access token expired: the next call refreshes it first, unseen.
    const before = await page.evaluate(() => JSON.parse(localStorage.getItem('lms.session') ?? '{}') as { refreshToken: string });
    await page.evaluate(() => {
      const s = JSON.parse(localStorage.getItem('lms.session') ?? '{}') as { accessExpiresAt: number; accessToken: string };
      localStorage.setItem('lms.session', JSON.stringify({ ...s, accessExpiresAt: Date.now() - 1000, accessToken: 'expired' }));
    });
    await page.goto(`/learn/${courseId}`);
    await heading(page, 'Cartography for beginners');
    await page.locator('#lesson-title', { hasText: 'Projections' }).waitFor(); // the next lesson
    const after = await page.evaluate(() => JSON.parse(localStorage.getItem('lms.session') ?? '{}') as { refreshToken: string; accessToken: string });
    expect(after.refreshToken).not.toBe(before.refreshToken);
    expect(after.accessToken).not.toBe('expired');
    await noOverflow('player');
    await axe(page, 'player (phone)');
    await page.goto(`/courses/${courseId}`);
    await heading(page, 'Cartography for beginners');
    await noOverflow('course');
    await axe(page, 'course (phone)');

    // The refresh token is refused (revoked, expired): sign in, then back to the same page.
    await page.evaluate(() => {
      const s = JSON.parse(localStorage.getItem('lms.session') ?? '{}') as object;
      localStorage.setItem('lms.session', JSON.stringify({ ...s, accessExpiresAt: Date.now() - 1000, accessToken: 'expired', refreshToken: 'x'.repeat(40) }));
    });
    await page.goto(`/learn/${courseId}?lesson=`);
    await heading(page, 'Sign in');
    await page.getByText('Your session ended. Sign in again to continue.').waitFor();
    await noOverflow('sign in');
    await page.getByLabel('Email').fill('learner@web.test');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await heading(page, 'Cartography for beginners');
    expect(new URL(page.url()).pathname).toBe(`/learn/${courseId}`);
    await context.close();
    expect(problems).toEqual([]);
  });

  it('signs in with the keyboard alone (no pointer events), focus visible on each field', async () => {
    const { context, page } = await newPage();
    await page.goto('/signin');
    await heading(page, 'Sign in');
    await page.evaluate("for (const type of ['pointerdown', 'mousedown']) window.addEventListener(type, () => (window.__pointer = true), true)");
    const focused = () =>
      page.evaluate<{ name: string; outline: string }>(`(() => {
        const el = document.activeElement;
        return { name: el?.getAttribute('name') ?? el?.textContent ?? '', outline: el ? getComputedStyle(el).outlineStyle : 'none' };
      })()`);

    for (let i = 0; i < 30 && (await focused()).name !== 'email'; i++) await page.keyboard.press('Tab');
    expect((await focused()).name).toBe('email');
    expect((await focused()).outline).not.toBe('none');
    await page.keyboard.type('learner@web.test');
    await page.keyboard.press('Tab');
    expect((await focused()).name).toBe('password');
    expect((await focused()).outline).not.toBe('none');
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press('Enter');
    await heading(page, 'My learning');
    // Focus moved to the new page's heading.
    await waitInPage(page, "document.activeElement?.tagName === 'H1'", 5_000);
    expect(await page.evaluate('window.__pointer ?? false')).toBe(false);
    await context.close();
    expect(problems).toEqual([]);
  });

  it('asks for the authenticator code when the account uses two-step sign-in', async () => {
    const anon = createLmsClient({ url: base });
    const s = await anon.auth.register.mutate({ email: 'totp@web.test', password: PASSWORD, displayName: 'Two Step' });
    const api = createLmsClient({ url: base, token: s.accessToken });
    const { secret } = await api.auth.mfaEnrol.mutate({ password: PASSWORD });
    await api.auth.mfaConfirm.mutate({ code: totpAt(secret, Date.now()) });

    const { context, page } = await newPage();
    await page.goto('/signin');
    await heading(page, 'Sign in');
    await page.getByLabel('Email').fill('totp@web.test');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).last().click();
    await heading(page, 'Two-step sign-in');
    await axe(page, 'sign in (TOTP step)');
    await page.getByLabel('Code from your authenticator app').fill('000000');
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('alert').filter({ hasText: 'This code is not right.' }).waitFor();
    // The enrolment used this time step's code; the next step's is accepted (one step of drift).
    await page.getByLabel('Code from your authenticator app').fill(totpAt(secret, Date.now() + 30_000));
    await page.getByRole('button', { name: 'Verify' }).click();
    await heading(page, 'My learning');
    await context.close();
    expect(problems).toEqual([]);
  });

  it('speaks French when the browser does, API errors included', async () => {
    const { context, page } = await newPage({ locale: 'fr-FR' });
    await page.goto('/signin');
    await heading(page, 'Connexion');
    expect(await page.evaluate('document.documentElement.lang')).toBe('fr');
    await page.getByLabel('Adresse e-mail').fill('learner@web.test');
    await page.getByLabel('Mot de passe').fill('not the password');
    await page.getByRole('button', { name: 'Se connecter' }).last().click();
    await page.getByRole('alert').filter({ hasText: 'L’adresse e-mail ou le mot de passe est incorrect.' }).waitFor();
    await axe(page, 'sign in (fr, error)');
    await context.close();
    expect(problems).toEqual([]);
  });
});

// Chromium is Debian's (apt-get install chromium; tools/ensure.mjs and .ci/run install it); say so when it is missing.
if (!fs.existsSync(CHROMIUM)) {
  try {
    execFileSync('chromium', ['--version']);
  } catch {
    throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  }
}
