/** (c) The learning core at scale: catalogue page and learner dashboard over a seeded catalogue, beside bare SQL. */
import { args, benchStack, f, freePort, rssMiB, SECONDS, start, table, type Metrics } from './common.ts';
import { seed } from '../seed.ts';
import { http as req, waitFor } from '../test/support.ts';
import { closedLoop, openLoop, type LoadResult } from './load.ts';

/** (c) The learning core at scale: seeded catalogue, catalogue page and learner dashboard. */
export async function learningBench(m: Metrics): Promise<string> {
  const { pg, env, teardown } = await benchStack('auth,users,courses,enrollments');
  try {
    const [edgePort, barePort] = [await freePort(), await freePort()];
    const edge = start(['tools/cli.ts', 'node', '--services', 'gateway,auth,users'], { ...env, PORT: String(edgePort), NODE_ID: 'bench-edge' });
    const coursesNode = start(['tools/cli.ts', 'node', '--services', 'courses'], { ...env, NODE_ID: 'bench-courses' });
    const enrollmentsNode = start(['tools/cli.ts', 'node', '--services', 'enrollments'], { ...env, NODE_ID: 'bench-enrollments' });
    const bare = start(['tools/bench/bare-server.ts'], { DATABASE_URL: pg.url, PORT: String(barePort) });
    const base = `http://127.0.0.1:${edgePort}`;
    await waitFor(async () => (await req(base, 'GET', '/health/ready')).status === 200 || undefined, 60_000, 250);
    await req(base, 'POST', '/api/v1/auth/register', { email: 'bench-admin@example.com', password: 'load test password', displayName: 'Admin' });
    const learner = (
      await req(base, 'POST', '/api/v1/auth/register', { email: 'bench-learner@example.com', password: 'load test password', displayName: 'Learner' })
    ).body as { accessToken: string; user: { id: string } };
    const courses = Number(args.courses);
    const learners = Number(args.learners);
    const seeded = performance.now();
    await seed(pg.url, { courses, lessonsPerCourse: 50, learners, enrollmentsPerLearner: 3, extraLearnerIds: [learner.user.id] });
    const seedSeconds = (performance.now() - seeded) / 1000;
    const auth = { authorization: `Bearer ${learner.accessToken}` };
    const targets = [
      { name: 'catalogue page (GET /api/v1/catalog?limit=20)', lms: `${base}/api/v1/catalog?limit=20`, bare: `http://127.0.0.1:${barePort}/catalog` },
      {
        name: 'learner dashboard (GET /api/v1/me/dashboard)',
        lms: `${base}/api/v1/me/dashboard`,
        bare: `http://127.0.0.1:${barePort}/dashboard/${learner.user.id}`,
      },
    ];
    const head = ['run', 'req/s', 'p50 ms', 'p95 ms', 'p99 ms', 'errors', 'RSS MiB'];
    const out: string[] = [`Seeded ${courses} courses × 50 lessons, ${learners} learners × 3 enrollments in ${f(seedSeconds, 0)} s.\n`];
    const p95s: number[] = [];
    for (const t of targets) {
      await closedLoop(t.lms, auth, 8, 2);
      await closedLoop(t.bare, {}, 8, 2);
      const bareCap = await closedLoop(t.bare, {}, 16, SECONDS);
      const lmsCap = await closedLoop(t.lms, auth, 16, SECONDS);
      const bareFixed = await openLoop(t.bare, {}, 100, SECONDS);
      const lmsFixed = await openLoop(t.lms, auth, 100, SECONDS);
      const mem = `${f(rssMiB(edge.pid), 0)} + ${f(rssMiB(coursesNode.pid), 0)} + ${f(rssMiB(enrollmentsNode.pid), 0)}`;
      const row = (name: string, r: LoadResult, memory: string) => [name, f(r.rps, 0), f(r.p50, 2), f(r.p95, 2), f(r.p99, 2), r.errors, memory];
      out.push(
        table(`(c) ${t.name}: 16 connections (capacity), then a fixed 100 req/s, ${SECONDS}s each`, head, [
          row('bare node:http + pg, capacity (baseline)', bareCap, f(rssMiB(bare.pid), 0)),
          row('LMS, capacity', lmsCap, mem),
          row('bare node:http + pg, 100 req/s (baseline)', bareFixed, f(rssMiB(bare.pid), 0)),
          row('LMS, 100 req/s', lmsFixed, mem),
        ]),
      );
      p95s.push(lmsFixed.p95);
    }
    m.catalogP95 = p95s[0];
    m.dashboardP95 = p95s[1];
    const verdict = `p95 at 100 req/s: catalogue **${f(p95s[0] ?? NaN, 2)} ms**, dashboard **${f(p95s[1] ?? NaN, 2)} ms** (target < 30 ms).`;
    console.log(verdict);
    return `${out.join('\n')}\n${verdict}\n`;
  } finally {
    await teardown();
  }
}
