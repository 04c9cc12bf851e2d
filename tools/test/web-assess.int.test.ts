/**
 * The learner's assessment pages of the web app (clients/web) in Debian's Chromium through a real embedded LMS:
 * a course whose second lesson is a quiz (seeded through the typed client as its teacher, the calls of
 * assessment-journey.int.test.ts), then in the browser the learner opens the quiz from the player, answers every
 * kind of question shown (autosaved: a reload mid-attempt keeps the answers), submits after the confirmation, sees
 * the review with the grade, their grades in the course, and the certificate the completed course earns (its PDF
 * downloaded); again at 360 px. axe-core checks every new page in the light and the dark theme.
 */
import fs from 'node:fs';
import { createLmsClient } from '@lms/client';
import { gatewayPort } from '@lms/gateway';
import { startNode, type LmsNode } from '@lms/runtime';
import { type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureWeb } from '../build-web.mjs';
import { SERVICES } from '../services.ts';
import { waitFor } from './support.ts';
import { axe, launchChromium, openPage, waitInPage } from './web-browser.ts';

const PASSWORD = 'an assessed web password';

let node: LmsNode;
let base: string;
let browser: Browser;
let courseId: string;
let quizLessonId: string;
let practiceId: string;
let learnerToken: string;
const problems: string[] = [];

beforeAll(async () => {
  ensureWeb();
  process.env.RATE_LIMIT_AUTH_PER_MINUTE = '1000';
  node = await startNode(Object.values(SERVICES), { mode: 'embedded', dataDir: 'memory://', port: 0, databaseUrl: undefined });
  base = `http://127.0.0.1:${gatewayPort(node.broker)}`;

  const anon = createLmsClient({ url: base });
  const teacher = createLmsClient({
    url: base,
    token: (await anon.auth.register.mutate({ email: 'teacher@assess.test', password: PASSWORD, displayName: 'Teacher' })).accessToken,
  });
  const course = await teacher.courses.create.mutate({ title: 'Assessed geography', category: 'geography', language: 'en' });
  courseId = course.id;
  const m = await teacher.courses.createModule.mutate({ courseId, title: 'Week 1' });
  await teacher.courses.createLesson.mutate({ moduleId: m.id, title: 'Read me', content: { type: 'markdown', body: 'Capitals and rivers.' } });
  const bank = await teacher.assessments.createBank.mutate({ courseId, name: 'Week 1 bank' });
  const q = (title: string, prompt: string, body: Parameters<typeof teacher.assessments.createQuestion.mutate>[0]['body']) =>
    teacher.assessments.createQuestion.mutate({ bankId: bank.id, title, prompt, body }).then((x) => x.id);
  const ids = [
    await q('Two plus two', 'What is 2 + 2?', {
      type: 'single',
      choices: [
        { id: 'a', text: 'Three', fraction: 0 },
        { id: 'b', text: 'Four', fraction: 1 },
      ],
    }),
    await q('Round earth', 'The Earth is round.', { type: 'truefalse', answer: true }),
    await q('Capital', 'The capital of France?', { type: 'short', answers: [{ pattern: 'Paris', fraction: 1 }] }),
    await q('Rivers', 'Order these rivers from the longest.', {
      type: 'ordering',
      items: [
        { id: 'n', text: 'Nile' },
        { id: 'd', text: 'Danube' },
        { id: 't', text: 'Thames' },
      ],
    }),
    await q('Sky', 'Fill in the gap.', {
      type: 'cloze',
      text: 'The sky is {{g1}}.',
      gaps: [{ id: 'g1', body: { type: 'short', answers: [{ pattern: 'blue', fraction: 1 }] } }],
    }),
    await q('Primes', 'Which are prime?', {
      type: 'multiple',
      choices: [
        { id: 'p2', text: 'Two', fraction: 0.5 },
        { id: 'p3', text: 'Three', fraction: 0.5 },
        { id: 'p4', text: 'Nine', fraction: -1 },
      ],
    }),
    await q('Capitals', 'Match each country with its capital.', {
      type: 'matching',
      pairs: [
        { id: 'fr', prompt: 'France', answer: 'Paris' },
        { id: 'de', prompt: 'Germany', answer: 'Berlin' },
      ],
      distractors: ['Rome'],
    }),
    await q('Gravity', 'Acceleration due to gravity on Earth?', {
      type: 'numerical',
      answers: [{ value: 9.81, tolerance: 0.05, fraction: 1 }],
      units: [{ unit: 'm/s^2', multiplier: 1 }],
    }),
  ];
  const essay = await q('Essay', 'Why do maps lie?', { type: 'essay', minWords: 3, maxWords: 200 });
  const quiz = await teacher.assessments.createQuiz.mutate({
    courseId,
    title: 'Week 1 quiz',
    settings: { passPercent: 50, attemptsAllowed: 2, timeLimitS: 900 },
    sections: [{ title: '', slots: ids.map((questionId) => ({ from: 'fixed' as const, questionId, points: 1 })) }],
  });
  await teacher.assessments.publishQuiz.mutate({ quizId: quiz.id });
  // A practice quiz shown one question at a time (not a lesson: the course completes without it).
  const practice = await teacher.assessments.createQuiz.mutate({
    courseId,
    title: 'Practice',
    settings: { attemptsAllowed: null, navigation: 'one-at-a-time' },
    sections: [{ title: '', slots: [...ids.slice(0, 2), essay].map((questionId) => ({ from: 'fixed' as const, questionId, points: 1 })) }],
  });
  await teacher.assessments.publishQuiz.mutate({ quizId: practice.id });
  practiceId = practice.id;
  quizLessonId = (await teacher.courses.createLesson.mutate({ moduleId: m.id, title: 'Quiz', content: { type: 'quiz', quizId: quiz.id, passPercent: 50 } })).id;
  await teacher.courses.publish.mutate({ courseId });

  // The learner enrols and reads the first lesson through the API; the quiz is taken in the browser.
  const learner = await anon.auth.register.mutate({ email: 'ada@assess.test', password: PASSWORD, displayName: 'Ada Lovelace' });
  learnerToken = learner.accessToken;
  const l = createLmsClient({ url: base, token: learnerToken });
  await l.enrollments.enrol.mutate({ courseId });
  const reading = (await l.enrollments.progress.query({ courseId })).nextLesson?.id ?? '';
  await l.enrollments.completeLesson.mutate({ lessonId: reading, courseId });

  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  delete process.env.RATE_LIMIT_AUTH_PER_MINUTE;
  await browser?.close();
  await node?.stop();
});

const heading = (page: Page, name: string | RegExp) => page.getByRole('heading', { level: 1, name }).waitFor();
const orderOf = (page: Page) => page.locator('.ordering li > span:first-child').allTextContents();

describe('learner assessment pages in Chromium', () => {
  it('player → quiz → attempt (autosaved across a reload) → submit → review → my grades → certificate; 360 px', async () => {
    // Playwright's contexts accept downloads by default (the certificate's PDF is one).
    const { context, page } = await openPage(browser, base, problems);

    await page.goto('/signin');
    await heading(page, 'Sign in');
    await page.getByLabel('Email').fill('ada@assess.test');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: 'Certificates' }).waitFor();

    // The player's quiz lesson links to the quiz's summary.
    await page.goto(`/learn/${courseId}?lesson=${quizLessonId}`);
    await heading(page, 'Assessed geography');
    await page.getByRole('link', { name: 'Open the quiz' }).click();
    await heading(page, 'Week 1 quiz');
    await page.getByText('Time limit: 15 min').waitFor();
    await axe(page, 'quiz summary');
    await page.getByRole('button', { name: 'Start or resume the quiz' }).click();
    await heading(page, 'Week 1 quiz: attempt 1');
    expect(await page.evaluate('document.activeElement?.tagName')).toBe('H1');
    const clock = (await page.getByRole('timer').textContent()) ?? '';
    expect(clock).toMatch(/^1[45]:\d\d$/); // from the server's 15-minute deadline
    await page.getByText('Your answers are saved as you go.').waitFor();
    await axe(page, 'attempt');

    // Answer each question; every change is autosaved.
    await page.getByRole('group', { name: 'What is 2 + 2?' }).getByRole('radio', { name: 'Four' }).check();
    await page.getByRole('group', { name: 'The Earth is round.' }).getByRole('radio', { name: 'True' }).check();
    await page.getByRole('group', { name: 'The capital of France?' }).getByLabel('Your answer').fill('Paris');
    await page.getByLabel('Gap 1').fill('blue');
    const primes = page.getByRole('group', { name: 'Which are prime?' });
    await primes.getByRole('checkbox', { name: 'Two' }).check();
    await primes.getByRole('checkbox', { name: 'Three' }).check();
    await page.getByRole('group', { name: 'Match each country with its capital.' }).getByLabel('France').selectOption('Paris');
    await page.getByRole('group', { name: 'Match each country with its capital.' }).getByLabel('Germany').selectOption('Berlin');
    const gravity = page.getByRole('group', { name: 'Acceleration due to gravity on Earth?' });
    await gravity.getByText('Units: m/s^2').waitFor();
    await gravity.getByLabel('Your answer').fill('9.81');
    // Ordering with the keyboard: focus the first item's Down button and press it.
    const before = await orderOf(page);
    await page.getByRole('button', { name: `Move “${before[0]}” down` }).focus();
    await page.keyboard.press('Enter');
    const moved = [before[1], before[0], before[2]];
    expect(await orderOf(page)).toEqual(moved);
    await page.getByText('Saved', { exact: true }).waitFor();

    // A reload mid-attempt: the same attempt with every answer as it was saved.
    await page.reload();
    await heading(page, 'Week 1 quiz: attempt 1');
    expect(await page.getByRole('radio', { name: 'Four' }).isChecked()).toBe(true);
    expect(await page.getByRole('radio', { name: 'True' }).isChecked()).toBe(true);
    expect(await page.getByRole('group', { name: 'The capital of France?' }).getByLabel('Your answer').inputValue()).toBe('Paris');
    expect(await page.getByLabel('Gap 1').inputValue()).toBe('blue');
    expect(await orderOf(page)).toEqual(moved);
    expect(await primes.getByRole('checkbox', { name: 'Three' }).isChecked()).toBe(true);
    expect(await primes.getByRole('checkbox', { name: 'Nine' }).isChecked()).toBe(false);
    expect(await page.getByLabel('Germany').inputValue()).toBe('Berlin');
    expect(await gravity.getByLabel('Your answer').inputValue()).toBe('9.81');

    // Offline: the change is kept and retried, and saved once the connection is back.
    await context.setOffline(true);
    await page.getByRole('group', { name: 'The capital of France?' }).getByLabel('Your answer').fill('Lyon');
    await page.getByText('Not saved — retrying').waitFor();
    await page.getByRole('group', { name: 'The capital of France?' }).getByLabel('Your answer').fill('Paris');
    await context.setOffline(false);
    await page.getByText('Saved', { exact: true }).waitFor({ timeout: 15_000 });

    // Submit, after the confirmation (focus moves to it).
    await page.getByRole('button', { name: 'Submit', exact: true }).click();
    await page.getByRole('heading', { name: 'Submit this attempt?' }).waitFor();
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Submit this attempt?');
    await axe(page, 'attempt (confirm)');
    await page.getByRole('button', { name: 'Yes, submit' }).click();
    await heading(page, /^Review: Week 1 quiz/);
    await page.getByText(/^Your grade: \d+(\.\d+)? \/ 8/).waitFor();
    await axe(page, 'review');

    await page.getByRole('link', { name: 'My grades in this course' }).click();
    await heading(page, 'My grades: Assessed geography');
    await page.getByRole('rowheader', { name: 'Week 1 quiz' }).waitFor();
    await axe(page, 'my grades');

    // The passed quiz completes the course: a certificate (issued by the saga a moment later).
    const learner = createLmsClient({ url: base, token: learnerToken });
    await waitFor(async () => ((await learner.credentials.mine.query({})).items.length ? true : undefined), 20_000, 200);
    await page.getByRole('link', { name: 'Certificates' }).click();
    await heading(page, 'My certificates');
    await page.getByRole('heading', { level: 2, name: 'Assessed geography' }).waitFor();
    await page.getByText(/^Verification code: [0-9A-Z]{4}-/).waitFor();
    expect(await page.getByRole('link', { name: 'Public verification page' }).getAttribute('href')).toMatch(/\/verify\//);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download the PDF' }).click()]);
    expect(download.suggestedFilename()).toMatch(/\.pdf$/);
    const pdf = await fs.promises.readFile((await download.path()) ?? '');
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    await axe(page, 'my certificates');

    // One question at a time: Next moves on (focus on the new question), never back.
    await page.goto(`/learn/${courseId}/quiz/${practiceId}`);
    await heading(page, 'Practice');
    await page.getByText('One question at a time').waitFor();
    await page.getByRole('button', { name: 'Start or resume the quiz' }).click();
    await heading(page, 'Practice: attempt 1');
    await page.getByRole('heading', { level: 2, name: /Question 1 of 3/ }).waitFor();
    await page.getByRole('radio', { name: 'Four' }).check();
    expect(await page.getByRole('button', { name: 'Submit', exact: true }).count()).toBe(0);
    await page.getByRole('button', { name: 'Next question' }).click();
    await page.getByRole('heading', { level: 2, name: /Question 2 of 3/ }).waitFor();
    await waitInPage(page, "document.activeElement?.textContent?.startsWith('Question 2 of 3')");
    expect(await page.getByRole('radio', { name: 'Four' }).count()).toBe(0);
    await page.getByRole('radio', { name: 'True' }).check();
    await page.getByRole('button', { name: 'Next question' }).click();
    await page.getByRole('heading', { level: 2, name: /Question 3 of 3/ }).waitFor();
    await page.getByLabel('Your answer').fill('Because a sphere is not flat.');
    await page.getByText('6 words').waitFor();
    await axe(page, 'attempt (one at a time, essay)');
    await page.getByRole('button', { name: 'Submit', exact: true }).click();
    await page.getByRole('button', { name: 'Yes, submit' }).click();
    await heading(page, 'Review: Practice');
    // The essay waits for a teacher: submitted, not graded.
    await page.getByText('Submitted. Waiting for a teacher to grade it.').waitFor();

    // French: the new pages' own messages.
    await page.getByRole('link', { name: 'Certificates' }).click();
    await heading(page, 'My certificates');
    await page.getByLabel('Language').selectOption('fr');
    await heading(page, 'Mes certificats');
    await page.getByRole('button', { name: 'Télécharger le PDF' }).waitFor();
    await page.getByLabel('Langue').selectOption('en');
    await heading(page, 'My certificates');

    // A 360 px phone: nothing wider than the screen.
    await page.setViewportSize({ width: 360, height: 740 });
    for (const [url, name] of [
      ['/certificates', 'My certificates'],
      [`/learn/${courseId}/grades`, 'My grades: Assessed geography'],
    ] as const) {
      await page.goto(url);
      await heading(page, name);
      expect(await page.evaluate<number>('document.documentElement.scrollWidth'), url).toBeLessThanOrEqual(360);
      if (url === '/certificates') await axe(page, `${name} at 360 px`);
    }
    await context.close();
    expect(problems).toEqual([]);
  }, 90_000);
});
