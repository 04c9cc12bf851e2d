/**
 * `pnpm start`, `pnpm lms`, every mesh node and the container image run the build output (dist/cli.mjs), not the
 * sources: a change that breaks the build, or that the bundle cannot run (a package it cannot find, a file
 * looked up beside a source file), must fail the suite, not the next deployment.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadServices, SERVICE_LOADERS } from '../service-loaders.ts';
import { SERVICES } from '../services.ts';

const root = path.resolve(import.meta.dirname, '../..');
const node = (args: string[], env: NodeJS.ProcessEnv = process.env) =>
  spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 120_000, env });
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lms-build-test-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

describe('the services the CLI loads by name', () => {
  it('are every service of tools/services.ts, the same modules', async () => {
    expect(Object.keys(SERVICE_LOADERS).sort()).toEqual(Object.keys(SERVICES).sort());
    for (const [name, load] of Object.entries(SERVICE_LOADERS)) expect(await load(), name).toBe(SERVICES[name]);
    await expect(loadServices('courses,nope')).rejects.toThrow(/unknown service "nope"/);
  }, 60_000);
});

describe('the build', () => {
  it('builds (or is current), and is then cached until the sources change', () => {
    const built = node(['tools/build.mjs']);
    expect(built.status, built.stderr).toBe(0);
    expect(node(['tools/build.mjs', '--check']).status).toBe(0);
  }, 180_000);

  it('runs the CLI without a TypeScript loader', () => {
    const r = node(['dist/cli.mjs']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^usage: lms <command>/);
    // Paths computed from a source file's location still point into the tree (import.meta.dirname).
    const out = path.join(work, 'openapi.json');
    const o = node(['dist/cli.mjs', 'openapi', '--out', out]);
    expect(o.status, o.stderr).toBe(0);
    expect(JSON.parse(fs.readFileSync(out, 'utf8')).openapi).toMatch(/^3\./);
  }, 120_000);

  it('starts every service embedded, answers /health/ready and serves the web app', async () => {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), LMS_DATA_DIR: path.join(work, 'data'), LOG_LEVEL: 'warn' };
    for (const k of ['DATABASE_URL', 'NATS_URL', 'REDIS_URL', 'LMS_MODE', 'METRICS_PORT']) delete env[k];
    const child = spawn(process.execPath, ['dist/cli.mjs', 'start'], { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    try {
      const until = Date.now() + 90_000;
      let status = 0;
      while (status !== 200 && Date.now() < until && child.exitCode === null) {
        status = await fetch(`http://127.0.0.1:${port}/health/ready`).then(
          (r) => r.status,
          () => 0,
        );
        if (status !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      expect(status, stderr).toBe(200);
      // The web app, found from the bundle (web.ts looks beside its source file: clients/web/dist).
      const shell = await fetch(`http://127.0.0.1:${port}/`);
      expect(shell.status).toBe(200);
      expect(await shell.text()).toContain('<div id="root">');
    } finally {
      if (child.exitCode === null) await new Promise((r) => child.once('exit', r).kill('SIGTERM'));
    }
  }, 120_000);
});
