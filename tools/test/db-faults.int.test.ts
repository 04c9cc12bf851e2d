/**
 * PostgreSQL failures under load, on real processes: a PostgreSQL server of the test's own whose backends are
 * terminated, which is stopped, and which crashes, while learners read and complete lessons through a gateway in
 * front of a service node (both `lms node` OS processes on the local NATS). What must hold:
 * - no process ends, and none even reaches its last-resort guard (an unhandled 'error' event, a stray rejection);
 * - a client sees its answer, or 503 SERVICE_UNAVAILABLE with Retry-After: never a 500, never a 404 or 409 that an
 *   outage would fake;
 * - `/health/ready` reports the database while it is away;
 * - requests succeed again within 2 s of the database coming back, and the background work (outbox relays, sagas,
 *   an event consumer that held its batch instead of dead-lettering it) resumes by itself.
 */
import { randomUUID } from 'node:crypto';
import { migrateAll, openDatabase } from '@lms/runtime';
import { connect } from 'nats';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SERVICES } from '../services.ts';
import { lmsProcess, privatePostgres, type LmsProcess, type PrivatePostgres } from './procs.ts';
import { defined, dropStreams, freePort, http, NATS_URL, query, uniqueName, waitFor } from './support.ts';

let pg: PrivatePostgres;
let ns: string;
let base: string;
/** The service node's /metrics port. */
let metricsPort: number;
const procs: LmsProcess[] = [];
const password = 'outage drill password';
let teacher: string;
let courseId: string;
let lessonIds: string[];
const learners: string[] = [];

/** Every answer a learner got, with when (ms since the epoch) and its Retry-After. */
interface Answer {
  at: number;
  what: string;
  status: number;
  code?: string;
  retryAfter: string | null;
}
const answers: Answer[] = [];

beforeAll(async () => {
  pg = await privatePostgres();
  ns = uniqueName('dbf');
  const db = await openDatabase({ databaseUrl: pg.url, dataDir: '' });
  await migrateAll(db, Object.values(SERVICES));
  await db.close();
  const port = await freePort();
  metricsPort = await freePort();
  const env = {
    LMS_MODE: 'mesh',
    DATABASE_URL: pg.url,
    NATS_URL,
    LMS_NAMESPACE: ns,
    LMS_REQUIRED_SERVICES: 'auth,users,courses,enrollments',
    // Few, fast redeliveries: an outage counted as failed deliveries would dead-letter an event within 100 ms.
    LMS_EVENT_MAX_DELIVER: '2',
    LMS_EVENT_BACKOFF_MS: '50',
    RATE_LIMIT_PER_MINUTE: '100000',
    RATE_LIMIT_AUTH_PER_MINUTE: '1000',
  };
  const [services, gateway] = await Promise.all([
    lmsProcess('auth,users,courses,enrollments', { ...env, METRICS_PORT: String(metricsPort) }),
    lmsProcess('gateway', { ...env, PORT: String(port) }),
  ]);
  procs.push(services, gateway);
  base = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await http(base, 'GET', '/health/ready')).status === 200, 20_000, 100);

  const register = async (email: string) =>
    (await http(base, 'POST', '/api/v1/auth/register', { email, password, displayName: email.split('@')[0] })).body as {
      accessToken: string;
      user: { id: string };
    };
  teacher = (await register('admin@outage.test')).accessToken; // the first account is the admin
  const as = (token: string) => (method: string, url: string, body?: unknown) => http(base, method, `/api/v1${url}`, body, token);
  const t = as(teacher);
  const course = (await t('POST', '/courses', { title: 'Outages', category: 'operations' })).body as { id: string };
  courseId = course.id;
  const mod = (await t('POST', `/courses/${courseId}/modules`, { title: 'Drills' })).body as { id: string };
  lessonIds = [];
  for (const title of ['Stop', 'Crash', 'Terminate']) {
    const l = await t('POST', `/modules/${mod.id}/lessons`, { title, content: { type: 'markdown', body: title } });
    lessonIds.push((l.body as { id: string }).id);
  }
  await t('POST', `/courses/${courseId}/submit-for-review`);
  expect((await t('POST', `/courses/${courseId}/publish`)).status).toBe(200);
  for (let i = 0; i < 4; i++) {
    const l = await register(`learner${i}@outage.test`);
    learners.push(l.accessToken);
    expect((await as(l.accessToken)('POST', `/courses/${courseId}/enrollments`)).status).toBe(201);
    await waitFor(async () => (await as(l.accessToken)('GET', `/courses/${courseId}/progress`)).status === 200, 15_000, 100);
  }
}, 60_000);

/** A test that failed half-way leaves the server running for the next one. */
afterEach(() => {
  try {
    pg.start();
  } catch {
    // already running
  }
});

afterAll(async () => {
  await Promise.all(procs.map((p) => p.kill('SIGKILL')));
  pg?.remove();
  if (ns) await dropStreams(ns);
});

/** Learners reading and completing lessons, each in a loop, until `stop()`; every answer is recorded. */
function learnerLoad() {
  let running = true;
  const one = async (token: string, i: number) => {
    const calls: Array<[string, string, string, unknown]> = [
      ['content', 'GET', `/courses/${courseId}/content`, undefined],
      ['progress', 'GET', `/courses/${courseId}/progress`, undefined],
      ['complete', 'POST', `/lessons/${lessonIds[i % lessonIds.length]}/complete`, { courseId }],
    ];
    for (let n = 0; running; n++) {
      const [what, method, url, body] = defined(calls[n % calls.length]);
      const r = await http(base, method, `/api/v1${url}`, body, token);
      answers.push({
        at: Date.now(),
        what,
        status: r.status,
        code: (r.body as { error?: { code?: string } })?.error?.code,
        retryAfter: r.headers.get('retry-after'),
      });
    }
  };
  const loops = learners.map((t, i) => one(t, i));
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** Every answer is a success or a 503 SERVICE_UNAVAILABLE with Retry-After: nothing else, whatever the fault. */
function expectOnlyOutageAnswers(list: Answer[]) {
  const wrong = list.filter((a) => a.status >= 300 && !(a.status === 503 && a.code === 'SERVICE_UNAVAILABLE' && a.retryAfter !== null));
  expect(wrong, JSON.stringify(wrong.slice(0, 5))).toEqual([]);
}

/** Polls a learner's read until it answers 200; resolves with the ms it took. */
async function recovered(): Promise<number> {
  const from = Date.now();
  await waitFor(async () => (await http(base, 'GET', `/api/v1/courses/${courseId}/progress`, undefined, learners[0])).status === 200, 10_000, 20);
  return Date.now() - from;
}

/** With DB_FAULTS_REPORT=1, one line per scenario: answers by status and the recovery time (for the figures in docs). */
function report(scenario: string, list: Answer[], recoveryMs?: number) {
  if (!process.env.DB_FAULTS_REPORT) return;
  const byStatus: Record<string, number> = {};
  for (const a of list) byStatus[a.status] = (byStatus[a.status] ?? 0) + 1;
  console.info(
    `${scenario}: ${list.length} requests ${JSON.stringify(byStatus)}${recoveryMs === undefined ? '' : `, first success ${recoveryMs} ms after the start`}`,
  );
}

/** `lms_database_up` as the service node's /metrics reports it. */
async function databaseUpMetric(): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  return Number(/^lms_database_up (\d+)$/m.exec(text)?.[1] ?? NaN);
}

/** Messages in the namespace's dead-letter stream. */
async function deadLetters(): Promise<number> {
  const nc = await connect({ servers: NATS_URL });
  try {
    const jsm = await nc.jetstreamManager();
    return (await jsm.streams.info(`${ns.toUpperCase()}_DLQ`)).state.messages;
  } finally {
    await nc.close();
  }
}

function expectProcessesAlive() {
  for (const p of procs) {
    expect(p.proc.exitCode, p.output().slice(-2000)).toBeNull();
    expect(p.proc.signalCode).toBeNull();
    // The guard of last resort keeps a process up; reaching it means a database event went unhandled.
    expect(p.output()).not.toMatch(/uncaught exception|unhandled rejection|Unhandled 'error' event/i);
  }
}

describe('PostgreSQL failures under load', () => {
  it('rides through terminated backends with no client error and no process exit', async () => {
    const load = learnerLoad();
    const from = answers.length;
    await waitFor(async () => answers.length > from + 20, 10_000);
    for (let i = 0; i < 3; i++) {
      pg.terminateBackends();
      const mark = answers.length;
      await waitFor(async () => answers.length > mark + 20, 10_000);
    }
    await load.stop();
    const seen = answers.slice(from);
    report('backends terminated 3 times', seen);
    expectOnlyOutageAnswers(seen);
    // A lost connection is replaced by the runtime's retry (on a new connection): nothing reaches the learner.
    expect(seen.filter((a) => a.status >= 300).length).toBeLessThanOrEqual(seen.length * 0.05);
    expectProcessesAlive();
  });

  it('answers 503 with Retry-After while PostgreSQL is stopped, reports it in /health/ready, and recovers within 2 s', async () => {
    const load = learnerLoad();
    const from = answers.length;
    await waitFor(async () => answers.length > from + 10, 10_000);
    pg.stop('fast');
    const down = await waitFor(async () => answers.slice(from).find((a) => a.status === 503), 10_000);
    expect(down.retryAfter).toBe('1');
    const ready = await http(base, 'GET', '/health/ready');
    expect(ready.status).toBe(503);
    expect(ready.body.checks).toMatchObject({ broker: 'up', courses: 'down', enrollments: 'down' });
    expect(ready.body.database.courses).toMatchObject({ database: 'down' });
    expect(ready.body.database.courses.node).toMatch(/\S/);
    // What a load balancer routes on stays 200: the gateway answers the outage itself (503 + Retry-After) rather than
    // being taken out of rotation with every other gateway (infra/haproxy/haproxy.cfg).
    expect((await http(base, 'GET', '/health/serving')).status).toBe(200);
    // tRPC answers an outage the same way: 503 with Retry-After, the public error in its envelope.
    const viaTrpc = await fetch(`${base}/trpc/enrollments.progress?input=${encodeURIComponent(JSON.stringify({ courseId }))}`, {
      headers: { authorization: `Bearer ${defined(learners[0])}` },
    });
    const trpcBody = (await viaTrpc.json()) as { error?: { data?: { code?: string } } };
    expect([viaTrpc.status, viaTrpc.headers.get('retry-after'), trpcBody.error?.data?.code]).toEqual([503, '1', 'SERVICE_UNAVAILABLE']);
    // Per node, for Prometheus: the service node's own view of its database.
    expect(await databaseUpMetric()).toBe(0);
    // A while of outage under load: several seconds' worth of failed calls (more than the circuit breaker's 20).
    const mark = answers.length;
    await waitFor(async () => answers.length > mark + 60, 15_000);
    pg.start();
    const ms = await recovered();
    expect(ms).toBeLessThan(2_000);
    const back = Date.now();
    await waitFor(async () => answers.some((a) => a.at > back + 300), 10_000);
    await load.stop();
    report('stopped', answers.slice(from), ms);
    expectOnlyOutageAnswers(answers.slice(from));
    // Once back, every learner is served: no breaker left open, no pool stuck on dead connections.
    expect(answers.filter((a) => a.at > back + 300 && a.status !== 200)).toEqual([]);
    expect((await http(base, 'GET', '/health/ready')).status).toBe(200);
    expect(await databaseUpMetric()).toBe(1);
    expectProcessesAlive();
  });

  it('survives a crash of PostgreSQL mid-transaction, and its background work resumes', async () => {
    const load = learnerLoad();
    const from = answers.length;
    await waitFor(async () => answers.length > from + 10, 10_000);
    pg.stop('immediate');
    await waitFor(async () => answers.slice(from).some((a) => a.status === 503), 10_000);
    // An enrolment asked for while the database is away is refused as unavailable (it did not happen)…
    const late = (await http(base, 'POST', '/api/v1/auth/register', { email: 'late@outage.test', password, displayName: 'late' })).status;
    expect(late).toBe(503);
    // An event arrives for a consumer whose database is away (courses' projection of enrolments): it is held, not
    // spent on redeliveries and dead-lettered.
    const member = { enrollmentId: randomUUID(), courseId, userId: randomUUID(), status: 'active', previous: null, reason: null };
    const nc = await connect({ servers: NATS_URL });
    try {
      const envelope = {
        id: randomUUID(),
        subject: 'lms.enrollment.changed.v1',
        version: 1,
        occurredAt: new Date().toISOString(),
        key: null,
        requestId: null,
        payload: member,
      };
      await nc.jetstream().publish(`${ns}.enrollment.changed.v1`, new TextEncoder().encode(JSON.stringify(envelope)), { msgID: envelope.id });
    } finally {
      await nc.close();
    }
    await waitFor(async () => defined(procs[0]).output().includes('holding the batch until it is back'), 10_000);
    pg.start();
    const ms = await recovered();
    expect(ms).toBeLessThan(2_000);
    await load.stop();
    report('crashed', answers.slice(from), ms);
    await waitFor(async () => (await query(pg.url, 'select 1 from courses.course_members where user_id = $1', [member.userId])).length === 1, 10_000);
    expect(await deadLetters()).toBe(0);
    expectOnlyOutageAnswers(answers.slice(from));
    // …and one asked for once it is back goes through the whole saga (its relay, its steps) on the same processes.
    const l = (await http(base, 'POST', '/api/v1/auth/register', { email: 'late@outage.test', password, displayName: 'late' })).body as {
      accessToken: string;
    };
    expect((await http(base, 'POST', `/api/v1/courses/${courseId}/enrollments`, undefined, l.accessToken)).status).toBe(201);
    await waitFor(async () => (await http(base, 'GET', `/api/v1/courses/${courseId}/progress`, undefined, l.accessToken)).status === 200, 15_000, 100);
    // Every outbox relay drained what the load committed, across the crash.
    await waitFor(async () => {
      const rows = await query<{ n: number }>(pg.url, 'select (select count(*) from courses.outbox) + (select count(*) from enrollments.outbox) as n');
      return Number(rows[0]?.n) === 0;
    }, 10_000);
    expectProcessesAlive();
  });
});
