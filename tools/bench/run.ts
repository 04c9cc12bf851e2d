/**
 * Benchmarks (not tests): prints tables and writes docs/benchmarks.md.
 *   (a) authenticated GET /api/v1/courses/{id}: gateway → NATS → courses → PostgreSQL, each
 *       service in its own process, beside a bare Node HTTP + pg server running the same query;
 *   (b) events: outbox → relay → JetStream → durable consumer → PostgreSQL, beside bare JetStream.
 *   (c) learning: catalogue page and learner dashboard with 1,000 courses × 50 lessons and 10,000 learners
 *       seeded, gateway → NATS → courses/enrollments → PostgreSQL, beside bare SQL behind node:http.
 *   (d) files: a 1 GiB upload and download through the gateway to local disk and to an S3-protocol server
 *       (s3rver), with the gateway's RSS growth, beside streaming the same bytes to disk and `cp`.
 * Usage: pnpm bench [--seconds 10] [--rounds 3] [--only http|events|learning|files|notifications] [--courses 1000] [--mib 1024] [--recipients 2000] [--no-write]
 * Each round starts everything afresh; the tables show the last round, the spread table every round.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { courseEvents } from '@lms/contracts';
import { addToOutbox, JetStreamTransport, migrateAll, migrateSchema, openDatabase, OutboxRelay, type RuntimeTables } from '@lms/runtime';
import type { Kysely } from 'kysely';
import { AckPolicy, connect, nanos } from 'nats';
import { SERVICES } from '../services.ts';
import { http as req, NATS_URL, tempDatabase, uniqueName, waitFor } from '../test/support.ts';
import { seed } from '../seed.ts';
import { closedLoop, openLoop, percentile, type LoadResult } from './load.ts';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    only: { type: 'string' },
    courses: { type: 'string', default: '1000' },
    learners: { type: 'string', default: '10000' },
    mib: { type: 'string', default: '1024' },
    recipients: { type: 'string', default: '2000' },
    'no-write': { type: 'boolean' },
  },
});
const SECONDS = Number(args.seconds);
const root = path.resolve(import.meta.dirname, '../..');
const quiet = { debug() {}, info() {}, warn() {}, error: (...a: unknown[]) => console.error(...a) };
const children: ChildProcess[] = [];

/** CPU seconds (user+system) per process, from /proc: where the cores went during a run. */
function cpuTimes(pids: Record<string, number | undefined>): Record<string, number> {
  const out: Record<string, number> = {};
  const read = (pid: number | string) => {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1];
      if (stat === undefined) return 0;
      const f = stat.split(' ');
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
function cpuDelta(a: Record<string, number>, b: Record<string, number>) {
  return Object.fromEntries(Object.entries(b).map(([k, v]) => [k, Number((v - (a[k] ?? 0)).toFixed(2))]));
}

async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

function rssMiB(pid: number | undefined): number {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid ?? process.pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

function start(args: string[], env: Record<string, string>): ChildProcess {
  // node --import tsx rather than the tsx wrapper: the pid is the server's (for RSS) and signals reach it.
  const prof = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  const flags = process.env.BENCH_NODE_FLAGS ? process.env.BENCH_NODE_FLAGS.split(' ') : [];
  const child = spawn(process.execPath, [...prof, ...flags, '--import', 'tsx', ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit'] });
  children.push(child);
  return child;
}

async function stopAll() {
  await Promise.all(children.filter((c) => c.exitCode === null).map((c) => new Promise((r) => c.once('exit', r).kill('SIGTERM'))));
  children.length = 0;
}

const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '–');

function table(title: string, head: string[], rows: (string | number)[][]): string {
  const lines = [`### ${title}`, '', `| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`), ''];
  const text = lines.join('\n');
  console.log(`\n${text}`);
  return text;
}

/** What register and login answer (the part the benches use). */
interface Session {
  accessToken: string;
  user: { id: string };
}

interface Metrics {
  catalogP95?: number;
  dashboardP95?: number;
  ratio?: number;
  p95at500?: number;
  eventsPerSec?: number;
  p99at5000?: number;
}

/**
 * A fresh migrated database and JetStream namespace for one bench, the environment its LMS processes
 * run with, and the teardown that removes all of it.
 */
async function benchStack(requiredServices: string) {
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
    // A property, not a method: callers destructure it.
    teardown: async () => {
      await stopAll();
      await pg.drop();
      await dropStreams(ns);
    },
  };
}

async function httpBench(m: Metrics): Promise<string> {
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
    await waitFor(async () => (await fetch(`http://127.0.0.1:${barePort}/courses/00000000-0000-4000-8000-000000000000`).catch(() => undefined))?.status === 404 || undefined, 30_000, 250);
    const s = (await req(base, 'POST', '/api/v1/auth/register', { email: 'bench@example.com', password: 'load test password', displayName: 'Bench' })).body as Session;
    const token = s.accessToken;
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

/** (c) The learning core at scale: seeded catalogue, catalogue page and learner dashboard. */
async function learningBench(m: Metrics): Promise<string> {
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
    const learner = (await req(base, 'POST', '/api/v1/auth/register', { email: 'bench-learner@example.com', password: 'load test password', displayName: 'Learner' })).body as Session;
    const courses = Number(args.courses);
    const learners = Number(args.learners);
    const seeded = performance.now();
    await seed(pg.url, { courses, lessonsPerCourse: 50, learners, enrollmentsPerLearner: 3, extraLearnerIds: [learner.user.id] });
    const seedSeconds = (performance.now() - seeded) / 1000;
    const auth = { authorization: `Bearer ${learner.accessToken}` };
    const targets = [
      { name: 'catalogue page (GET /api/v1/catalog?limit=20)', lms: `${base}/api/v1/catalog?limit=20`, bare: `http://127.0.0.1:${barePort}/catalog` },
      { name: 'learner dashboard (GET /api/v1/me/dashboard)', lms: `${base}/api/v1/me/dashboard`, bare: `http://127.0.0.1:${barePort}/dashboard/${learner.user.id}` },
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
    const [catalogP95 = NaN, dashboardP95 = NaN] = p95s;
    m.catalogP95 = catalogP95;
    m.dashboardP95 = dashboardP95;
    const verdict = `p95 at 100 req/s: catalogue **${f(catalogP95, 2)} ms**, dashboard **${f(dashboardP95, 2)} ms** (target < 30 ms).`;
    console.log(verdict);
    return `${out.join('\n')}\n${verdict}\n`;
  } finally {
    await teardown();
  }
}

/** RSS of a process now, and its peak so far (VmHWM), in MiB. */
function memOf(pid: number | undefined): { rss: number; peak: number } {
  try {
    const s = fs.readFileSync(`/proc/${pid ?? process.pid}/status`, 'utf8');
    const kib = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? NaN) / 1024;
    return { rss: kib('VmRSS'), peak: kib('VmHWM') };
  } catch {
    return { rss: NaN, peak: NaN };
  }
}

/**
 * (e) Notifications: an announcement to N seeded learners of one course, through fan-out, routing (one settings
 * read per learner) and SMTP delivery to a local smtp-server, unthrottled; latency is from the announce call to
 * each mail's arrival. Baselines in the same run: nodemailer sending the same number of mails to the same server,
 * one connection per mail (as the LMS does) and over a pool.
 */
async function notificationsBench(): Promise<string> {
  const { SMTPServer } = await import('smtp-server');
  const nodemailer = (await import('nodemailer')).default;
  const N = Number(args.recipients);
  const arrivals: number[] = [];
  let counting = false;
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    // No reverse DNS of the client: without a resolver it costs a timeout per connection.
    disableReverseLookup: true,
    logger: false,
    onData(stream, _session, done) {
      stream.on('data', () => {});
      stream.on('end', () => {
        if (counting) arrivals.push(performance.now());
        done();
      });
    },
  });
  const smtpPort = await freePort();
  await new Promise<void>((r) => smtp.listen(smtpPort, '127.0.0.1', r));
  const rows: (string | number)[][] = [];
  const stats = (t0: number, label: string, rss: string) => {
    const lat = arrivals.map((a) => a - t0).sort((x, y) => x - y);
    const total = (lat.at(-1) ?? NaN) / 1000;
    rows.push([label, lat.length, f(lat.length / total, 0), f(percentile(lat, 50), 0), f(percentile(lat, 95), 0), f(percentile(lat, 99), 0), rss]);
  };
  const body = { subject: 'Lab closed', text: 'No lab on Friday. See you Monday.\n'.repeat(8), html: '<p>No lab on Friday.</p>'.repeat(8) };
  try {
    for (const pool of [false, true]) {
      const transport = nodemailer.createTransport(`smtp://127.0.0.1:${smtpPort}/${pool ? '?pool=true' : ''}`);
      arrivals.length = 0;
      counting = true;
      const t0 = performance.now();
      // A connection per mail costs ~0.1 s here: a sample of 200 is enough for its rate.
      for (let i = 0; i < (pool ? N : Math.min(N, 200)); i++) await transport.sendMail({ from: 'bench@example.org', to: `l${i}@seed.test`, ...body });
      counting = false;
      transport.close();
      stats(t0, `nodemailer, one ${pool ? 'pooled connection' : 'connection per mail'} (baseline)`, '–');
    }

    // The LMS's own mailer (one kept-open connection, Nagle off), alone.
    {
      const { createMailer } = await import('../../services/notifications/src/mailer.ts');
      const mailer = createMailer({ smtpUrl: `smtp://127.0.0.1:${smtpPort}`, from: 'bench@example.org', dataDir: 'memory://' });
      arrivals.length = 0;
      counting = true;
      const t0 = performance.now();
      for (let i = 0; i < N; i++) await mailer.send(`l${i}@seed.test`, body);
      counting = false;
      mailer.close();
      stats(t0, "the LMS's mailer alone, one at a time (baseline)", '–');
    }

    const { pg, env, teardown } = await benchStack('auth,users,courses,enrollments,notifications');
    try {
      const port = await freePort();
      const node = start(['tools/cli.ts', 'node', '--services', 'gateway,auth,users,courses,enrollments,notifications'], {
        ...env,
        PORT: String(port),
        NODE_ID: 'bench-notifications',
        SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
        NOTIFY_RATE_EMAIL: '1000000',
      });
      const base = `http://127.0.0.1:${port}`;
      await waitFor(async () => (await req(base, 'GET', '/health/ready')).status === 200 || undefined, 60_000, 250);
      const admin = ((await req(base, 'POST', '/api/v1/auth/register', { email: 'bench-admin@example.com', password: 'load test password', displayName: 'Admin' })).body as Session).accessToken;
      const { courseIds } = await seed(pg.url, { courses: 1, lessonsPerCourse: 3, learners: N, enrollmentsPerLearner: 1 });
      await new Promise((r) => setTimeout(r, 1500)); // the admin's own welcome and verification mail go first
      arrivals.length = 0;
      counting = true;
      let peak = memOf(node.pid).rss;
      const sampler = setInterval(() => (peak = Math.max(peak, memOf(node.pid).rss)), 100);
      const t0 = performance.now();
      const ann = await req(base, 'POST', `/api/v1/courses/${courseIds[0]}/announcements`, { title: 'Lab closed', body: 'No lab on Friday.\nSee you Monday.' }, admin);
      const announcementId = (ann.body as { id: string }).id;
      if (ann.status !== 202) throw new Error(`announce: ${ann.status} ${JSON.stringify(ann.body)}`);
      let listed = NaN;
      const done = await waitFor(async () => {
        const p = (await req(base, 'GET', `/api/v1/courses/${courseIds[0]}/announcements/${announcementId}`, undefined, admin)).body as {
          status: string;
          progress: { email?: { sent: number } };
        };
        if (Number.isNaN(listed) && p.status !== 'fanning_out') listed = performance.now() - t0;
        return p.status === 'done' && p;
      }, 600_000, 100);
      clearInterval(sampler);
      counting = false;
      if (done.progress.email?.sent !== N || arrivals.length !== N) throw new Error(`sent ${done.progress.email?.sent}, received ${arrivals.length} of ${N}`);
      stats(t0, 'LMS: announce → fan-out → route → SMTP', `${f(peak, 0)} peak`);
      rows.push([`of which listing the ${N} learners (fan-out)`, N, f(N / (listed / 1000), 0), '–', '–', '–', '–']);
    } finally {
      await teardown();
    }
  } finally {
    await new Promise<void>((r) => smtp.close(() => r()));
  }
  const out = table(`(e) An announcement to ${N} learners, delivered to a local smtp-server (unthrottled), beside nodemailer alone`, ['run', 'mails', 'mails/s', 'p50 ms', 'p95 ms', 'p99 ms', 'RSS MiB'], rows);
  return out;
}

const NOTIFICATIONS_NOTES = `How to read it: *mails* is how many reached the SMTP server; latency is from the call that started the batch
(the announce request, or the first \`sendMail\`) to each mail's arrival, so p50 is mostly queueing behind the
mails before it. The nodemailer rows are what its defaults give against a local server: a connection per mail
(~146 ms each) or one connection with Nagle's algorithm on (~45 ms each: the message end waits for the server's
delayed ACK). The LMS's mailer keeps pooled connections on a socket with Nagle off (~1.6 ms each). The LMS row adds
the fan-out (listing learners from the enrollments service), routing (batches of 50: one settings read, one
transaction) and each delivery's claim and record transactions, with 4 loops per node; the machine's two cores
also run PostgreSQL, NATS, the SMTP server and the bench.
`;

/** (d) Files: bytes in and out through the gateway, local disk and S3, beside plain disk writes and cp. */
async function filesBench(): Promise<string> {
  const { default: S3rver } = await import('s3rver');
  const { execFileSync } = await import('node:child_process');
  const { Readable } = await import('node:stream');
  const { pipeline } = await import('node:stream/promises');
  const http = await import('node:http');
  const MIB = Number(args.mib);
  const bytes = MIB * 1024 * 1024;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lms-files-bench-'));
  const chunk = Buffer.alloc(1024 * 1024, 0x5a);
  const source = () => {
    let n = 0;
    return new Readable({ read() { this.push(n++ < MIB ? chunk : null); } });
  };
  const rows: (string | number)[][] = [];
  const timeIt = async (fn: () => Promise<unknown>) => {
    const t0 = performance.now();
    await fn();
    return (performance.now() - t0) / 1000;
  };
  // Baselines: the bench process streams the same bytes to a file; cp copies that file.
  const plain = path.join(work, 'plain.bin');
  const tPlain = await timeIt(() => pipeline(source(), fs.createWriteStream(plain)));
  rows.push(['stream to disk (baseline)', f(MIB / tPlain, 0), '–', '–']);
  const tCp = await timeIt(async () => execFileSync('cp', [plain, path.join(work, 'copy.bin')]));
  rows.push(['cp (baseline)', f(MIB / tCp, 0), '–', '–']);
  fs.rmSync(path.join(work, 'copy.bin'));

  const s3 = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: path.join(work, 's3'), configureBuckets: [{ name: 'bench', configs: [] }] });
  const s3Port = ((await s3.run()) as { port: number }).port;
  try {
    for (const backend of ['local', 's3'] as const) {
      const { env, teardown } = await benchStack('auth,users,files');
      const port = await freePort();
      const storageEnv: Record<string, string> =
        backend === 'local'
          ? { FILES_DIR: path.join(work, 'files') }
          : { FILES_STORAGE: 's3', S3_BUCKET: 'bench', S3_ENDPOINT: `http://127.0.0.1:${s3Port}`, S3_ACCESS_KEY_ID: 'S3RVER', S3_SECRET_ACCESS_KEY: 'S3RVER' };
      const node = start(['tools/cli.ts', 'node', '--services', 'gateway,auth,users,courses,files'], {
        ...env,
        PORT: String(port),
        NODE_ID: `bench-files-${backend}`,
        // As docker-compose runs the gateway: a small young generation keeps streaming memory flat.
        NODE_OPTIONS: process.env.BENCH_FILES_NODE_OPTIONS ?? '--max-semi-space-size=2',
        FILES_MAX_BYTES: String(bytes * 2),
        FILES_QUOTA_BYTES: String(bytes * 4),
        ...storageEnv,
      });
      try {
        const base = `http://127.0.0.1:${port}`;
        await waitFor(async () => (await req(base, 'GET', '/health/ready')).status === 200 || undefined, 60_000, 250);
        const token = ((await req(base, 'POST', '/api/v1/auth/register', { email: 'files-bench@example.com', password: 'load test password', displayName: 'Bench' })).body as Session).accessToken;
        const before = memOf(node.pid).rss;
        let peak = before;
        const sampler = setInterval(() => (peak = Math.max(peak, memOf(node.pid).rss)), 50);
        let fileId = '';
        const tUp = await timeIt(
          () =>
            new Promise<void>((resolve, reject) => {
              const r = http.request(`${base}/api/v1/files`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-length': String(bytes), 'x-filename': 'bench.bin' } }, (res) => {
                let body = '';
                res.on('data', (d) => (body += d));
                res.on('end', () => (res.statusCode === 201 ? ((fileId = (JSON.parse(body) as { id: string }).id), resolve()) : reject(new Error(`upload: ${res.statusCode} ${body}`))));
              });
              r.on('error', reject);
              source().pipe(r);
            }),
        );
        const upGrowth = peak - before;
        peak = memOf(node.pid).rss;
        const downBefore = peak;
        const tDown = await timeIt(
          () =>
            new Promise<void>((resolve, reject) => {
              http.get(`${base}/api/v1/files/${fileId}/content`, { headers: { authorization: `Bearer ${token}` } }, (res) => {
                let n = 0;
                res.on('data', (d: Buffer) => (n += d.length));
                res.on('end', () => (n === bytes ? resolve() : reject(new Error(`download: ${n} bytes`))));
              }).on('error', reject);
            }),
        );
        clearInterval(sampler);
        rows.push([`upload through the gateway → ${backend}`, f(MIB / tUp, 0), f(upGrowth, 0), f(memOf(node.pid).peak, 0)]);
        rows.push([`download through the gateway ← ${backend}`, f(MIB / tDown, 0), f(peak - downBefore, 0), f(memOf(node.pid).peak, 0)]);
      } finally {
        await teardown();
      }
    }
  } finally {
    await new Promise<void>((r) => s3.close(() => r()));
    fs.rmSync(work, { recursive: true, force: true });
  }
  const out = table(`(d) ${MIB} MiB through the gateway (one process: gateway, auth, users, courses, files), beside the baselines`, ['run', 'MiB/s', 'RSS growth MiB', 'peak RSS MiB'], rows);
  const local = Number(rows.find((r) => String(r[0]).startsWith('upload through the gateway → local'))?.[1]);
  const verdict = `Upload to local storage through the gateway: **${f(local, 0)} MiB/s** (target ≥ 200 MB/s ≈ 191 MiB/s).`;
  console.log(verdict);
  return `${out}\n${verdict}\n`;
}

/** The streams the services created for this run's namespace. */
async function dropStreams(ns: string) {
  const nc = await connect({ servers: NATS_URL });
  const jsm = await nc.jetstreamManager();
  for await (const s of jsm.streams.list()) if (s.config.name.startsWith(`${ns.toUpperCase()}_`)) await jsm.streams.delete(s.config.name);
  await nc.close();
}

async function eventsBench(m: Metrics): Promise<string> {
  const pg = await tempDatabase();
  const ns = uniqueName('bench');
  const db = await openDatabase({ databaseUrl: pg.url, dataDir: '' }, 20);
  await migrateSchema(db, 'bench', {
    '1_seen': {
      up: async (k: Kysely<any>) => void (await k.schema.createTable('seen').addColumn('event_id', 'uuid').addColumn('category', 'text').execute()),
    },
  });
  const k = db.forSchema<RuntimeTables>('bench');
  const transport = await JetStreamTransport.connect({ url: NATS_URL, namespace: ns, logger: quiet });
  const relay = new OutboxRelay('bench', k, transport, quiet);
  relay.start();
  const committed = new Map<string, number>();
  const latencies: number[] = [];
  let handled = 0;
  // The consumer is another service: its own process, as in the mesh.
  const consumerProc = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'tools/bench/consumer-process.ts'), pg.url, NATS_URL, ns], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.push(consumerProc);
  await new Promise<void>((resolve) => {
    consumerProc.on('message', (m: 'ready' | Array<[string, number]>) => {
      if (m === 'ready') return resolve();
      for (const [id, t] of m) {
        const c = committed.get(id);
        if (c !== undefined) latencies.push(t - c);
        handled++;
      }
    });
  });
  const payload = { courseId: '00000000-0000-4000-8000-000000000001', title: 'B', category: 'bench', ownerId: '00000000-0000-4000-8000-000000000002', publishedAt: new Date().toISOString() };

  async function writeTx(n: number) {
    const ids = await k.transaction().execute(async (trx) => {
      const out: string[] = [];
      for (let i = 0; i < n; i++) out.push(await addToOutbox(trx, courseEvents.published, payload));
      return out;
    });
    const t = performance.timeOrigin + performance.now();
    for (const id of ids) committed.set(id, t);
    relay.kick();
  }

  async function run(total: number, pace?: number) {
    latencies.length = 0;
    handled = 0;
    committed.clear();
    const t0 = performance.now();
    const perTx = 10;
    if (pace) {
      // Paced: every 10 ms, the transactions that keep `pace` events/s.
      const txPerTick = pace / 100 / perTx;
      const ticks = total / (txPerTick * perTx);
      const inflight: Promise<void>[] = [];
      for (let i = 0; i < ticks; i++) {
        const wait = t0 + i * 10 - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        for (let j = 0; j < txPerTick; j++) inflight.push(writeTx(perTx));
      }
      await Promise.all(inflight);
    } else {
      let left = total / perTx;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (left-- > 0) await writeTx(perTx);
        }),
      );
    }
    await waitFor(async () => handled >= total || undefined, 120_000, 20);
    const seconds = (performance.now() - t0) / 1000;
    const sorted = latencies.sort((a, b) => a - b);
    return { total, seconds, rate: total / seconds, p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99) };
  }

  await run(2_000); // warm-up
  const burst = await run(30_000);
  const paced = await run(5_000 * Math.min(SECONDS, 6), 5_000);
  const memLms = `${f(rssMiB(undefined), 0)} + ${f(rssMiB(consumerProc.pid), 0)}`;
  consumerProc.disconnect();
  await new Promise((r) => consumerProc.once('exit', r));
  await relay.stop();
  await transport.close();
  await db.close();

  // Baseline: bare JetStream publish → pull consumer → ack, no database, no outbox.
  const nc = await connect({ servers: NATS_URL });
  const jsm = await nc.jetstreamManager();
  const js = nc.jetstream();
  const stream = `${ns.toUpperCase()}_BARE`;
  await jsm.streams.add({ name: stream, subjects: [`${ns}.bare.>`] });
  await jsm.consumers.add(stream, { durable_name: 'bare', ack_policy: AckPolicy.Explicit, ack_wait: nanos(30_000), max_ack_pending: 5_000 });
  const consumer = await js.consumers.get(stream, 'bare');
  const sent = new Map<number, number>();
  const bareLat: number[] = [];
  const N = 30_000;
  let got = 0;
  const msgs = await consumer.consume({ max_messages: 1_000 });
  const done = (async () => {
    for await (const m of msgs) {
      const s = sent.get(Number(new TextDecoder().decode(m.data)));
      if (s !== undefined) bareLat.push(performance.now() - s);
      m.ack();
      if (++got >= N) break;
    }
  })();
  const b0 = performance.now();
  for (let i = 0; i < N; i += 500) {
    await Promise.all(
      Array.from({ length: 500 }, (_, j) => {
        sent.set(i + j, performance.now());
        return js.publish(`${ns}.bare.x`, new TextEncoder().encode(String(i + j)));
      }),
    );
  }
  await done;
  const bareSec = (performance.now() - b0) / 1000;
  bareLat.sort((a, b) => a - b);
  for (const s of [stream, transport.streamName('LMS_COURSE'), transport.dlqStream]) await jsm.streams.delete(s).catch(() => false);
  await nc.close();
  await pg.drop();

  m.eventsPerSec = burst.rate;
  m.p99at5000 = paced.p99;
  const head = ['run', 'events', 'events/s', 'p50 ms', 'p95 ms', 'p99 ms', 'RSS MiB'];
  const out = table('(b) events: commit → handled (producer + relay in one process → JetStream → consumer process)', head, [
    ['bare JetStream publish → consume (baseline, no DB)', N, f(N / bareSec, 0), f(percentile(bareLat, 50), 1), f(percentile(bareLat, 95), 1), f(percentile(bareLat, 99), 1), '–'],
    ['LMS, as fast as the writers go (8 writers × 10-event tx)', burst.total, f(burst.rate, 0), f(burst.p50, 1), f(burst.p95, 1), f(burst.p99, 1), memLms],
    ['LMS, paced at 5,000 events/s', paced.total, f(paced.rate, 0), f(paced.p50, 1), f(paced.p95, 1), f(paced.p99, 1), memLms],
  ]);
  const verdict = `Events: **${f(burst.rate, 0)} events/s** (target ≥ 5,000); p99 commit→handled at 5,000/s: **${f(paced.p99, 1)} ms** (target < 100 ms).`;
  console.log(verdict);
  return `${out}\n${verdict}\n`;
}

async function main() {
  const when = new Date().toISOString();
  const rounds = Math.max(1, Number(args.rounds));
  const all: Metrics[] = [];
  let parts: string[] = [];
  const want = (k: string) => (!args.only && k !== 'files') || args.only === k;
  for (let r = 1; r <= rounds && (want('http') || want('events')); r++) {
    console.log(`\n## round ${r}/${rounds}`);
    const m: Metrics = {};
    parts = [];
    if (want('http')) parts.push(await httpBench(m));
    if (want('events')) parts.push(await eventsBench(m));
    all.push(m);
  }
  const notificationsPart = args.only === 'notifications' ? await notificationsBench() : '';
  if (notificationsPart && !args['no-write']) {
    const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
    fs.writeFileSync(
      path.join(root, 'docs/benchmarks-notifications.md'),
      `# Notifications benchmark\n\nLatest \`pnpm bench --only notifications --recipients ${args.recipients}\` (${when}, ${machine}). One LMS process (gateway,\nauth, users, courses, enrollments, notifications) with PostgreSQL, NATS, the smtp-server and the bench on the same machine;\nlearners seeded straight into PostgreSQL (\`lms seed\`); the send rate is unthrottled (NOTIFY_RATE_EMAIL=1000000)${process.env.REDIS_URL ? ', its window still\ncounted in Redis for every mail (REDIS_URL set)' : ''}.\nLatency is from the announce call to each mail's arrival at the SMTP server.\n\n${notificationsPart}\n${NOTIFICATIONS_NOTES}`,
    );
    console.log('\nwrote docs/benchmarks-notifications.md');
  }
  const filesPart = args.only === 'files' ? await filesBench() : '';
  if (filesPart && !args['no-write']) {
    const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
    fs.writeFileSync(
      path.join(root, 'docs/benchmarks-files.md'),
      `# Files benchmark\n\nLatest \`pnpm bench --only files\` (${when}, ${machine}). One LMS process (gateway, auth, users, courses,\nfiles) with PostgreSQL, NATS, s3rver and the load generator on the same machine; baselines in the same run.\nRSS growth is the gateway process's, sampled every 50 ms during the transfer. The process runs with
NODE_OPTIONS=--max-semi-space-size=2, as docker-compose runs the gateway (see below).\n\n${filesPart}\ns3rver is a JavaScript S3 server writing to the same disk: its numbers bound the LMS's S3 path from below.\n`,
    );
    console.log('\nwrote docs/benchmarks-files.md');
  }
  // The learning bench seeds a large catalogue first: once per run, after the rounds.
  const learning = want('learning') ? await learningBench({}) : '';
  if (learning && !args['no-write']) {
    const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
    fs.writeFileSync(
      path.join(root, 'docs/benchmarks-learning.md'),
      `# Learning core benchmark\n\nLatest \`pnpm bench --only learning\` (${when}, ${machine}; ${SECONDS} s per run). The gateway (with auth and users),\ncourses and enrollments each run in their own process, with PostgreSQL 15, NATS and the load generator on the same\nmachine; the baseline is the same SQL behind a bare node:http server, measured in the same run.\n\n${learning}\nThe dashboard reads the caller's enrollments, their progress rows, and each course's published outline (cached\nfor 5 s in the enrollments service); the catalogue reads published snapshots joined to their courses.\n`,
    );
    console.log('\nwrote docs/benchmarks-learning.md');
  }
  if (!all.length) return;
  const spread = table(
    `Every round (targets: LMS/bare ≥ 40%, p95 at 500 req/s < 15 ms, ≥ 5,000 events/s, p99 at 5,000 events/s < 100 ms)`,
    ['round', 'LMS/bare req/s', 'p95 ms at 500 req/s', 'events/s', 'p99 ms at 5,000 events/s'],
    all.map((m, i) => [i + 1, m.ratio ? `${f(m.ratio * 100, 0)}%` : '–', f(m.p95at500 ?? NaN, 2), f(m.eventsPerSec ?? NaN, 0), f(m.p99at5000 ?? NaN, 1)]),
  );
  const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  if (!args['no-write'] && !args.only) {
    const doc = `# Benchmarks

Latest results of \`pnpm bench\` (${when}, ${machine}, ${rounds} rounds of ${SECONDS} s). Each service runs in its
own process on one machine with the load generator, PostgreSQL 15 and NATS; the baselines run in the same
round, on the same machine. The machine has 2 cores, so results move from round to round: the spread table
shows every round, the detailed tables the last one.

${spread}
${parts.join('\n')}
How to read it: *capacity* is a closed loop (BENCH_CONNECTIONS, default 64, clients back to back); *latency
under load* is an open loop that starts 500 requests a second on schedule and counts latency from when each was
due. Event latency is from the producer's commit to the consumer's commit. The events bench's projection
applies each batch with one INSERT (\`handleMany\`); with one INSERT per event, the run before that change gave
4.7–5.9k events/s and p99 61–186 ms at 5,000 events/s on this machine.
`;
    fs.writeFileSync(path.join(root, 'docs/benchmarks.md'), doc);
    console.log('\nwrote docs/benchmarks.md');
  }
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(async () => {
    await stopAll();
    process.exit();
  });
