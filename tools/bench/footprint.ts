/**
 * (f) Footprint: how long a process takes from spawn to ready, and its RSS once idle, for the embedded process
 * (every service, PGlite) on a first start (empty data directory) and a warm restart, and for a single-service mesh
 * node (courses, with the local PostgreSQL and NATS). Each runs from the build output (`node dist/cli.mjs`, as
 * `pnpm start` and the image run it) and, for comparison in the same run, from sources through tsx (as before);
 * the baseline is a bare Node HTTP server started the same way. Ready: /health/ready answers 200 (embedded), or the
 * node's METRICS_PORT answers (mesh: it opens once the broker has started every service).
 * Idle RSS is read --idle seconds (default 5) after ready. Each row is the median of --rounds.
 * --before DIR adds the same runs from another checkout (e.g. a worktree of the commit before a change, with its
 * dependencies installed), from its sources through tsx as it started then: before and after in the same run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { args, benchStack, f, freePort, rssMiB, root, table } from './common.ts';

const ROUNDS = Math.max(1, Number(args.rounds));
const IDLE_MS = Number(args.idle) * 1000;

/** The environment of the machine running the bench, minus what would turn an embedded process into a mesh one. */
function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn', NODE_ENV: 'production' };
  for (const k of ['DATABASE_URL', 'NATS_URL', 'REDIS_URL', 'LMS_MODE', 'NODE_OPTIONS', 'METRICS_PORT']) delete env[k];
  return env;
}

async function answers(url: string): Promise<boolean> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    await r.arrayBuffer();
    return r.status === 200;
  } catch {
    return false;
  }
}

interface Sample {
  readyMs: number;
  /** CPU seconds (user + system) the process used until ready: less sensitive than wall time to a busy machine. */
  cpu: number;
  rss: number;
}

function cpuSeconds(pid: number | undefined): number {
  try {
    const rest = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1];
    if (rest === undefined) return NaN;
    const f = rest.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

/** Spawns `argv`, polls `readyUrl` every 20 ms, then waits idle and reads the RSS; stops the process. */
async function measure(argv: string[], env: NodeJS.ProcessEnv, readyUrl: string, cwd = root): Promise<Sample> {
  const t0 = performance.now();
  const child: ChildProcess = spawn(process.execPath, argv, { cwd, env, stdio: ['ignore', 'ignore', 'inherit'] });
  let exited = false;
  child.once('exit', () => (exited = true));
  try {
    for (;;) {
      if (exited) throw new Error(`${argv.join(' ')} exited before ready`);
      if (await answers(readyUrl)) break;
      if (performance.now() - t0 > 120_000) throw new Error(`${argv.join(' ')}: not ready after 120 s`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const readyMs = performance.now() - t0;
    const cpu = cpuSeconds(child.pid);
    await new Promise((r) => setTimeout(r, IDLE_MS));
    return { readyMs, cpu, rss: rssMiB(child.pid) };
  } finally {
    if (!exited) await new Promise((r) => child.once('exit', r).kill('SIGTERM'));
  }
}

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? NaN;

export async function footprintBench(): Promise<string> {
  // The build output must be current: `pnpm start` builds it the same way when sources changed.
  const { build, isFresh } = (await import(path.join(root, 'tools/build.mjs'))) as { build: () => Promise<{ ms: number }>; isFresh: () => boolean };
  if (!isFresh()) console.log(`built dist/cli.mjs in ${((await build()).ms / 1000).toFixed(1)} s`);
  const buildMs = (await build()).ms;

  const compiled = ['dist/cli.mjs'];
  const tsx = ['--import', 'tsx', 'tools/cli.ts'];
  const results = new Map<string, Sample[]>();
  const add = (k: string, s: Sample) => results.set(k, [...(results.get(k) ?? []), s]);

  const { env: meshEnv, teardown } = await benchStack('courses');
  try {
    for (let r = 1; r <= ROUNDS; r++) {
      console.log(`footprint round ${r}/${ROUNDS}`);
      const port = await freePort();
      const ready = `http://127.0.0.1:${port}/health/ready`;
      add('bare', await measure(['tools/bench/bare-ready.mjs'], { ...baseEnv(), PORT: String(port) }, ready));
      const ways: Array<readonly [string, string[], string]> = [
        ['compiled', compiled, root],
        ['tsx', tsx, root],
      ];
      if (args.before) ways.push(['before', tsx, path.resolve(args.before)]);
      for (const [how, argv, cwd] of ways) {
        const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lms-footprint-'));
        try {
          const env = { ...baseEnv(), PORT: String(port), LMS_DATA_DIR: dataDir };
          add(`${how} first`, await measure([...argv, 'start'], env, ready, cwd));
          add(`${how} warm`, await measure([...argv, 'start'], env, ready, cwd));
        } finally {
          fs.rmSync(dataDir, { recursive: true, force: true });
        }
        const metrics = await freePort();
        const nodeEnv = { ...baseEnv(), ...meshEnv, LMS_MODE: 'mesh', METRICS_PORT: String(metrics), NODE_ID: `footprint-courses-${r}` };
        add(`${how} courses`, await measure([...argv, 'node', '--services', 'courses'], nodeEnv, `http://127.0.0.1:${metrics}/metrics`, cwd));
      }
    }
  } finally {
    await teardown();
  }

  const row = (name: string, k: string, target: string) => {
    const s = results.get(k) ?? [];
    return [name, f(median(s.map((x) => x.readyMs)) / 1000, 2), f(median(s.map((x) => x.cpu)), 2), f(median(s.map((x) => x.rss)), 0), target];
  };
  const before = args.before
    ? [
        row(`before: embedded, first start (${args.before}, \`node --import tsx tools/cli.ts start\`)`, 'before first', '–'),
        row('before: embedded, warm start', 'before warm', '–'),
        row('before: mesh node, courses only', 'before courses', '–'),
      ]
    : [];
  const out = table(
    `(f) Start to ready and idle RSS (${IDLE_MS / 1000} s after ready), median of ${ROUNDS}; build: ${f(buildMs / 1000, 1)} s (cached until sources change)`,
    ['process', 'start → ready s', 'CPU s to ready', 'idle RSS MiB', 'target'],
    [
      row('bare node:http (baseline, `node bare-ready.mjs`)', 'bare', '–'),
      row('embedded, first start (empty data dir): `node dist/cli.mjs start`', 'compiled first', '< 4 s'),
      row('embedded, warm start: `node dist/cli.mjs start`', 'compiled warm', '< 2 s, < 350 MiB'),
      row('mesh node, courses only: `node dist/cli.mjs node --services courses`', 'compiled courses', '< 120 MiB'),
      row('embedded, first start, from sources (`node --import tsx tools/cli.ts`)', 'tsx first', '–'),
      row('embedded, warm start, from sources', 'tsx warm', '–'),
      row('mesh node, courses only, from sources', 'tsx courses', '–'),
      ...before,
    ],
  );
  const every = [...results.entries()]
    .map(([k, s]) => `${k}: ${s.map((x) => `${f(x.readyMs / 1000, 2)} s/${f(x.cpu, 2)} CPU s/${f(x.rss, 0)} MiB`).join(', ')}`)
    .join('; ');
  console.log(`every round: ${every}`);
  return `${out}\nEvery round (start → ready / CPU to ready / idle RSS): ${every}.\n`;
}

export const FOOTPRINT_NOTES = `How to read it: *start → ready* is wall time from spawn to the first 200, which a busy machine stretches;
*CPU s to ready* is the CPU time the process itself used until then, which it stretches much less. *Idle RSS* includes
the Node binary's own pages (shared between processes): the bare baseline is almost all of that. Where the time and
memory went, and what changed, is in docs/benchmarks.md ("Footprint").
`;
