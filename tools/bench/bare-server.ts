/** Baseline: the same query as courses.get behind a bare Node HTTP server with a pg pool. No auth, no validation. */
import http from 'node:http';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
pool.on('error', () => {});
/** The learning bench's baselines: the catalogue page and a learner's dashboard, as plain SQL. */
async function learning(url: string, res: http.ServerResponse): Promise<boolean> {
  let rows: unknown[] | undefined;
  if (url.startsWith('/catalog')) {
    rows = (await pool.query(`select course_id, course from courses.catalog where visibility = 'public' order by published_at desc, course_id desc limit 21`))
      .rows;
  } else if (url.startsWith('/dashboard/')) {
    const user = url.split('/').pop();
    const es = (
      await pool.query<{ id: string; course_id: string }>(`select * from enrollments.enrollments where user_id = $1 order by created_at desc limit 201`, [user])
    ).rows;
    rows = [];
    for (const e of es) {
      const v = await pool.query<{ title: string }>(`select course->>'title' as title from courses.catalog where course_id = $1`, [e.course_id]);
      const p = await pool.query(`select lesson_id from enrollments.lesson_progress where enrollment_id = $1`, [e.id]);
      rows.push({ ...e, title: v.rows[0]?.title, done: p.rows.length });
    }
  }
  if (!rows) return false;
  const body = JSON.stringify({ items: rows });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
  return true;
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const id = req.url?.split('/').pop() ?? '';
  try {
    if (await learning(req.url ?? '', res)) return;
    const r = await pool.query('select * from courses.courses where id = $1', [id]);
    if (!r.rows[0]) {
      res.writeHead(404).end();
      return;
    }
    const body = JSON.stringify(r.rows[0]);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
  } catch {
    res.writeHead(500).end();
  }
}

const server = http.createServer((req, res) => void handle(req, res));
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('ready'));
