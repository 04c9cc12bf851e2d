/** (a) Authenticated GET /api/v1/courses/{id}: gateway → NATS → courses → PostgreSQL, beside a bare node:http + pg server. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { benchStack, f, freePort, rssMiB, SECONDS, start, table, TAIL_SECONDS, type Metrics, cpuTimes, cpuDelta } from './common.ts';
import { http as req, waitFor } from '../test/support.ts';
import { closedLoop, openLoop, windows, type LoadResult, type Window } from './load.ts';

/** One second of one process, as perf-probe.mjs logged it (the second ending at `t`). */
interface ProbeLine {
  t: number;
  gcCount: number;
  gcMs: number;
  gcMaxMs: number;
  gcKinds: Record<string, number>;
  eldP99Ms: number;
  eldMaxMs: number;
  rssMiB: number;
}

/** Every process's probe log of this run, by process name (NODE_ID, or the script). */
function probeLogs(dir: string): Map<string, ProbeLine[]> {
  const out = new Map<string, ProbeLine[]>();
  for (const file of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
    const lines = fs
      .readFileSync(path.join(dir, file), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as ProbeLine);
    out.set(file.replace(/-\d+\.jsonl$/, ''), lines);
  }
  return out;
}

/** What each process did during a slow second: GC pauses and event-loop delay from the probe lines that overlap it. */
function explain(w: Window, logs: Map<string, ProbeLine[]>): string {
  const parts: string[] = [];
  for (const [name, lines] of logs) {
    const near = lines.filter((l) => l.t > w.at && l.t <= w.at + 2000);
    if (!near.length) continue;
    const gcMax = Math.max(...near.map((l) => l.gcMaxMs));
    const gcMs = near.reduce((a, l) => a + l.gcMs, 0);
    const major = near.reduce((a, l) => a + (l.gcKinds.major ?? 0), 0);
    const eldMax = Math.max(...near.map((l) => l.eldMaxMs));
    parts.push(`${name}: GC ${f(gcMs, 0)} ms (longest ${f(gcMax, 1)}${major ? `, ${major} major` : ''}), loop delay max ${f(eldMax, 0)} ms`);
  }
  return parts.join('; ');
}

const say = (text: string) => (console.log(`\n${text}`), text);

/** A process's whole run: GC time, longest pause, worst event-loop delay. */
function totals(lines: ProbeLine[], from: number, to: number) {
  const l = lines.filter((x) => x.t > from && x.t <= to + 1000);
  return {
    gcMs: l.reduce((a, x) => a + x.gcMs, 0),
    gcMax: Math.max(0, ...l.map((x) => x.gcMaxMs)),
    major: l.reduce((a, x) => a + (x.gcKinds.major ?? 0), 0),
    eldMax: Math.max(0, ...l.map((x) => x.eldMaxMs)),
  };
}

export async function httpBench(m: Metrics): Promise<string> {
  const { pg, env: stackEnv, teardown } = await benchStack('auth,users,courses');
  const perfDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lms-bench-perf-'));
  const env = { ...stackEnv, BENCH_PERF_DIR: perfDir };
  try {
    const [edgePort, barePort] = [await freePort(), await freePort()];
    const edge = start(['tools/cli.ts', 'node', '--services', 'gateway,auth,users'], { ...env, PORT: String(edgePort), NODE_ID: 'bench-edge' });
    const courses = start(['tools/cli.ts', 'node', '--services', 'courses'], { ...env, NODE_ID: 'bench-courses' });
    const bare = start(['tools/bench/bare-server.ts'], { DATABASE_URL: pg.url, PORT: String(barePort), BENCH_PERF_DIR: perfDir, NODE_ID: 'bare-server' });
    const base = `http://127.0.0.1:${edgePort}`;
    await waitFor(async () => (await req(base, 'GET', '/health/ready')).status === 200 || undefined, 60_000, 250).catch(async () => {
      throw new Error(`gateway not ready: ${JSON.stringify((await req(base, 'GET', '/health/ready').catch(() => ({ body: 'down' }))).body)}`);
    });
    await waitFor(
      async () =>
        (await fetch(`http://127.0.0.1:${barePort}/courses/00000000-0000-4000-8000-000000000000`).catch(() => undefined))?.status === 404 || undefined,
      30_000,
      250,
    );
    const s = await req(base, 'POST', '/api/v1/auth/register', { email: 'bench@example.com', password: 'load test password', displayName: 'Bench' });
    const token = (s.body as { accessToken: string }).accessToken;
    const course = (await req(base, 'POST', '/api/v1/courses', { title: 'Benchmark course', category: 'bench' }, token)).body as { id: string };
    const lmsUrl = `${base}/api/v1/courses/${course.id}`;
    const bareUrl = `http://127.0.0.1:${barePort}/courses/${course.id}`;
    const auth = { authorization: `Bearer ${token}` };
    // Warm up both (JIT, pools, connections).
    await closedLoop(lmsUrl, auth, 16, 3);
    await closedLoop(bareUrl, {}, 16, 3);
    const conns = Number(process.env.BENCH_CONNECTIONS ?? 64);
    const bareCap = await closedLoop(bareUrl, {}, conns, SECONDS);
    const cpu0 = cpuTimes({ gateway: edge.pid, courses: courses.pid });
    const lmsCap = await closedLoop(lmsUrl, auth, conns, SECONDS);
    if (process.env.BENCH_CPU) console.log('CPU seconds during the LMS capacity run:', cpuDelta(cpu0, cpuTimes({ gateway: edge.pid, courses: courses.pid })));
    // The tail: a fixed 500 req/s long enough that p99.9 and the worst second mean something, with every process's GC and
    // event-loop delay logged per second (perf-probe.mjs) to explain the slow seconds.
    const bare500 = await openLoop(bareUrl, {}, 500, TAIL_SECONDS);
    const lmsFrom = Date.now();
    const lms500 = await openLoop(lmsUrl, auth, 500, TAIL_SECONDS);
    const lmsTo = Date.now();
    const mem = { edge: rssMiB(edge.pid), courses: rssMiB(courses.pid), bare: rssMiB(bare.pid) };
    const row = (name: string, r: LoadResult, memory: string) => [name, f(r.rps, 0), f(r.p50, 2), f(r.p95, 2), f(r.p99, 2), r.errors, memory];
    const head = ['run', 'req/s', 'p50 ms', 'p95 ms', 'p99 ms', 'errors', 'RSS MiB'];
    await new Promise((r) => setTimeout(r, 1100)); // the probes' last second
    const logs = probeLogs(perfDir);
    const worst = (r: LoadResult) => windows(r.samples ?? []);
    const tailRow = (name: string, r: LoadResult) => {
      const w = worst(r);
      return [name, r.requests, f(r.p99, 2), f(r.p999, 2), f(w[0]?.p99 ?? NaN, 1), f(Math.max(...w.map((x) => x.max)), 1), r.errors];
    };
    const lmsWorst = worst(lms500).slice(0, 3);
    const clock = (t: number) => new Date(t).toISOString().slice(11, 19);
    const processes = [...logs.entries()]
      .filter(([name]) => name !== 'bare-server')
      .map(([name, lines]) => {
        const t = totals(lines, lmsFrom, lmsTo);
        return [name, f(t.gcMs, 0), f(t.gcMax, 1), t.major, f(t.eldMax, 1)];
      });
    const out = [
      table(`(a) GET /api/v1/courses/{id}, ${conns} connections, ${SECONDS}s (capacity)`, head, [
        row('bare node:http + pg (baseline)', bareCap, f(mem.bare, 0)),
        row('LMS gateway → NATS → courses → pg', lmsCap, `${f(mem.edge, 0)} + ${f(mem.courses, 0)}`),
      ]),
      table(`(a) the same at a fixed 500 req/s, ${TAIL_SECONDS}s (latency under load)`, head, [
        row('bare node:http + pg (baseline)', bare500, f(mem.bare, 0)),
        row('LMS gateway → NATS → courses → pg', lms500, `${f(mem.edge, 0)} + ${f(mem.courses, 0)}`),
      ]),
      table(
        `(a) the tail at 500 req/s over ${TAIL_SECONDS}s: p99.9 and the worst one-second window (by its p99)`,
        ['run', 'requests', 'p99 ms', 'p99.9 ms', 'worst second p99 ms', 'slowest ms', 'errors'],
        [tailRow('bare node:http + pg (baseline)', bare500), tailRow('LMS gateway → NATS → courses → pg', lms500)],
      ),
      table(
        `(a) the LMS's processes during its ${TAIL_SECONDS}s at 500 req/s (perf-probe: GC and event-loop delay)`,
        ['process', 'GC ms in all', 'longest GC pause ms', 'major GCs', 'worst loop delay ms'],
        processes,
      ),
      say(
        `The LMS's three worst seconds, and what each process did in them:\n\n${lmsWorst
          .map((w) => `- ${clock(w.at)}: ${w.requests} requests, p99 ${f(w.p99, 1)} ms, slowest ${f(w.max, 1)} ms — ${explain(w, logs) || 'no probe lines'}`)
          .join('\n')}\n`,
      ),
    ];
    const ratio = lmsCap.rps / bareCap.rps;
    m.ratio = ratio;
    m.p95at500 = lms500.p95;
    m.p99at500 = lms500.p99;
    m.p999at500 = lms500.p999;
    const verdict = `LMS/bare throughput: **${f(ratio * 100, 0)}%** (target ≥ 55%); at 500 req/s over ${TAIL_SECONDS}s: p95 **${f(lms500.p95, 2)} ms**, p99 **${f(lms500.p99, 2)} ms** (target < 8 ms), p99.9 **${f(lms500.p999, 2)} ms** (target < 20 ms).`;
    console.log(verdict);
    return `${out.join('\n')}\n${verdict}\n`;
  } finally {
    await teardown();
    fs.rmSync(perfDir, { recursive: true, force: true });
  }
}
