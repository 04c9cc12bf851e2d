/**
 * The web app's search (issue 16) end to end, in Debian's Chromium driven by playwright-core through a real embedded
 * LMS (lexical search: SEARCH_EMBEDDER=off in tests): an instructor publishes two courses; a visitor types a prefix
 * in the header's search box, picks a suggestion with the keyboard, gets the results page with a highlighted snippet,
 * filters by a facet, opens a hit (the click is recorded) and lands on the course; a misspelling offers "did you
 * mean"; French empty state; a 360 px phone; axe-core on /search in the light and the dark theme.
 */
import { createLmsClient } from '@lms/client';
import { gatewayPort } from '@lms/gateway';
import { startNode, type LmsNode } from '@lms/runtime';
import { type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureWeb } from '../build-web.mjs';
import { SERVICES } from '../services.ts';
import { axe, launchChromium, openPage } from './web-browser.ts';

const PASSWORD = 'a web search password';

let node: LmsNode;
let base: string;
let browser: Browser;
let admin: ReturnType<typeof createLmsClient>;
let paintingId: string;
const problems: string[] = [];

beforeAll(async () => {
  ensureWeb();
  process.env.RATE_LIMIT_AUTH_PER_MINUTE = '1000';
  node = await startNode(Object.values(SERVICES), { mode: 'embedded', dataDir: 'memory://', port: 0, databaseUrl: undefined });
  base = `http://127.0.0.1:${gatewayPort(node.broker)}`;

  // The first account is the admin; it makes a second one an instructor, who publishes two courses.
  const anon = createLmsClient({ url: base });
  const a = await anon.auth.register.mutate({ email: 'admin@search.test', password: PASSWORD, displayName: 'Admin' });
  admin = createLmsClient({ url: base, token: a.accessToken });
  const i = await anon.auth.register.mutate({ email: 'teacher@search.test', password: PASSWORD, displayName: 'Teacher' });
  await admin.users.grantRole.mutate({ userId: i.user.id, role: 'instructor' });
  const relogged = await anon.auth.login.mutate({ email: 'teacher@search.test', password: PASSWORD });
  if (!('accessToken' in relogged)) throw new Error('the instructor has no MFA: a session was expected');
  const teacher = createLmsClient({ url: base, token: relogged.accessToken });

  const publish = async (c: { title: string; category: string; level: 'beginner' | 'advanced'; tags: string[]; lesson: string; body: string }) => {
    const course = await teacher.courses.create.mutate({
      title: c.title,
      category: c.category,
      summary: `${c.title}, step by step.`,
      level: c.level,
      language: 'en',
      tags: c.tags,
    });
    const m = await teacher.courses.createModule.mutate({ courseId: course.id, title: 'First steps' });
    await teacher.courses.createLesson.mutate({ moduleId: m.id, title: c.lesson, content: { type: 'markdown', body: c.body } });
    await teacher.courses.publish.mutate({ courseId: course.id });
    return course.id;
  };
  paintingId = await publish({
    title: 'Watercolour painting',
    category: 'art',
    level: 'beginner',
    tags: ['painting'],
    lesson: 'Washes',
    body: 'A flat wash of watercolour covers the paper evenly.',
  });
  await publish({
    title: 'Watchmaking essentials',
    category: 'craft',
    level: 'advanced',
    tags: ['tools'],
    lesson: 'Escapements',
    body: 'The escapement of a watch.',
  });
  // Indexing follows publication through events: wait until both are found.
  for (let tries = 0; ; tries++) {
    const r = await anon.search.query.query({ q: 'watercolour' });
    const s = await anon.search.suggest.query({ q: 'Wat' });
    if (r.hits.some((h) => h.courseId === paintingId && h.type === 'course') && s.suggestions.length >= 2) break;
    if (tries > 100) throw new Error(`not indexed: ${JSON.stringify(r.hits.map((h) => h.title))}`);
    await new Promise((res) => setTimeout(res, 100));
  }

  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  delete process.env.RATE_LIMIT_AUTH_PER_MINUTE;
  await browser?.close();
  await node?.stop();
});

async function newPage(opts: { width?: number; locale?: string } = {}): Promise<Page> {
  return (await openPage(browser, base, problems, opts)).page;
}

const heading = (page: Page, name: string | RegExp) => page.getByRole('heading', { level: 1, name }).waitFor();

describe('search in the web app', { timeout: 60_000 }, () => {
  it('header autocomplete by keyboard → results with a highlighted snippet → facet → open a hit (click recorded)', async () => {
    const page = await newPage();
    await page.goto('/');
    await heading(page, 'Course catalogue');
    const box = page.getByRole('combobox', { name: 'Search' });
    await box.focus();
    await page.keyboard.type('Wat');
    const list = page.getByRole('listbox', { name: 'Suggestions' });
    await list.getByRole('option', { name: /Watercolour painting/ }).waitFor();
    expect(await box.getAttribute('aria-expanded')).toBe('true');
    await axe(page, 'catalogue with the suggestions open');
    // Arrow down until the active option (aria-activedescendant) is the painting course.
    for (let i = 0; i < 8; i++) {
      await page.keyboard.press('ArrowDown');
      const active = await box.getAttribute('aria-activedescendant');
      expect(active).toBeTruthy();
      if ((await page.locator(`[id="${active}"]`).textContent())?.includes('Watercolour painting')) break;
    }
    await page.keyboard.press('Enter');
    await heading(page, 'Results for “Watercolour painting”');
    expect(new URL(page.url()).pathname).toBe('/search');
    expect(new URL(page.url()).searchParams.get('q')).toBe('Watercolour painting');
    await page
      .getByRole('status')
      .filter({ hasText: /results? for “Watercolour painting”/ })
      .waitFor();
    // The snippet's matches are <mark> elements built by React (the text around them is text).
    await expect.poll(() => page.locator('.snippet mark').count()).toBeGreaterThan(0);
    expect((await page.locator('.snippet mark').first().textContent())?.toLowerCase()).toMatch(/watercolour|painting/);
    await axe(page, '/search');

    // A facet: only courses. The URL says so and every hit is labelled Course.
    await page
      .getByRole('group', { name: 'Type' })
      .getByRole('checkbox', { name: /Course/ })
      .check();
    await expect.poll(() => new URL(page.url()).searchParams.get('type')).toBe('course');
    await expect.poll(async () => [...new Set(await page.locator('.hit-type').allTextContents())]).toEqual(['Course']);
    await page.getByRole('group', { name: 'Category' }).getByRole('checkbox', { name: /art/ }).check();
    await expect.poll(() => new URL(page.url()).searchParams.get('category')).toBe('art');

    await page.getByRole('link', { name: 'Watercolour painting' }).click();
    await heading(page, 'Watercolour painting');
    expect(new URL(page.url()).pathname).toBe(`/courses/${paintingId}`);
    await expect
      .poll(async () => (await admin.search.analytics.query({})).top.find((t) => t.query.toLowerCase() === 'watercolour painting')?.clicks ?? 0)
      .toBe(1);
    expect(problems).toEqual([]);
  });

  it('a misspelling offers "did you mean"; French; 360 px', async () => {
    const page = await newPage({ width: 360 });
    await page.goto('/search?q=watercolur');
    await heading(page, 'Results for “watercolur”');
    const suggestion = page.getByRole('link', { name: 'watercolour', exact: true });
    await suggestion.waitFor();
    await axe(page, '/search (did you mean, 360 px)');
    expect(await page.evaluate<boolean>('document.documentElement.scrollWidth <= 360')).toBe(true);
    await suggestion.click();
    await heading(page, 'Results for “watercolour”');
    // Lessons are searchable by their learners only: an anonymous visitor gets the course and its module.
    await page.locator('.hit').filter({ hasText: 'Module' }).getByRole('link', { name: 'First steps' }).first().waitFor();

    const fr = await newPage({ locale: 'fr-FR' });
    await fr.goto('/search?q=zzqqxx');
    await heading(fr, 'Résultats pour « zzqqxx »');
    await fr.getByText('Rien ne correspond à « zzqqxx »').waitFor();
    await fr.getByRole('combobox', { name: 'Rechercher' }).waitFor();
    await axe(fr, '/search (French, nothing found)');
    expect(problems).toEqual([]);
  });
});
