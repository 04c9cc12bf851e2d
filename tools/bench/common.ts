/**
 * What every bench shares: the command line, starting and stopping LMS processes, a fresh database and
 * JetStream namespace per bench, memory and CPU readings from /proc, and Markdown tables.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { migrateAll, openDatabase } from '@lms/runtime';
import { connect } from 'nats';
import { SERVICES } from '../services.ts';
import { NATS_URL, tempDatabase, uniqueName } from '../test/support.ts';

export const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    only: { type: 'string' },
    courses: { type: 'string', default: '1000' },
    learners: { type: 'string', default: '10000' },
    mib: { type: 'string', default: '1024' },
    recipients: { type: 'string', default: '2000' },
    idle: { type: 'string', default: '5' },
    before: { type: 'string' },
    // The fault bench (faults.ts): which scenarios, how many learner requests each, at what rate, through how many gateways.
    scenario: { type: 'string' },
    requests: { type: 'string', default: '2000' },
    rate: { type: 'string', default: '80' },
    gateways: { type: 'string', default: '2' },
    settle: { type: 'string', default: '8' },
    // The fixed-rate (tail latency) phase of the HTTP bench, seconds.
    tail: { type: 'string', default: '60' },
    'no-write': { type: 'boolean' },
  },
});
export const SECONDS = Number(args.seconds);
export const TAIL_SECONDS = Number(args.tail);
export const root = path.resolve(import.meta.dirname, '../..');
export const quiet = { debug() {}, info() {}, warn() {}, error: (...a: unknown[]) => console.error(...a) };
export const children: ChildProcess[] = [];

/** CPU seconds (user+system) per process, from /proc: where the cores went during a run. */
export function cpuTimes(pids: Record<string, number | undefined>): Record<string, number> {
  const out: Record<string, number> = {};
  const read = (pid: number | string) => {
    try {
      const rest = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1];
      if (rest === undefined) return 0;
      const f = rest.split(' ');
      return (Number(f[11]) + Number(f[12])) / 100;
    } catch {
      return 0;
    }
  };
  for (const [k, pid] of Object.entries(pids)) out[k] = read(pid ?? 0);
  out.loadgen = read(process.pid);
  for (const d of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const comm = fs.readFileSync(`/proc/${d}/comm`, 'utf8').trim();
      if (comm === 'nats-server' || comm === 'postgres') out[comm] = (out[comm] ?? 0) + read(d);
    } catch {
      /* gone */
    }
  }
  return out;
}
export function cpuDelta(a: Record<string, number>, b: Record<string, number>) {
  return Object.fromEntries(Object.keys(b).map((k) => [k, Number(((b[k] ?? 0) - (a[k] ?? 0)).toFixed(2))]));
}

export async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export function rssMiB(pid: number | undefined): number {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid ?? process.pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

export function start(args: string[], env: Record<string, string>): ChildProcess {
  // node --import tsx rather than the tsx wrapper: the pid is the server's (for RSS) and signals reach it.
  const prof = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  const flags = process.env.BENCH_NODE_FLAGS ? process.env.BENCH_NODE_FLAGS.split(' ') : [];
  // BENCH_COMPILED=1: LMS nodes run the build output (dist/cli.mjs, as in production) instead of the sources.
  const entry = process.env.BENCH_COMPILED && args[0] === 'tools/cli.ts' ? ['dist/cli.mjs', ...args.slice(1)] : ['--import', 'tsx', ...args];
  // BENCH_PERF_DIR (in env or the bench's own): each process logs its GC and event-loop delay per second there (perf-probe.mjs).
  const probe = (env.BENCH_PERF_DIR ?? process.env.BENCH_PERF_DIR) ? ['--import', path.join(root, 'tools/bench/perf-probe.mjs')] : [];
  const child = spawn(process.execPath, [...prof, ...flags, ...probe, ...entry], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.push(child);
  return child;
}

export async function stopAll() {
  await Promise.all(children.filter((c) => c.exitCode === null).map((c) => new Promise((r) => c.once('exit', r).kill('SIGTERM'))));
  children.length = 0;
}

export const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '–');

export function table(title: string, head: string[], rows: (string | number)[][]): string {
  const lines = [`### ${title}`, '', `| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`), ''];
  const text = lines.join('\n');
  console.log(`\n${text}`);
  return text;
}

export interface Metrics {
  catalogP95?: number;
  dashboardP95?: number;
  ratio?: number;
  p95at500?: number;
  p99at500?: number;
  p999at500?: number;
  /** Events: the LMS as a fraction of the like-for-like baseline. */
  eventsRatio?: number;
  eventsPerSec?: number;
  p99at5000?: number;
}

/**
 * A fresh migrated database and JetStream namespace for one bench, the environment its LMS processes
 * run with, and the teardown that removes all of it.
 */
export async function benchStack(requiredServices: string) {
  const pg = await tempDatabase();
  const ns = uniqueName('bench');
  const db = await openDatabase({ databaseUrl: pg.url, dataDir: '' });
  await migrateAll(db, Object.values(SERVICES));
  await db.close();
  const env: Record<string, string> = {
    DATABASE_URL: pg.url,
    NATS_URL,
    LMS_NAMESPACE: ns,
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    RATE_LIMIT_PER_MINUTE: '100000000',
    RATE_LIMIT_AUTH_PER_MINUTE: '100000000',
    LMS_REQUIRED_SERVICES: requiredServices,
  };
  return {
    pg,
    env,
    teardown: async () => {
      await stopAll();
      await pg.drop();
      await dropStreams(ns);
    },
  };
}

/** RSS of a process now, and its peak so far (VmHWM), in MiB. */
export function memOf(pid: number | undefined): { rss: number; peak: number } {
  try {
    const s = fs.readFileSync(`/proc/${pid ?? process.pid}/status`, 'utf8');
    const kib = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? NaN) / 1024;
    return { rss: kib('VmRSS'), peak: kib('VmHWM') };
  } catch {
    return { rss: NaN, peak: NaN };
  }
}

/** The streams the services created for this run's namespace. */
export async function dropStreams(ns: string) {
  const nc = await connect({ servers: NATS_URL });
  const jsm = await nc.jetstreamManager();
  for await (const s of jsm.streams.list()) if (s.config.name.startsWith(`${ns.toUpperCase()}_`)) await jsm.streams.delete(s.config.name);
  await nc.close();
}

/** The machine, for the documents' headers. */
export const machine = () => `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
