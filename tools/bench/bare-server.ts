/** Baseline: the same query as courses.get behind a bare Node HTTP server with a pg pool. No auth, no validation. */
import http from 'node:http';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
pool.on('error', () => {});
const server = http.createServer(async (req, res) => {
  const id = req.url?.split('/').pop() ?? '';
  try {
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
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('ready'));
