/**
 * A node that dies under load (`kill -9`, the fault the issue measured at 21.9 s of recovery and 500s): two courses
 * and two enrollments nodes as OS processes, the gateway with auth and users in this process, learners reading
 * courses and progress and completing lessons without pause. One courses and one enrollments node are SIGKILLed
 * mid-run: every request still succeeds, the dead nodes leave the gateway's registry in about a second, and no
 * request waits anywhere near the 10 s call timeout (the calls the dead nodes held are retried on the live ones).
 * Then the last courses node dies too: the edge answers 503 SERVICE_UNAVAILABLE with Retry-After, never a 500.
 */
import { gatewayPort } from '@lms/gateway';
import { migrateAll, openDatabase, startNode, type LmsNode, type RuntimeSettings } from '@lms/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pick, SERVICES } from '../services.ts';
import { lmsProcess, type LmsProcess } from './procs.ts';
import { defined, dropStreams, http, NATS_URL, REDIS_URL, tempDatabase, uniqueName, waitFor } from './support.ts';

const ns = uniqueName('dn');
const pw = 'dead nodes password';
let db: Awaited<ReturnType<typeof tempDatabase>>;
let edge: LmsNode;
let base: string;
const procs = new Map<string, LmsProcess>();
/** When the edge's registry dropped each node (ms since the epoch). */
const droppedAt = new Map<string, number>();

interface Learner {
  token: string;
  lessons: string[];
}
let courseId: string;
const learners: Learner[] = [];

const nodeEnv = (nodeId: string): Record<string, string> => ({
  DATABASE_URL: db.url,
  NATS_URL,
  REDIS_URL,
  LMS_NAMESPACE: ns,
  NODE_ID: nodeId,
});

beforeAll(async () => {
  db = await tempDatabase();
  const conn = await openDatabase({ databaseUrl: db.url, dataDir: '' });
  await migrateAll(conn, Object.values(SERVICES));
  await conn.close();
  const started = Promise.all(
    ['courses-1', 'courses-2', 'enrollments-1', 'enrollments-2'].map(async (id) => {
      procs.set(id, await lmsProcess(id.replace(/-\d$/, ''), nodeEnv(`${ns}-${id}`), 60_000));
    }),
  );
  process.env.RATE_LIMIT_PER_MINUTE = '100000000';
  process.env.RATE_LIMIT_AUTH_PER_MINUTE = '100000000';
  try {
    const settings: Partial<RuntimeSettings> = { mode: 'mesh', databaseUrl: db.url, natsUrl: NATS_URL, redisUrl: REDIS_URL, namespace: ns, port: 0 };
    edge = await startNode(pick('auth,users,gateway'), { ...settings, nodeId: `${ns}-edge`, migrateOnStart: false });
  } finally {
    delete process.env.RATE_LIMIT_PER_MINUTE;
    delete process.env.RATE_LIMIT_AUTH_PER_MINUTE;
  }
  edge.broker.localBus.on('$node.disconnected', (p: { node: { id: string } }) => droppedAt.set(p.node.id, Date.now()));
  base = `http://127.0.0.1:${gatewayPort(edge.broker)}`;
  await started;
  // Known to the edge with their services (a node's first INFO may come before its services started).
  const serves = (id: string) => {
    const node = edge.broker.registry.nodes.get(`${ns}-${id}`);
    return Boolean(node?.available && node.services.some((s) => s.name === id.replace(/-\d$/, '')));
  };
  await waitFor(async () => [...procs.keys()].every(serves), 20_000);

  // A published course of four lessons, and learners enrolled in it (the first account is the admin).
  const reg = async (email: string) => (await http(base, 'POST', '/api/v1/auth/register', { email, password: pw, displayName: 'Dead nodes' })).body;
  const admin = defined((await reg('admin@dead-nodes.test')).accessToken as string | undefined, 'the admin token');
  const course = await http(base, 'POST', '/api/v1/courses', { title: 'Resilience', category: 'ops' }, admin);
  courseId = course.body.id;
  const mod = (await http(base, 'POST', `/api/v1/courses/${courseId}/modules`, { title: 'One' }, admin)).body;
  const lessons: string[] = [];
  for (let i = 0; i < 4; i++) {
    const l = await http(base, 'POST', `/api/v1/modules/${mod.id}/lessons`, { title: `L${i}`, content: { type: 'markdown', body: 'text' } }, admin);
    lessons.push(l.body.id);
  }
  expect((await http(base, 'POST', `/api/v1/courses/${courseId}/publish`, undefined, admin)).status).toBe(200);
  for (let i = 0; i < 6; i++) {
    const token = (await reg(`learner${i}@dead-nodes.test`)).accessToken as string;
    expect((await http(base, 'POST', `/api/v1/courses/${courseId}/enrollments`, undefined, token)).status).toBe(201);
    learners.push({ token, lessons });
  }
}, 60_000);

afterAll(async () => {
  await Promise.all([...procs.values()].map((p) => p.kill('SIGKILL')));
  await edge?.stop();
  await dropStreams(ns);
  await db?.drop();
});

interface Sample {
  op: string;
  start: number;
  ms: number;
  status: number;
  body: string;
}

/** One learner request, timed; plain fetch (not `http`) so that the load is not slowed by the conformance check. */
async function request(op: string, method: string, path: string, token: string): Promise<Sample> {
  const start = Date.now();
  const res = await fetch(`${base}/api/v1${path}`, { method, headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(20_000) });
  const body = await res.text();
  return { op, start, ms: Date.now() - start, status: res.status, body: res.ok ? '' : body.slice(0, 300) };
}

/** `workers` learners in a loop (read the course, complete a lesson, read progress) until `until()` says stop. */
async function load(workers: number, until: () => boolean): Promise<Sample[]> {
  const samples: Sample[] = [];
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      const l = defined(learners[w % learners.length]);
      for (let i = 0; !until(); i++) {
        const lesson = defined(l.lessons[i % l.lessons.length]);
        samples.push(await request('courses.get', 'GET', `/courses/${courseId}`, l.token));
        samples.push(await request('enrollments.completeLesson', 'POST', `/lessons/${lesson}/complete`, l.token));
        samples.push(await request('enrollments.progress', 'GET', `/courses/${courseId}/progress`, l.token));
      }
    }),
  );
  return samples;
}

describe('a node killed under load', () => {
  it('answers every request, drops the dead nodes in about a second and retries what they held on the live ones', async () => {
    const t0 = Date.now();
    let killedAt = Infinity;
    const killing = (async () => {
      await waitFor(async () => Date.now() - t0 > 2_000, 5_000, 20);
      killedAt = Date.now();
      await Promise.all([defined(procs.get('courses-1')).kill('SIGKILL'), defined(procs.get('enrollments-1')).kill('SIGKILL')]);
    })();
    const samples = await load(12, () => Date.now() - t0 > 7_000);
    await killing;

    const failed = samples.filter((s) => s.status >= 300);
    expect(failed, JSON.stringify(failed.slice(0, 5))).toEqual([]);
    const before = samples.filter((s) => s.start + s.ms < killedAt);
    const after = samples.filter((s) => s.start + s.ms >= killedAt);
    expect(before.length).toBeGreaterThan(50);
    expect(after.length).toBeGreaterThan(50);

    // Dropped from the registry within about a second (a heartbeat interval plus the suspicion delay).
    for (const id of ['courses-1', 'enrollments-1']) {
      const dropped = droppedAt.get(`${ns}-${id}`);
      expect(dropped, `${id} was never dropped`).toBeDefined();
      expect(defined(dropped) - killedAt).toBeLessThan(1_600);
    }
    // Degraded latency. Calls held by a dead node used to wait for the 10 s timeout; here they are retried once the
    // node is found dead, so no request comes near 2 s, and the requests the deaths could touch (sent before both
    // nodes were dropped) that were slower than the slowest one before the kill (what this machine's load gives
    // anyway) all end within 2 s of it. Later slow requests are load on the surviving half, printed, not asserted.
    const normal = Math.max(500, ...before.map((s) => s.ms));
    const slowest = Math.max(...after.map((s) => s.ms));
    const bothDropped = Math.max(...droppedAt.values());
    const slow = after.filter((s) => s.ms > normal);
    const end = (list: Sample[]) => (list.length ? Math.max(...list.map((s) => s.start + s.ms)) - killedAt : 0);
    const degradedFor = end(slow.filter((s) => s.start < bothDropped));
    const slowLater = end(slow);
    const worst = (list: Sample[]) =>
      [...list]
        .sort((a, b) => b.ms - a.ms)
        .slice(0, 6)
        .map((s) => `${s.op} at ${s.start - killedAt} ms took ${s.ms} ms`)
        .join(', ');
    console.log(
      `dead nodes: ${samples.length} requests, 0 failed; dropped ${[...droppedAt.values()].map((d) => d - killedAt).join(' / ')} ms after the kill; ` +
        `slowest before the kill ${normal} ms, after it ${slowest} ms; ${slow.length} slower than before, the last of those sent before the drops ` +
        `ending ${degradedFor} ms after the kill, the last of all ${slowLater} ms ` +
        `(slowest after: ${worst(after)})`,
    );
    expect(slowest).toBeLessThan(2_000);
    expect(degradedFor).toBeLessThan(2_000);
  }, 30_000);

  it('answers 503 SERVICE_UNAVAILABLE with Retry-After once no node is left, never a 500', async () => {
    const l = defined(learners[0]);
    await defined(procs.get('courses-2')).kill('SIGKILL');
    await waitFor(async () => droppedAt.has(`${ns}-courses-2`), 5_000, 20);
    const r = await http(base, 'GET', `/api/v1/courses/${courseId}`, undefined, l.token);
    expect([r.status, r.body.error?.code]).toEqual([503, 'SERVICE_UNAVAILABLE']);
    expect(r.headers.get('retry-after')).toBe('1');
    // Lesson completion needs the courses service too: an outage, not "no such lesson".
    const c = await http(base, 'POST', `/api/v1/lessons/${defined(l.lessons[0])}/complete`, undefined, l.token);
    expect([c.status, c.body.error?.code]).toEqual([503, 'SERVICE_UNAVAILABLE']);
  }, 15_000);
});
