/**
 * What the browser tests of the web app share (tools/test/web*.int.test.ts): Debian's Chromium driven by
 * playwright-core, a page that records CSP violations and page errors, and axe-core in the light and the dark theme.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';

/** Debian's chromium (installed by .ci/run and `pnpm test` when missing): Playwright's own browser download does not work here. */
export const CHROMIUM = '/usr/bin/chromium';

const axeSource = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** Headless Chromium; Playwright gives each launch a fresh profile of its own (a temporary --user-data-dir). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * A page in a context of its own on `base`, whose CSP violations and page errors go into `problems` (each test ends
 * with none).
 */
export async function openPage(
  browser: Browser,
  base: string,
  problems: string[],
  opts: { width?: number; height?: number; locale?: string } = {},
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    viewport: { width: opts.width ?? 1280, height: opts.height ?? 800 },
    locale: opts.locale ?? 'en-US',
    baseURL: base,
  });
  // A step that does not happen fails with its locator well before the test's own timeout.
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text()))
      problems.push(`console: ${m.text()} at ${m.location().url}:${m.location().lineNumber} on ${page.url()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  return { context, page };
}

/** Runs in the page (a string: the tests are type-checked without the DOM's types): each violation and where. */
const AXE_RUN = `(async () => {
  const r = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] } });
  return r.violations.map((v) => v.id + ': ' + v.nodes.map((n) => n.target.join(' ') + ' in ' + document.querySelector(n.target.join(' '))?.parentElement?.outerHTML.slice(0, 400)).join(', '));
})()`;

/** axe-core on the page as it is, in the light and then the dark theme (the system's, as the app follows it). */
export async function axe(page: Page, label: string): Promise<void> {
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    // Injected through the DevTools protocol (page.evaluate), which the page's CSP does not apply to.
    if (!(await page.evaluate<boolean>("'axe' in window"))) await page.evaluate(axeSource);
    expect(await page.evaluate<string[]>(AXE_RUN), `axe on ${label} (${scheme})`).toEqual([]);
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

/**
 * Waits until `expression` (evaluated in the page) is true, polling from Node: Playwright's own waitForFunction polls
 * by evaluating a string inside the page, which the app's CSP (no unsafe-eval) refuses whenever it has to poll at all.
 */
export async function waitInPage(page: Page, expression: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await page.evaluate<boolean>(`Boolean(${expression})`))) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting in the page for: ${expression}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
