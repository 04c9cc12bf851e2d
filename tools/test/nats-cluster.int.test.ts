/**
 * The mesh on a 3-server NATS cluster as docker-compose.yml runs it: every server on the committed
 * infra/nats/cluster.conf (JetStream fsynced before each ack, authenticated routes, the role permissions), streams and
 * consumers replicated 3 times (LMS_STREAM_REPLICAS=3), nodes joined with their role's credentials and every server's
 * URL. Under a steady load of courses created and published over REST, one server is SIGKILLed (the one leading the
 * course stream), and later, with it back, the JetStream meta leader. After each: every publish the client saw
 * succeed has its event in the stream once and applied once by analytics, nothing else was published, and no request
 * failed.
 */
import { gatewayPort } from '@lms/gateway';
import { migrateAll, openDatabase, startNode, type LmsNode } from '@lms/runtime';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pick } from '../services.ts';
import { natsCluster, type NatsCluster } from './nats-cluster.ts';
import { defined, drained, http, query, tempDatabase, waitFor, ROLE_PASSWORDS } from './support.ts';

const passwords = ROLE_PASSWORDS;
const PUBLISHED = 'lms.course.published.v1';

let cluster: NatsCluster;
let db: Awaited<ReturnType<typeof tempDatabase>>;
let nc: NatsConnection;
const nodes: LmsNode[] = [];
let base: string;
let token: string;
const savedEnv = { ...process.env };
/** Every course whose publish answered 200, over the whole file (analytics counts them all). */
const published = new Set<string>();

interface Load {
  /**
   * Every answer but a success. A publish whose answer was lost with the NATS server the gateway or the courses node
   * was connected to is retried by the broker with its Idempotency-Key (the gateway gives every mutation one), so it
   * answers the first attempt's 200, never 409 COURSE_ALREADY_PUBLISHED.
   */
  errors: string[];
  /** Successful publishes so far in this load. */
  count(): number;
  /** Slowest create + publish, ms. */
  slowestMs(): number;
  stop(): Promise<void>;
}

/** `workers` learners' worth of instructors, each creating and publishing courses back to back. */
function load(workers = 4): Load {
  const errors: string[] = [];
  let count = 0;
  let slowest = 0;
  let stopping = false;
  const worker = async (w: number) => {
    for (let i = 0; !stopping; i++) {
      const t0 = Date.now();
      try {
        const created = await http(base, 'POST', '/api/v1/courses', { title: `Cluster ${w}-${i}`, category: `cat${i % 3}` }, token);
        if (created.status !== 201) {
          errors.push(`create ${created.status} ${JSON.stringify(created.body)}`);
          continue;
        }
        const id = String(created.body.id);
        const pub = await http(base, 'POST', `/api/v1/courses/${id}/publish`, undefined, token);
        if (pub.status !== 200) errors.push(`publish ${pub.status} ${JSON.stringify(pub.body)}`);
        else {
          published.add(id);
          count++;
        }
      } catch (err) {
        errors.push(`request failed: ${String(err)}`);
      }
      slowest = Math.max(slowest, Date.now() - t0);
    }
  };
  const done = Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
  return {
    errors,
    count: () => count,
    slowestMs: () => slowest,
    async stop() {
      stopping = true;
      await done;
    },
  };
}

/**
 * Every acknowledged publish is in the stream once and applied once: the stream's `course.published` messages, the
 * analytics consumer's processed ids and its per-category counts all equal the publishes the client saw succeed.
 */
async function verifyEvents(): Promise<void> {
  await drained({ databaseUrl: db.url, namespace: 'lms', nats: { servers: cluster.urls, user: 'operator', pass: passwords.operator } }, 40_000);
  const jsm = await nc.jetstreamManager();
  const info = await jsm.streams.info('LMS_COURSE', { subjects_filter: PUBLISHED });
  const inStream = info.state.subjects?.[PUBLISHED] ?? 0;
  const [row] = await query<{ published: number; processed: number; courses: number }>(
    db.url,
    `select (select coalesce(sum(published), 0)::int from analytics.published_by_category) as published,
            (select count(*)::int from analytics.processed_events where consumer = 'analytics-courses') as processed,
            (select count(*)::int from courses.courses where status = 'published') as courses`,
  );
  expect({ inStream, ...defined(row, 'counts') }).toEqual({
    inStream: published.size,
    published: published.size,
    processed: published.size,
    courses: published.size,
  });
}

/**
 * Runs the load, SIGKILLs `victim()` once some publishes went through, lets publishing carry on, then checks the
 * event path (verifyEvents) and starts the server again on its own store (the next scenario needs 3 servers for a
 * quorum after its own kill), waiting until every stream's replicas are current.
 */
async function killUnderLoad(what: string, victim: () => Promise<string>): Promise<{ errors: string[] }> {
  const l = load();
  let killed: string | undefined;
  try {
    await waitFor(async () => l.count() >= 10, 30_000);
    killed = await victim();
    const before = l.count();
    const t0 = Date.now();
    await cluster.server(killed).kill();
    await waitFor(async () => l.count() > before, 30_000, 10);
    const resumedMs = Date.now() - t0;
    await waitFor(async () => l.count() >= before + 20, 30_000);
    await l.stop();
    const t1 = Date.now();
    await verifyEvents();
    console.log(
      `killed ${killed} (${what}): requests resumed after ${resumedMs} ms, slowest create + publish ${l.slowestMs()} ms, ` +
        `${l.count()} published, ${l.errors.length} errors, ` +
        `events all applied ${Date.now() - t1} ms after the load stopped`,
    );
    return { errors: l.errors };
  } finally {
    await l.stop();
    if (killed) {
      cluster.server(killed).start();
      await cluster.healthy();
      const jsm = await nc.jetstreamManager();
      await waitFor(async () => {
        for (const name of ['LMS_COURSE', 'LMS_DLQ']) {
          const replicas = (await jsm.streams.info(name)).cluster?.replicas ?? [];
          if (replicas.length !== 2 || !replicas.every((p) => p.current && !p.offline)) return false;
        }
        return true;
      }, 30_000);
    }
  }
}

beforeAll(async () => {
  // Read by the nodes' declarations at start, as in docker-compose.yml; the limit per client IP would throttle the load.
  Object.assign(process.env, { LMS_STREAM_REPLICAS: '3', LMS_STREAM_MAX_BYTES: '1073741824', RATE_LIMIT_PER_MINUTE: '1000000', LMS_EVENT_ACK_WAIT_MS: '3000' });
  cluster = await natsCluster(passwords);
  nc = await connect({ servers: cluster.urls.split(','), user: 'operator', pass: passwords.operator });
  db = await tempDatabase();
  const d = await openDatabase({ databaseUrl: db.url, dataDir: '' });
  await migrateAll(d, pick('auth,users,courses,analytics,audit'));
  await d.close();
  const mesh = (role: keyof typeof passwords) => ({
    mode: 'mesh' as const,
    databaseUrl: db.url,
    natsUrl: cluster.urls,
    natsUser: role,
    natsPassword: passwords[role],
    namespace: 'lms',
    port: 0,
    migrateOnStart: false,
    nodeId: 'cluster-test',
  });
  const gw = await startNode(pick('gateway'), mesh('gateway'));
  nodes.push(
    gw,
    ...(await Promise.all([
      startNode(pick('auth,users'), mesh('identity')),
      startNode(pick('courses'), mesh('courses')),
      startNode(pick('analytics,audit'), mesh('analytics')),
    ])),
  );
  base = `http://127.0.0.1:${gatewayPort(gw.broker)}`;
  await gw.broker.waitForServices(['auth', 'users', 'courses', 'analytics', 'audit'], 20_000);
  const admin = await http(base, 'POST', '/api/v1/auth/register', { email: 'root@cluster.test', password: 'cluster role password', displayName: 'Root' });
  token = String(admin.body.accessToken);
}, 60_000);

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop().catch(() => {})));
  await nc?.close();
  await cluster?.stop();
  await db?.drop();
  process.env = savedEnv;
});

describe('a 3-server NATS cluster', () => {
  it('replicates every stream and its consumers on the 3 servers, as LMS_STREAM_REPLICAS says, with bounded retention', async () => {
    const jsm = await nc.jetstreamManager();
    const info = await jsm.streams.info('LMS_COURSE');
    expect(info.config.num_replicas).toBe(3);
    expect(info.config.max_age).toBe(14 * 86_400 * 1e9);
    expect(info.config.max_bytes).toBe(1_073_741_824);
    expect(info.config.discard).toBe('new');
    expect(info.cluster?.replicas?.length).toBe(2);
    const dlq = await jsm.streams.info('LMS_DLQ');
    expect(dlq.config.num_replicas).toBe(3);
    const consumers = await jsm.consumers.list('LMS_COURSE').next();
    expect(consumers.length).toBeGreaterThan(0);
    for (const c of consumers) expect(c.cluster?.replicas?.length, c.name).toBe(2);
  });

  it('loses no acknowledged event, applies none twice and fails no request when the server leading the stream is killed', async () => {
    const jsm = await nc.jetstreamManager();
    const r = await killUnderLoad('stream leader', async () => defined((await jsm.streams.info('LMS_COURSE')).cluster?.leader, 'the stream leader'));
    expect(r.errors).toEqual([]);
  }, 60_000);

  it('loses no acknowledged event, applies none twice and fails no request when the JetStream meta leader is killed', async () => {
    const r = await killUnderLoad('meta leader', () => cluster.metaLeader());
    expect(r.errors).toEqual([]);
  }, 60_000);
});
