/** (a) Authenticated GET /api/v1/courses/{id}: gateway → NATS → courses → PostgreSQL, beside a bare node:http + pg server. */
import { benchStack, f, freePort, rssMiB, SECONDS, start, table, type Metrics, cpuTimes, cpuDelta } from './common.ts';
import { http as req, waitFor } from '../test/support.ts';
import { closedLoop, openLoop, type LoadResult } from './load.ts';

export async function httpBench(m: Metrics): Promise<string> {
  const { pg, env, teardown } = await benchStack('auth,users,courses');
  try {
    const [edgePort, barePort] = [await freePort(), await freePort()];
    const edge = start(['tools/cli.ts', 'node', '--services', 'gateway,auth,users'], { ...env, PORT: String(edgePort), NODE_ID: 'bench-edge' });
    const courses = start(['tools/cli.ts', 'node', '--services', 'courses'], { ...env, NODE_ID: 'bench-courses' });
    const bare = start(['tools/bench/bare-server.ts'], { DATABASE_URL: pg.url, PORT: String(barePort) });
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
    const bare500 = await openLoop(bareUrl, {}, 500, SECONDS);
    const lms500 = await openLoop(lmsUrl, auth, 500, SECONDS);
    const mem = { edge: rssMiB(edge.pid), courses: rssMiB(courses.pid), bare: rssMiB(bare.pid) };
    const row = (name: string, r: LoadResult, memory: string) => [name, f(r.rps, 0), f(r.p50, 2), f(r.p95, 2), f(r.p99, 2), r.errors, memory];
    const head = ['run', 'req/s', 'p50 ms', 'p95 ms', 'p99 ms', 'errors', 'RSS MiB'];
    const out = [
      table(`(a) GET /api/v1/courses/{id}, ${conns} connections, ${SECONDS}s (capacity)`, head, [
        row('bare node:http + pg (baseline)', bareCap, f(mem.bare, 0)),
        row('LMS gateway → NATS → courses → pg', lmsCap, `${f(mem.edge, 0)} + ${f(mem.courses, 0)}`),
      ]),
      table(`(a) the same at a fixed 500 req/s, ${SECONDS}s (latency under load)`, head, [
        row('bare node:http + pg (baseline)', bare500, f(mem.bare, 0)),
        row('LMS gateway → NATS → courses → pg', lms500, `${f(mem.edge, 0)} + ${f(mem.courses, 0)}`),
      ]),
    ];
    const ratio = lmsCap.rps / bareCap.rps;
    m.ratio = ratio;
    m.p95at500 = lms500.p95;
    const verdict = `LMS/bare throughput: **${f(ratio * 100, 0)}%** (target ≥ 40%); p95 at 500 req/s: **${f(lms500.p95, 2)} ms** (target < 15 ms).`;
    console.log(verdict);
    return `${out.join('\n')}\n${verdict}\n`;
  } finally {
    await teardown();
  }
}
