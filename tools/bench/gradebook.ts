/** The gradebook grid at scale: 2,000 learners × 50 items seeded in the grades schema, grid pages through the gateway beside bare SQL. */
import pg from 'pg';
import { benchStack, f, freePort, start, table } from './common.ts';
import { http as req, waitFor } from '../test/support.ts';

const LEARNERS = 2000;
const ITEMS = 50;
/** Page sizes measured: the API's default (what a grid screen shows) and its maximum. */
const LIMITS = [50, 200];
const REQUESTS = 150;

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const row = (name: string, ms: number[]) => {
  const s = [...ms].sort((a, b) => a - b);
  return [name, ms.length, f(pct(s, 50), 2), f(pct(s, 95), 2), f(pct(s, 99), 2)];
};

export async function gradebookBench(): Promise<string> {
  const { pg: db, env, teardown } = await benchStack('auth,users,courses,grades');
  const client = new pg.Client({ connectionString: db.url });
  try {
    const port = await freePort();
    start(['tools/cli.ts', 'node', '--services', 'gateway,auth,users,courses,grades'], { ...env, PORT: String(port), NODE_ID: 'bench-gradebook' });
    const base = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await req(base, 'GET', '/health/ready')).status === 200 || undefined, 60_000, 250);
    // The first account is the administrator: it grades every course.
    const admin = (
      await req(base, 'POST', '/api/v1/auth/register', { email: 'bench-grader@example.com', password: 'load test password', displayName: 'Grader' })
    ).body as { accessToken: string };
    const course = (await req(base, 'POST', '/api/v1/courses', { title: 'Gradebook bench', category: 'bench' }, admin.accessToken)).body as { id: string };
    await client.connect();
    const seeded = performance.now();
    await client.query(
      `insert into grades.items (id, course_id, source, title, max_points)
       select gen_random_uuid(), $1, 'manual', 'Item ' || i, 10 from generate_series(1, ${ITEMS}) i`,
      [course.id],
    );
    await client.query(`insert into grades.learners (course_id, user_id, status) select $1, gen_random_uuid(), 'active' from generate_series(1, ${LEARNERS})`, [
      course.id,
    ]);
    // Every learner has a profile: the grid reads their names from users (one call per page).
    await client.query(
      `insert into users.users (id, email, display_name, roles)
       select user_id, 'learner-' || user_id || '@bench.test', 'Learner ' || left(user_id::text, 8), array['student'] from grades.learners where course_id = $1`,
      [course.id],
    );
    await client.query(
      `insert into grades.grades (course_id, user_id, item_id, points)
       select $1, l.user_id, i.id, floor(random() * 11) from grades.learners l cross join grades.items i where l.course_id = $1 and i.course_id = $1`,
      [course.id],
    );
    await client.query('analyze');
    const seedSeconds = (performance.now() - seeded) / 1000;
    const firstIds = (
      await client.query<{ user_id: string }>('select user_id from grades.learners where course_id = $1 order by user_id', [course.id])
    ).rows.map((r) => r.user_id);
    const tables: string[] = [];
    let errors = 0;
    for (const LIMIT of LIMITS) {
      const cursors: Array<string | null> = [null];
      // Walk the pages once to learn every cursor, then measure the pages in turn.
      for (let c: string | null = null; ;) {
        const r = await req(base, 'GET', `/api/v1/courses/${course.id}/gradebook?limit=${LIMIT}${c ? `&cursor=${c}` : ''}`, undefined, admin.accessToken);
        if (r.status !== 200) throw new Error(`gradebook answered ${r.status}`);
        c = (r.body as { nextCursor: string | null }).nextCursor;
        if (!c) break;
        cursors.push(c);
      }
      const lms: number[] = [];
      for (let i = 0; i < REQUESTS; i++) {
        const c = cursors[i % cursors.length];
        const t = performance.now();
        const r = await fetch(`${base}/api/v1/courses/${course.id}/gradebook?limit=${LIMIT}${c ? `&cursor=${c}` : ''}`, {
          headers: { authorization: `Bearer ${admin.accessToken}` },
        });
        await r.arrayBuffer();
        if (r.status !== 200) errors++;
        lms.push(performance.now() - t);
      }
      // Bare SQL: the same reads (items, categories, settings, a learners page, their grades, total overrides and names).
      const bare: number[] = [];
      for (let i = 0; i < REQUESTS; i++) {
        const after = i % cursors.length === 0 ? '00000000-0000-0000-0000-000000000000' : (firstIds[(i % cursors.length) * LIMIT - 1] ?? '');
        const t = performance.now();
        await client.query('select * from grades.items where course_id = $1 order by created_at, id', [course.id]);
        await client.query('select * from grades.categories where course_id = $1', [course.id]);
        await client.query('select * from grades.settings where course_id = $1', [course.id]);
        const page = (
          await client.query<{ user_id: string }>('select user_id from grades.learners where course_id = $1 and user_id > $2 order by user_id limit $3', [
            course.id,
            after,
            LIMIT + 1,
          ])
        ).rows;
        const ids = page.slice(0, LIMIT).map((r) => r.user_id);
        await client.query('select user_id, item_id, points, override, released, feedback from grades.grades where course_id = $1 and user_id = any($2)', [
          course.id,
          ids,
        ]);
        await client.query('select * from grades.totals where course_id = $1 and user_id = any($2)', [course.id, ids]);
        await client.query('select id, display_name, email, status from users.users where id = any($1)', [ids]);
        bare.push(performance.now() - t);
      }
      tables.push(
        table(
          `Gradebook grid, ${LIMIT}-learner page${LIMIT === 50 ? ' (the default)' : ' (the most a page holds)'} (target p95 < 150 ms)`,
          ['run', 'requests', 'p50 ms', 'p95 ms', 'p99 ms'],
          [row('LMS GET /api/v1/courses/{id}/gradebook', lms), row('bare SQL (pg, same reads)', bare)],
        ),
      );
    }
    return (
      `Seeded ${LEARNERS} learners (with profiles) × ${ITEMS} items (${LEARNERS * ITEMS} grades) in ${f(seedSeconds, 1)} s; ${REQUESTS} sequential requests per page size, every item a column, names from users${errors ? `; ${errors} errors` : ''}.\n\n` +
      tables.join('\n')
    );
  } finally {
    await client.end().catch(() => undefined);
    await teardown();
  }
}
