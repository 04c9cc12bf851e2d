/**
 * `lms backup` / `lms restore`: seed through the REST journey, back up while the LMS runs, wipe, restore, and find the
 * journey's data and every projection intact. Mesh: the analytics node is down while the last events are published, so
 * the backup must carry events in flight (published, not yet applied by one consumer group) and the restore must
 * deliver them to that group once and to no other group again. Embedded: the running node's PGlite is dumped online.
 */
import fs from 'node:fs';
import path from 'node:path';
import { gatewayPort } from '@lms/gateway';
import { migrateAll, openDatabase, startNode, type LmsNode, type RuntimeSettings } from '@lms/runtime';
import { afterAll, describe, expect, it } from 'vitest';
import { backupEmbedded, backupMesh, restoreEmbedded, restoreMesh, serveBackups, type MeshTarget } from '../backup.ts';
import { pick, SERVICES } from '../services.ts';
import { drained, dropStreams, http, NATS_URL, query, REDIS_URL, tempDatabase, tempDir, uniqueName, waitFor } from './support.ts';

const password = 'backup journey password';
const schemas = Object.values(SERVICES)
  .map((s) => s.schema)
  .filter(Boolean);

/** The REST journey: an admin builds and publishes a course, a learner enrols and completes a lesson. */
async function journey(base: string, tag: string) {
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

async function publishedCourse(base: string, token: string, title: string) {
  const c = (await http(base, 'POST', '/api/v1/courses', { title, category: 'operations' }, token)).body;
  const m = (await http(base, 'POST', `/api/v1/courses/${c.id}/modules`, { title: 'Basics' }, token)).body;
  const l = (await http(base, 'POST', `/api/v1/modules/${m.id}/lessons`, { title: 'Snapshots', content: { type: 'markdown', body: 'one snapshot' } }, token))
    .body;
  await http(base, 'POST', `/api/v1/modules/${m.id}/lessons`, { title: 'Restores', content: { type: 'markdown', body: 'then restore' } }, token);
  expect((await http(base, 'POST', `/api/v1/courses/${c.id}/publish`, undefined, token)).status).toBe(200);
  return { id: c.id as string, lessonId: l.id as string };
}

/** What the journey left, read through the API: course content, the learner's enrolments, progress and dashboard. */
async function journeyView(base: string, j: { admin: string; learner: string; course: { id: string } }) {
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
async function projections(base: string, admin: string, published: number, enrolled: number) {
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
async function rowCounts(url: string): Promise<Record<string, number>> {
  const tables = await query<{ t: string }>(
    url,
    `select table_schema || '.' || table_name as t from information_schema.tables where table_schema = any($1) and table_type = 'BASE TABLE' order by 1`,
    [schemas],
  );
  const counts: Record<string, number> = {};
  for (const { t } of tables) counts[t] = Number((await query<{ n: number }>(url, `select count(*)::int as n from ${t}`))[0]?.n);
  return counts;
}

describe('mesh backup and restore', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => {});
  });

  it('restores every schema and delivers the events in flight at the backup once, to the groups that had not applied them', async () => {
    const pg = await tempDatabase();
    const ns = uniqueName('b');
    const dir = tempDir();
    cleanup.push(
      () => pg.drop(),
      () => dropStreams(ns),
      async () => dir.remove(),
    );
    const db = await openDatabase({ databaseUrl: pg.url, dataDir: '' });
    await migrateAll(db, Object.values(SERVICES));
    await db.close();
    const mesh = (nodeId: string): Partial<RuntimeSettings> => ({
      mode: 'mesh',
      databaseUrl: pg.url,
      natsUrl: NATS_URL,
      redisUrl: REDIS_URL,
      namespace: ns,
      port: 0,
      migrateOnStart: false,
      nodeId: `${ns}-${nodeId}`,
    });
    const others = Object.keys(SERVICES).filter((s) => s !== 'analytics');
    let nodes: LmsNode[] = [];
    const start = async () => {
      const main = await startNode(pick(others.join(',')), mesh('main'));
      const analytics = await startNode(pick('analytics'), mesh('analytics'));
      nodes = [analytics, main];
      await main.broker.waitForServices(['analytics'], 15_000);
      return { main, analytics, base: `http://127.0.0.1:${gatewayPort(main.broker)}` };
    };
    cleanup.push(async () => {
      for (const n of nodes) await n.stop().catch(() => {});
    });

    const first = await start();
    const { analytics } = first;
    let { base } = first;
    const j = await journey(base, 'mesh');
    await projections(base, j.admin, 1, 1);
    // Analytics goes down; a second course is published and enrolled in: its events wait in the streams for analytics.
    await analytics.stop();
    nodes = nodes.filter((n) => n !== analytics);
    const second = await publishedCourse(base, j.admin, 'Restores 201');
    expect((await http(base, 'POST', `/api/v1/courses/${second.id}/enrollments`, {}, j.learner)).body.status).toBe('active');
    const groupsUp = others.map((s) => `${s}-`);
    await drained({ databaseUrl: pg.url, namespace: ns, consumers: groupsUp });
    const before = await rowCounts(pg.url);
    const view = await journeyView(base, j);

    const target: MeshTarget = { databaseUrl: pg.url, natsUrl: NATS_URL, namespace: ns, modules: Object.values(SERVICES) };
    const file = path.join(dir.dir, 'mesh.jsonl.gz');
    const lines: string[] = [];
    const summary = await backupMesh(target, file, (l) => lines.push(l));
    expect(summary.schemas).toBe(schemas.length);
    // course.published and enrollment.created (at least) of the second course, for analytics only.
    expect(summary.events).toBeGreaterThanOrEqual(2);
    expect(lines.join('\n')).toMatch(/\[\d+\/\d+\] courses: \d+ tables, \d+ rows/);

    // After the backup: a write that the restore must undo.
    await publishedCourse(base, j.admin, 'After the backup');

    // Wipe: every node stopped, every schema and stream gone.
    for (const n of nodes) await n.stop();
    nodes = [];
    for (const s of schemas) await query(pg.url, `drop schema ${s} cascade`);
    await dropStreams(ns);

    const restored = await restoreMesh(target, file);
    expect(restored.events).toBe(summary.events);
    expect(await rowCounts(pg.url)).toEqual(before);

    ({ base } = await start());
    expect(await journeyView(base, j)).toEqual(view);
    // Analytics applies what it missed (2 courses, 2 enrolments), and nothing published after the backup.
    const p = await projections(base, j.admin, 2, 2);
    expect(p.byCategory.categories).toEqual([{ category: 'operations', published: 2 }]);
    await drained({ databaseUrl: pg.url, namespace: ns });
    // No group applied anything twice: every table but analytics' own (and its processed ids) is as it was.
    const after = await rowCounts(pg.url);
    const changed = Object.keys(after).filter((t) => after[t] !== before[t]);
    expect(changed.filter((t) => !t.startsWith('analytics.'))).toEqual([]);
    // Sequences came back too: new rows get fresh ids.
    const third = await publishedCourse(base, j.admin, 'After the restore');
    expect((await http(base, 'POST', `/api/v1/courses/${third.id}/enrollments`, {}, j.learner)).status).toBe(201);
  }, 60_000);
});

describe('embedded backup and restore', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => {});
  });

  it('dumps the running node online and restores its data directory', async () => {
    const dir = tempDir();
    cleanup.push(async () => dir.remove());
    const dataDir = path.join(dir.dir, 'data');
    const start = async () => {
      const node = await startNode(Object.values(SERVICES), { mode: 'embedded', dataDir, port: 0, databaseUrl: undefined });
      const server = await serveBackups(dataDir, node.runtime.db, node.runtime.logger('backup'));
      const stop = async () => {
        await server.close();
        await node.stop();
      };
      cleanup.push(stop);
      return { base: `http://127.0.0.1:${gatewayPort(node.broker)}`, stop };
    };
    const first = await start();
    let { base } = first;
    const j = await journey(base, 'embedded');
    const p = await projections(base, j.admin, 1, 1);
    const view = await journeyView(base, j);

    const file = path.join(dir.dir, 'embedded.tar.gz');
    const r = await backupEmbedded(dataDir, file);
    expect(r.online).toBe(true);
    await publishedCourse(base, j.admin, 'After the backup');
    await expect(restoreEmbedded(dataDir, file)).rejects.toThrow(/running/);
    await first.stop();

    fs.rmSync(path.join(dataDir, 'pg'), { recursive: true });
    await restoreEmbedded(dataDir, file);
    ({ base } = await start());
    expect(await journeyView(base, j)).toEqual(view);
    expect(await projections(base, j.admin, 1, 1)).toEqual(p);
    const login = await http(base, 'POST', '/api/v1/auth/login', { email: j.learnerEmail, password });
    expect(login.status).toBe(200);
  }, 60_000);
});
