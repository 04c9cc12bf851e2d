/**
 * `lms backup` / `lms restore` in mesh mode: seed through the REST journey, back up while the mesh runs, wipe every
 * schema and stream, restore, and find the journey's data and every projection intact. The analytics node is down while
 * the last events are published, so the backup must carry events in flight (published, not yet applied by one consumer
 * group) and the restore must deliver them to that group once, and to no other group again.
 */
import path from 'node:path';
import { gatewayPort } from '@lms/gateway';
import { migrateAll, openDatabase, startNode, type LmsNode, type RuntimeSettings } from '@lms/runtime';
import { afterAll, describe, expect, it } from 'vitest';
import { backupMesh, restoreMesh, type MeshTarget } from '../backup.ts';
import { pick, SERVICES } from '../services.ts';
import { journey, journeyView, projections, publishedCourse, rowCounts, schemas } from './backup-journey.ts';
import { drained, dropStreams, http, NATS_URL, query, REDIS_URL, tempDatabase, tempDir, uniqueName } from './support.ts';

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

    // A restore under running nodes would race them: refused, nothing touched.
    await expect(restoreMesh(target, file)).rejects.toThrow(/other sessions are connected/);

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
