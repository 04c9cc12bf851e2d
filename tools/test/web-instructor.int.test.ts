/**
 * The web app's instructor pages (clients/web: /teach, /teach/$courseId, /teach/$courseId/people) end to end in
 * Debian's Chromium through a real embedded LMS, as tools/test/web.int.test.ts does for learners: an instructor signs
 * in, creates a course, adds a module and two lessons, writes Markdown and sees the (safe) preview, moves a lesson
 * with the keyboard, publishes (the course reaches the public catalogue) and sees the draft's unpublished changes;
 * then bulk-enrols learners from CSV (the row report), adds a teaching assistant; and the pages at 360 px in French.
 * axe-core checks every new page in the light and the dark theme. Focus is polled from here (expect.poll), not with
 * page.waitForFunction: its polling evaluates a string in the page, which the app's CSP (no unsafe-eval) refuses.
 */
import { createLmsClient } from '@lms/client';
import { gatewayPort } from '@lms/gateway';
import { startNode, type LmsNode } from '@lms/runtime';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureWeb } from '../build-web.mjs';
import { SERVICES } from '../services.ts';
import { axe, launchChromium, openPage } from './web-browser.ts';

const PASSWORD = 'an instructor journey password';
const TITLE = 'Orienteering basics';

let node: LmsNode;
let base: string;
let browser: Browser;
let courseId = '';
let taId = '';
let teacherToken = '';
/** CSP violations and page errors seen by any page: each test ends with none. */
const problems: string[] = [];

beforeAll(async () => {
  ensureWeb();
  process.env.RATE_LIMIT_AUTH_PER_MINUTE = '1000';
  node = await startNode(Object.values(SERVICES), { mode: 'embedded', dataDir: 'memory://', port: 0, databaseUrl: undefined });
  base = `http://127.0.0.1:${gatewayPort(node.broker)}`;

  // The first account is the admin; it makes the second an instructor. Two learners and a TA have accounts.
  const anon = createLmsClient({ url: base });
  const admin = createLmsClient({
    url: base,
    token: (await anon.auth.register.mutate({ email: 'admin@teach.test', password: PASSWORD, displayName: 'Admin' })).accessToken,
  });
  const teacher = await anon.auth.register.mutate({ email: 'teacher@teach.test', password: PASSWORD, displayName: 'Teacher' });
  await admin.users.grantRole.mutate({ userId: teacher.user.id, role: 'instructor' });
  teacherToken = teacher.accessToken;
  for (const n of [1, 2]) await anon.auth.register.mutate({ email: `learner${n}@teach.test`, password: PASSWORD, displayName: `Learner ${n}` });
  taId = (await anon.auth.register.mutate({ email: 'ta@teach.test', password: PASSWORD, displayName: 'Assistant' })).user.id;

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
const focusedLabel = (page: Page) =>
  page.evaluate<string | null>("document.activeElement?.getAttribute('aria-label') ?? document.activeElement?.tagName ?? null");

async function signIn(page: Page, redirect: string, title: string | RegExp, labels = { email: 'Email', password: 'Password', submit: 'Sign in' }) {
  await page.goto(`/signin?redirect=${encodeURIComponent(redirect)}`);
  await page.getByLabel(labels.email).fill('teacher@teach.test');
  await page.getByLabel(labels.password).fill(PASSWORD);
  await page.getByRole('button', { name: labels.submit }).last().click();
  await heading(page, title);
}

describe('instructor pages in Chromium', { timeout: 60_000 }, () => {
  it('creates a course, builds its outline, writes a lesson with preview, reorders by keyboard, publishes it to the catalogue', async () => {
    const { context, page } = await newPage();
    await signIn(page, '/dashboard', 'My learning');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Teaching' }).click();
    await heading(page, 'Teaching');
    await expect.poll(() => focusedLabel(page)).toBe('H1');
    await page.getByText('You have no course yet.').waitFor();
    await axe(page, 'teaching');

    // A failed create says why (the API's code in words) and creates nothing.
    await page.getByLabel('Title').fill(TITLE);
    await page.getByLabel('Category').fill('no/slashes');
    await page.getByRole('button', { name: 'Create course' }).click();
    await page.getByRole('alert').filter({ hasText: 'Some fields are not valid.' }).waitFor();
    await page.getByLabel('Category').fill('outdoors');
    await page.getByRole('button', { name: 'Create course' }).click();
    await heading(page, `Edit: ${TITLE}`);
    courseId = new URL(page.url()).pathname.split('/')[2] ?? '';
    expect(courseId).toMatch(/^[0-9a-f-]{36}$/);
    await page.getByText('Never published').waitFor();
    await axe(page, 'editor (empty)');

    await page.getByLabel('Module title').fill('Finding north');
    await page.getByRole('button', { name: 'Add module' }).click();
    await page.getByRole('heading', { level: 3, name: 'Finding north' }).waitFor();
    for (const lesson of ['Compass', 'Map']) {
      await page.getByLabel('New lesson in Finding north').fill(lesson);
      await page.getByRole('button', { name: 'Add lesson' }).click();
      await page.getByRole('heading', { level: 2, name: `Lesson: ${lesson}` }).waitFor();
    }

    // Markdown with its preview, rendered as the player does: no raw HTML, no javascript: links.
    const editor = page.locator('section[aria-labelledby="lesson-editor"]');
    await editor
      .getByLabel('Lesson text (Markdown)')
      .fill(['## Needle', 'The **red** end points north.', '<img src="x" onerror="window.__xss = 1">', '[bad](javascript:window.__xss=1)'].join('\n\n'));
    const preview = editor.locator('.preview');
    await preview.getByRole('heading', { name: 'Needle' }).waitFor();
    expect(await preview.locator('strong').textContent()).toBe('red');
    expect(await preview.locator('img, [onerror], a[href^="javascript"]').count()).toBe(0);
    await editor.getByText('You have unsaved changes.').waitFor();
    await axe(page, 'editor (lesson and preview)');
    await editor.getByRole('button', { name: 'Save' }).click();
    await editor.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    expect(await page.evaluate('window.__xss')).toBeUndefined();

    // Move "Map" above "Compass" with the keyboard alone; focus stays on the moved lesson's controls.
    const lessons = page.getByRole('list', { name: 'Finding north' }).locator('.lesson-row-title');
    expect(await lessons.allTextContents()).toEqual(['Compass', 'Map']);
    await page.getByRole('button', { name: 'Move up: Map' }).focus();
    await page.keyboard.press('Enter');
    await page.getByText('Map moved to position 1.').waitFor();
    expect(await lessons.allTextContents()).toEqual(['Map', 'Compass']);
    await expect.poll(() => focusedLabel(page)).toBe('Move down: Map');
    await page.keyboard.press('Space'); // and back down, still from the keyboard
    await page.getByText('Map moved to position 2.').waitFor();
    expect(await lessons.allTextContents()).toEqual(['Compass', 'Map']);
    await expect.poll(() => focusedLabel(page)).toBe('Move up: Map');

    await page.getByRole('button', { name: 'Publish', exact: true }).click();
    await page.getByText('Done: the course is now Published.').waitFor();
    await page.getByText('Learners see version 1').waitFor();
    await page.getByText('Learners see the current content').waitFor();

    // A later edit is in the draft only: the page says learners still see version 1.
    await page.getByLabel('Summary').fill('Maps and compasses.');
    await page.locator('section[aria-labelledby="details"]').getByText('You have unsaved changes.').waitFor();
    await page.locator('section[aria-labelledby="details"]').getByRole('button', { name: 'Save' }).click();
    await page.locator('section[aria-labelledby="details"]').getByText('Saved.').waitFor();
    await page.getByText('Unpublished changes').waitFor();
    await page.getByRole('button', { name: 'Publish changes' }).waitFor();
    await axe(page, 'editor (published, unpublished changes)');

    // The published course is in the public catalogue.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Catalogue' }).click();
    await heading(page, 'Course catalogue');
    await page.getByRole('link', { name: TITLE }).waitFor();
    await context.close();
    expect(problems).toEqual([]);
  });

  it('people: bulk CSV enrolment with its row report, the roster, a teaching assistant added by id', async () => {
    const { context, page } = await newPage();
    await signIn(page, `/teach/${courseId}`, `Edit: ${TITLE}`);
    await page.getByRole('link', { name: 'People' }).click();
    await heading(page, `People: ${TITLE}`);
    await page.getByText('No learner yet.').waitFor();
    await axe(page, 'people');

    await page.getByLabel('Emails or CSV').fill('name,email\nOne,learner1@teach.test\nTwo,learner2@teach.test\nGhost,ghost@teach.test\nBad,not-an-email');
    await page.getByRole('button', { name: 'Enrol', exact: true }).click();
    await page.getByText('2 enrolled, 0 waitlisted, 0 already enrolled, 1 unknown, 1 invalid, 0 failed.').waitFor();
    const report = page.getByRole('region', { name: 'Report' });
    expect(await report.locator('tbody tr').count()).toBe(4);
    await report.getByRole('row', { name: /learner1@teach\.test.*Enrolled/ }).waitFor();
    await report.getByRole('row', { name: /ghost@teach\.test.*No account with this email/ }).waitFor();
    const roster = page.getByRole('region', { name: 'Learners' });
    await roster.getByRole('row', { name: /Learner 1/ }).waitFor();
    await roster.getByRole('row', { name: /Learner 2/ }).waitFor();

    await page.getByLabel('User id').fill(taId);
    await page.getByLabel('Role', { exact: true }).selectOption('ta');
    await page.getByRole('button', { name: 'Add member' }).click();
    await page.getByText('Member saved.').waitFor();
    await page
      .getByRole('region', { name: 'Members and course roles' })
      .getByRole('row', { name: /Assistant.*Teaching assistant/ })
      .waitFor();
    await axe(page, 'people (report, members)');
    await context.close();
    expect(problems).toEqual([]);
  });

  it('at 360 px in French: the three pages fit, speak French and pass axe', async () => {
    // Signed in, the profile's locale wins over the browser's: the teacher's profile says French.
    await createLmsClient({ url: base, token: teacherToken }).users.updateMe.mutate({ locale: 'fr' });
    const { context, page } = await newPage({ width: 360, height: 740, locale: 'fr-FR' });
    await signIn(page, '/teach', 'Enseigner', { email: 'Adresse e-mail', password: 'Mot de passe', submit: 'Se connecter' });
    const noOverflow = async (label: string) => expect(await page.evaluate<number>('document.documentElement.scrollWidth'), label).toBeLessThanOrEqual(360);
    await page.getByRole('link', { name: TITLE, exact: true }).waitFor();
    await noOverflow('teaching');
    await axe(page, 'teaching (fr, phone)');
    await page.getByRole('link', { name: TITLE, exact: true }).click();
    await heading(page, `Modifier : ${TITLE}`);
    await page.getByRole('link', { name: 'Modifier la leçon Map' }).click();
    await page.getByRole('heading', { level: 2, name: 'Leçon : Map' }).waitFor();
    await page.locator('.preview').getByRole('heading', { name: 'Needle' }).waitFor();
    await noOverflow('editor');
    await axe(page, 'editor (fr, phone)');
    await page.goto(`/teach/${courseId}/people`);
    await heading(page, `Participants : ${TITLE}`);
    await page.getByRole('region', { name: 'Apprenants' }).waitFor();
    await noOverflow('people');
    await axe(page, 'people (fr, phone)');
    await context.close();
    expect(problems).toEqual([]);
  });
});
