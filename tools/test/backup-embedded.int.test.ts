/**
 * `lms backup` / `lms restore` in embedded mode: the running node's PGlite is dumped online (through the socket `lms
 * start` serves in its data directory), the data directory wiped and restored, and the journey's data and projections
 * are back, without what was written after the backup.
 */
import fs from 'node:fs';
import path from 'node:path';
import { gatewayPort } from '@lms/gateway';
import { startNode } from '@lms/runtime';
import { pgliteSnapshot } from '@lms/runtime/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { backupEmbedded, restoreEmbedded, serveBackups, untar } from '../backup.ts';
import { SERVICES } from '../services.ts';
import { journey, journeyView, password, projections, publishedCourse } from './backup-journey.ts';
import { http, tempDir } from './support.ts';

describe('embedded backup and restore', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => {});
  });

  it('dumps the running node online and restores its data directory', async () => {
    const dir = tempDir();
    cleanup.push(async () => dir.remove());
    const dataDir = path.join(dir.dir, 'data');
    // A migrated PGlite from the tests' snapshot cache instead of initdb and every migration (10 s and more under load).
    const snapshot = await pgliteSnapshot(Object.values(SERVICES));
    if (snapshot) untar(Buffer.from(await snapshot.arrayBuffer()), path.join(dataDir, 'pg'));
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
