/**
 * Graceful shutdown, end to end: HAProxy (Debian's, with infra/haproxy/haproxy.cfg) in front of two gateways, two
 * service nodes behind them, all OS processes on a PostgreSQL of the test's own, the local NATS and Redis. Under a
 * learner load through HAProxy (catalogue, content, dashboard, enrolments, lesson completions), every process is
 * stopped with SIGTERM in turn and started again, gateways included: no request may fail, every process must exit 0,
 * each gateway must be out of HAProxy's rotation before it exits, and every enrolment answered 201 is in the database
 * exactly once.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { migrateAll, openDatabase } from '@lms/runtime';
import { ServiceBroker } from 'moleculer';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { debBinary } from '../debs.mjs';
import { pick } from '../services.ts';
import { lmsProcess, privatePostgres, type LmsProcess, type PrivatePostgres } from './procs.ts';
import { defined, dropStreams, freePort, NATS_URL, query, REDIS_URL, uniqueName, waitFor } from './support.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SERVICES = 'auth,users,courses,enrollments';
const GRACE_MS = 2_000;

let pg: PrivatePostgres;
let ns: string;
let haproxy: ChildProcess | undefined;
let haproxyLog = '';
let cfgDir: string;
let watcher: ServiceBroker;
const procs = new Map<string, LmsProcess>();
const gatewayPorts = new Map<string, number>();
let lbPort: number;
let statsPort: number;

const nodeEnv = () => ({
  LMS_MODE: 'mesh',
  DATABASE_URL: pg.url,
  NATS_URL,
  REDIS_URL,
  LMS_NAMESPACE: ns,
  LMS_REQUIRED_SERVICES: SERVICES,
  SHUTDOWN_GRACE_MS: String(GRACE_MS),
  RATE_LIMIT_PER_MINUTE: '1000000',
  RATE_LIMIT_AUTH_PER_MINUTE: '1000000',
  NODE_ENV: 'test',
});

async function start(name: string): Promise<LmsProcess> {
  const port = gatewayPorts.get(name);
  const p = await lmsProcess(port ? 'gateway' : SERVICES, { ...nodeEnv(), NODE_ID: `${name}-${Date.now()}`, ...(port ? { PORT: String(port) } : {}) }, 60_000, {
    built: true,
  });
  procs.set(name, p);
  return p;
}

/** infra/haproxy/haproxy.cfg as shipped, but for local gateways instead of Docker's DNS, plus a stats page to watch. */
function haproxyConfig(): string {
  const shipped = fs.readFileSync(path.join(ROOT, 'infra/haproxy/haproxy.cfg'), 'utf8');
  const servers = [...gatewayPorts].map(([name, port]) => `    server ${name} 127.0.0.1:${port}`).join('\n');
  const cfg = shipped
    .replace(/^resolvers docker\n(?: {4}.*\n)+/m, '')
    .replace(/^ {4}bind :3000$/m, `    bind 127.0.0.1:${lbPort}`)
    .replace(/^ {4}server-template .*$/m, servers);
  expect(cfg).toContain(`server gw1 127.0.0.1:`);
  return `${cfg}\nfrontend stats\n    bind 127.0.0.1:${statsPort}\n    stats enable\n    stats uri /stats\n`;
}

/** HAProxy's view of each gateway: its check status (UP, DOWN, `UP 1/2` in transition) and the retries it needed. */
async function lbStats(): Promise<Map<string, { status: string; retries: number }>> {
  const csv = await (await fetch(`http://127.0.0.1:${statsPort}/stats;csv`)).text();
  const out = new Map<string, { status: string; retries: number }>();
  for (const line of csv.split('\n')) {
    const cols = line.split(',');
    // Columns: pxname, svname, …, wretr (15), wredis (16), status (17).
    if (cols[0] === 'gateways' && cols[1] !== 'BACKEND') out.set(defined(cols[1]), { status: defined(cols[17]), retries: Number(cols[15]) + Number(cols[16]) });
  }
  return out;
}
const lbStatus = async () => new Map([...(await lbStats())].map(([k, v]) => [k, v.status]));

async function api(method: string, url: string, body?: unknown, token?: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${lbPort}/api/v1${url}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

beforeAll(async () => {
  // The nodes run the build output, as in production (and start three times faster than through tsx).
  execFileSync(process.execPath, [path.join(ROOT, 'tools/build.mjs')], { stdio: 'inherit' });
  ns = uniqueName('rr');
  pg = await privatePostgres();
  const db = await openDatabase({ databaseUrl: pg.url, dataDir: '' });
  await migrateAll(db, pick(SERVICES));
  await db.close();
  lbPort = await freePort();
  statsPort = await freePort();
  for (const gw of ['gw1', 'gw2', 'gw3', 'gw4']) gatewayPorts.set(gw, await freePort());
  watcher = new ServiceBroker({ namespace: ns, nodeID: `watch-${ns}`, transporter: { type: 'NATS', options: { url: NATS_URL } }, logger: false });
  await watcher.start();
  await Promise.all(['svc1', 'svc2', 'gw1', 'gw2'].map(start));

  cfgDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lms-haproxy-'));
  fs.writeFileSync(path.join(cfgDir, 'haproxy.cfg'), haproxyConfig());
  const bin = debBinary('haproxy');
  haproxy = spawn(bin.path, ['-db', '-f', path.join(cfgDir, 'haproxy.cfg')], { env: { ...process.env, ...bin.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  haproxy.stdout?.on('data', (c: Buffer) => (haproxyLog += c.toString()));
  haproxy.stderr?.on('data', (c: Buffer) => (haproxyLog += c.toString()));
  await waitFor(async () => (await lbStatus()).get('gw1') === 'UP' && (await lbStatus()).get('gw2') === 'UP', 30_000, 100);
}, 90_000);

afterAll(async () => {
  await Promise.all([...procs.values()].map((p) => p.kill('SIGKILL')));
  haproxy?.kill('SIGKILL');
  await watcher?.stop();
  if (cfgDir) fs.rmSync(cfgDir, { recursive: true, force: true });
  pg?.remove();
  if (ns) await dropStreams(ns);
});

/** The services a node announces, as the rest of the mesh sees them (empty once it left the registry). */
function servicesOf(nodeId: string): string[] {
  const list = watcher.registry.getServiceList({ onlyAvailable: true, skipInternal: true }) as Array<{ name: string; nodeID: string }>;
  return list.filter((s) => s.nodeID === nodeId).map((s) => s.name);
}
const nodeIdOf = (p: LmsProcess) => defined(/node (\S+) started/.exec(p.output())?.[1], 'the node id in its output');

it('restarts every process, gateways included, with SIGTERM under load: no failed request, every effect once', async () => {
  // The journey's setup, through HAProxy: an admin (the first account), a published course with a lesson, learners.
  const admin = await api('POST', '/auth/register', { email: 'admin@rr.test', password: 'correct horse battery 42', displayName: 'Admin' });
  expect(admin.status).toBe(201);
  const token = admin.body.accessToken as string;
  const courseIds: string[] = [];
  const lessonIds: string[] = [];
  for (let i = 0; i < 4; i++) {
    const c = await api('POST', '/courses', { title: `Rolling ${i}`, category: 'ops' }, token);
    expect(c.status, JSON.stringify(c.body)).toBe(201);
    const m = await api('POST', `/courses/${c.body.id}/modules`, { title: 'Basics' }, token);
    const l = await api('POST', `/modules/${m.body.id}/lessons`, { title: 'Intro', content: { type: 'markdown', body: 'hello' } }, token);
    expect(l.status, JSON.stringify(l.body)).toBe(201);
    expect((await api('POST', `/courses/${c.body.id}/publish`, undefined, token)).status).toBe(200);
    courseIds.push(c.body.id);
    lessonIds.push(l.body.id);
  }
  const learners = await Promise.all(
    Array.from({ length: 6 }, async (_, i) => {
      const r = await api('POST', '/auth/register', { email: `learner${i}@rr.test`, password: 'correct horse battery 42', displayName: `L${i}` });
      expect(r.status).toBe(201);
      return { token: r.body.accessToken as string, id: r.body.user.id as string };
    }),
  );

  // The load: each learner in a loop, enrolling in the next course now and then, reading and completing what it has.
  const failures: string[] = [];
  const enrolled: Array<{ userId: string; courseId: string }> = [];
  let requests = 0;
  let loading = true;
  const load = learners.map(async (learner, li) => {
    const mine: number[] = [];
    for (let n = 0; loading; n++) {
      const next = courseIds.findIndex((_, ci) => !mine.includes(ci));
      const op = n % 12 === 0 && next >= 0 ? 'enrol' : (['catalog', 'dashboard', 'content', 'complete', 'enrollments'] as const)[(n + li) % 5];
      const ci = mine[n % Math.max(1, mine.length)];
      const [method, url, expected] =
        op === 'enrol'
          ? (['POST', `/courses/${courseIds[next]}/enrollments`, 201] as const)
          : op === 'catalog'
            ? (['GET', '/catalog', 200] as const)
            : op === 'dashboard'
              ? (['GET', '/me/dashboard', 200] as const)
              : op === 'enrollments'
                ? (['GET', '/me/enrollments', 200] as const)
                : ci === undefined
                  ? (['GET', '/catalog', 200] as const)
                  : op === 'content'
                    ? (['GET', `/courses/${courseIds[ci]}/content`, 200] as const)
                    : (['POST', `/lessons/${lessonIds[ci]}/complete`, 200] as const);
      requests++;
      try {
        const r = await api(method, url, method === 'POST' ? {} : undefined, learner.token);
        if (r.status !== expected) failures.push(`${method} ${url}: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
        else if (op === 'enrol') enrolled.push({ userId: learner.id, courseId: defined(courseIds[next]) });
      } catch (err) {
        failures.push(`${method} ${url}: ${String(err)}`);
      }
      // One try per course: a failed enrolment is a failure already, not to be repeated into a 409.
      if (op === 'enrol') mine.push(next);
    }
  });

  const logFrom = haproxyLog.length;
  // The rolling restart, surge first (as an orchestrator does with one spare): the replacements start, then each
  // original is stopped with SIGTERM in turn, service nodes first, then the gateways, under the load.
  const exits: Record<string, number | string> = {};
  const lbBeforeExit: Record<string, string | undefined> = {};
  const leftBeforeExit: Record<string, string[]> = {};
  const originals = new Map(procs);
  await Promise.all(['svc3', 'svc4', 'gw3', 'gw4'].map(start));
  await waitFor(async () => [...(await lbStatus()).values()].every((s) => s === 'UP'), 30_000, 100);
  for (const name of ['svc3', 'svc4']) {
    const id = nodeIdOf(defined(procs.get(name)));
    await waitFor(async () => servicesOf(id).length === SERVICES.split(',').length, 20_000);
  }
  for (const name of ['svc1', 'svc2', 'gw1', 'gw2']) {
    const old = defined(originals.get(name));
    const oldId = nodeIdOf(old);
    // A service node leaves the registry while it still runs (the watcher sees it go before its process ends);
    // a gateway is out of HAProxy's rotation while it still runs: only then may it close a connection.
    let left: string[] | undefined;
    let seen: string | undefined;
    const watch = name.startsWith('svc')
      ? waitFor(async () => old.proc.exitCode === null && servicesOf(oldId).length === 0 && (left = []), 20_000, 20)
      : waitFor(async () => old.proc.exitCode === null && (seen = (await lbStatus()).get(name))?.startsWith('DOWN') && seen, 20_000, 50);
    exits[name] = await old.kill('SIGTERM');
    await watch.catch(() => {});
    if (name.startsWith('svc')) leftBeforeExit[name] = left ?? ['still registered when it exited'];
    else lbBeforeExit[name] = seen;
  }
  loading = false;
  await Promise.all(load);
  const stats = await lbStats();

  expect(failures).toEqual([]);
  expect(exits).toEqual({ svc1: 0, svc2: 0, gw1: 0, gw2: 0 });
  expect(leftBeforeExit).toEqual({ svc1: [], svc2: [] });
  expect(lbBeforeExit.gw1).toMatch(/^DOWN/);
  expect(lbBeforeExit.gw2).toMatch(/^DOWN/);
  expect(requests).toBeGreaterThan(300);
  // Every enrolment answered 201 exists once; none exists that was not answered.
  const rows = await query<{ user_id: string; course_id: string }>(pg.url, 'select user_id, course_id from enrollments.enrollments');
  const key = (e: { userId: string; courseId: string }) => `${e.userId}/${e.courseId}`;
  expect(rows.map((r) => key({ userId: r.user_id, courseId: r.course_id })).sort()).toEqual(enrolled.map(key).sort());
  const log = haproxyLog.slice(logFrom);
  // HAProxy always had a gateway to send requests to, and took each stopping gateway out because its readiness
  // answered 503, not because it stopped accepting connections (which would be a Layer4 failure).
  expect(log).not.toMatch(/no server available/);
  for (const gw of ['gw1', 'gw2']) {
    expect(log).toMatch(new RegExp(`gateways/${gw} is DOWN, reason: Layer7 wrong status, code: 503`));
    expect(log).not.toMatch(new RegExp(`gateways/${gw} is DOWN, reason: Layer4`));
  }
  // No request had to be retried on another gateway: none met a connection its gateway closed under it.
  expect([...stats].filter(([, s]) => s.retries > 0)).toEqual([]);
}, 120_000);
