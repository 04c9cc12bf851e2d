/**
 * The journey the backup tests seed through the REST API, and what they compare after a restore: the journey's data as
 * the API shows it, analytics' projections, and the rows of every service table.
 */
import { expect } from 'vitest';
import { SERVICES } from '../services.ts';
import { http, query, waitFor } from './support.ts';

export const password = 'backup journey password';
export const schemas = Object.values(SERVICES)
  .map((s) => s.schema)
  .filter(Boolean);

/** The REST journey: an admin builds and publishes a course, a learner enrols and completes a lesson. */
export async function journey(base: string, tag: string) {
  const reg = async (email: string) => (await http(base, 'POST', '/api/v1/auth/register', { email, password, displayName: email.split('@')[0] })).body;
  const admin = await reg(`admin-${tag}@backup.test`);
  const learner = await reg(`learner-${tag}@backup.test`);
  const course = await publishedCourse(base, admin.accessToken, 'Backups 101');
  const enrolled = await http(base, 'POST', `/api/v1/courses/${course.id}/enrollments`, {}, learner.accessToken);
  expect([enrolled.status, enrolled.body.status]).toEqual([201, 'active']);
  const done = await http(base, 'POST', `/api/v1/lessons/${course.lessonId}/complete`, {}, learner.accessToken);
  expect(done.status).toBe(200);
  return { admin: admin.accessToken as string, learner: learner.accessToken as string, learnerEmail: `learner-${tag}@backup.test`, course };
}

export async function publishedCourse(base: string, token: string, title: string) {
  const c = (await http(base, 'POST', '/api/v1/courses', { title, category: 'operations' }, token)).body;
  const m = (await http(base, 'POST', `/api/v1/courses/${c.id}/modules`, { title: 'Basics' }, token)).body;
  const l = (await http(base, 'POST', `/api/v1/modules/${m.id}/lessons`, { title: 'Snapshots', content: { type: 'markdown', body: 'one snapshot' } }, token))
    .body;
  await http(base, 'POST', `/api/v1/modules/${m.id}/lessons`, { title: 'Restores', content: { type: 'markdown', body: 'then restore' } }, token);
  expect((await http(base, 'POST', `/api/v1/courses/${c.id}/publish`, undefined, token)).status).toBe(200);
  return { id: c.id as string, lessonId: l.id as string };
}

/** What the journey left, read through the API: course content, the learner's enrolments, progress and dashboard. */
export async function journeyView(base: string, j: { admin: string; learner: string; course: { id: string } }) {
  const get = async (url: string, token: string) => {
    const r = await http(base, 'GET', `/api/v1${url}`, undefined, token);
    expect(r.status).toBe(200);
    return r.body;
  };
  return {
    content: await get(`/courses/${j.course.id}/content`, j.learner),
    enrollments: await get('/me/enrollments?limit=100', j.learner),
    progress: await get(`/courses/${j.course.id}/progress`, j.learner),
    dashboard: await get('/me/dashboard', j.learner),
    roster: await get(`/courses/${j.course.id}/roster`, j.admin),
  };
}

/** The projections: analytics' counts, read once they reach what the journey implies. */
export async function projections(base: string, admin: string, published: number, enrolled: number) {
  const byCategory = await waitFor(async () => {
    const r = await http(base, 'GET', '/api/v1/analytics/courses/published-by-category', undefined, admin);
    return r.body.total === published ? r.body : undefined;
  }, 15_000);
  const enrollments = await waitFor(async () => {
    const r = await http(base, 'GET', '/api/v1/analytics/courses/enrollments?limit=100', undefined, admin);
    const sum = (r.body.courses as Array<{ enrolled: number }> | undefined)?.reduce((n, c) => n + c.enrolled, 0);
    return sum === enrolled ? r.body : undefined;
  }, 15_000);
  return { byCategory, enrollments };
}

/** Rows per table of every service schema: a second effect of any event, or a lost row, changes a count. */
export async function rowCounts(url: string): Promise<Record<string, number>> {
  const tables = await query<{ t: string }>(
    url,
    `select table_schema || '.' || table_name as t from information_schema.tables where table_schema = any($1) and table_type = 'BASE TABLE' order by 1`,
    [schemas],
  );
  const counts: Record<string, number> = {};
  for (const { t } of tables) counts[t] = Number((await query<{ n: number }>(url, `select count(*)::int as n from ${t}`))[0]?.n);
  return counts;
}
