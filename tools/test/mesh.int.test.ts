/**
 * Mesh mode on the local NATS (JetStream), PostgreSQL and Redis: several brokers in this
 * process, then nodes in separate OS processes that are SIGKILLed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { gatewayPort } from '@lms/gateway';
import { migrateAll, openDatabase, startNode, type LmsNode, type RuntimeSettings } from '@lms/runtime';
import type { Context, Middleware } from 'moleculer';
import { Redis } from 'ioredis';
import { connect } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pick, SERVICES } from '../services.ts';
import { defined, http, NATS_URL, REDIS_URL, tempDatabase, uniqueName, waitFor } from './support.ts';

let dbUrl: string;
let dropDb: () => Promise<void>;
let ns: string;

async function dropStreams(namespace: string) {
  const nc = await connect({ servers: NATS_URL });
  const jsm = await nc.jetstreamManager();
  for (const s of await jsm.streams.names().next()) if (s.startsWith(`${namespace.toUpperCase()}_`)) await jsm.streams.delete(s);
  await nc.close();
}

beforeAll(async () => {
  const pg = await tempDatabase();
  dbUrl = pg.url;
  dropDb = () => pg.drop();
  const db = await openDatabase({ databaseUrl: dbUrl, dataDir: '' });
  await migrateAll(db, Object.values(SERVICES));
  await db.close();
});
afterAll(async () => {
  await dropDb?.();
});

function mesh(extra: Partial<RuntimeSettings> = {}): Partial<RuntimeSettings> {
  return { mode: 'mesh', databaseUrl: dbUrl, natsUrl: NATS_URL, redisUrl: REDIS_URL, namespace: ns, port: 0, migrateOnStart: false, ...extra };
}

/** Counts the actions each node served. */
function counter(counts: Map<string, number>): Middleware {
  const middleware: Middleware = {
    name: 'count',
    localAction(next: (ctx: Context) => Promise<unknown>) {
      return (ctx: Context) => {
        const served = String(ctx.broker.nodeID); // the node running the action (ctx.nodeID is the caller's)
        counts.set(served, (counts.get(served) ?? 0) + 1);
        return next(ctx);
      };
    },
  };
  return middleware;
}

async function signUpInstructor(base: string, email: string) {
  const r = await http(base, 'POST', '/api/v1/auth/register', { email, password: 'grid password 123', displayName: 'Mesh' });
  expect(r.status).toBe(201);
  return r.body as { accessToken: string; user: { id: string; roles: string[] } };
}

describe('brokers on one NATS server', () => {
  const nodes: LmsNode[] = [];
  const counts = new Map<string, number>();
  let base: string;

  beforeAll(async () => {
    ns = uniqueName('m');
    nodes.push(await startNode(pick('auth,users'), mesh({ nodeId: 'identity-1' })));
    nodes.push(await startNode(pick('courses'), mesh({ nodeId: 'courses-1' }), { middlewares: [counter(counts)] }));
    nodes.push(await startNode(pick('courses'), mesh({ nodeId: 'courses-2' }), { middlewares: [counter(counts)] }));
    nodes.push(await startNode(pick('analytics,audit,notifications,enrollments,files'), mesh({ nodeId: 'analytics-1' })));
    nodes.push(await startNode(pick('assessments,attempts,assignments,grades,credentials'), mesh({ nodeId: 'assessment-1' })));
    const gw = await startNode(pick('gateway'), mesh({ nodeId: 'gateway-1' }));
    nodes.push(gw);
    await gw.broker.waitForServices(
      ['auth', 'users', 'courses', 'analytics', 'audit', 'assessments', 'attempts', 'assignments', 'grades', 'credentials'],
      15_000,
    );
    // Broadcasts reach the nodes a broker has discovered; discovery of a new node takes up to a heartbeat.
    await defined(nodes[0]).broker.waitForServices(['gateway'], 15_000);
    base = `http://127.0.0.1:${gatewayPort(gw.broker)}`;
  });
  afterAll(async () => {
    for (const n of nodes.reverse()) await n.stop().catch(() => {});
    await dropStreams(ns);
  });

  it('is ready only with every required service and the broker', async () => {
    const r = await http(base, 'GET', '/health/ready');
    expect(r.status).toBe(200);
    expect(r.body.checks).toMatchObject({ broker: 'up', auth: 'up', users: 'up', courses: 'up', analytics: 'up', notifications: 'up' });
  });

  it('does the slice across nodes, balances calls and delivers the event over JetStream', async () => {
    const admin = await signUpInstructor(base, 'mesh-admin@example.com');
    expect(admin.user.roles).toContain('admin');
    const created = await http(base, 'POST', '/api/v1/courses', { title: 'Mesh course', category: 'distributed' }, admin.accessToken);
    expect(created.status).toBe(201);
    for (let i = 0; i < 20; i++) {
      const r = await http(base, 'GET', `/api/v1/courses/${created.body.id}`, undefined, admin.accessToken);
      expect(r.status).toBe(200);
    }
    expect(counts.get('courses-1')).toBeGreaterThan(3);
    expect(counts.get('courses-2')).toBeGreaterThan(3);

    const pub = await http(base, 'POST', `/api/v1/courses/${created.body.id}/publish`, undefined, admin.accessToken);
    expect(pub.status).toBe(200);
    const stats = await waitFor(async () => {
      const r = await http(base, 'GET', '/api/v1/analytics/courses/published-by-category', undefined, admin.accessToken);
      return r.body.total === 1 ? r.body : undefined;
    });
    expect(stats.categories).toEqual([{ category: 'distributed', published: 1 }]);
  });

  it('keeps serving when a courses node stops', async () => {
    const admin = (await http(base, 'POST', '/api/v1/auth/login', { email: 'mesh-admin@example.com', password: 'grid password 123' })).body;
    const c = await http(base, 'POST', '/api/v1/courses', { title: 'Survivor', category: 'distributed' }, admin.accessToken);
    await defined(nodes[1]).stop();
    for (let i = 0; i < 10; i++) {
      expect((await http(base, 'GET', `/api/v1/courses/${c.body.id}`, undefined, admin.accessToken)).status).toBe(200);
    }
  });

  it('tells the gateway node over NATS when a session ends, so its access token stops working at once', async () => {
    const s = (await http(base, 'POST', '/api/v1/auth/login', { email: 'mesh-admin@example.com', password: 'grid password 123' })).body;
    expect((await http(base, 'GET', '/api/v1/me', undefined, s.accessToken)).status).toBe(200);
    expect((await http(base, 'POST', '/api/v1/auth/logout', undefined, s.accessToken)).body).toEqual({ revoked: true });
    await waitFor(async () => (await http(base, 'GET', '/api/v1/me', undefined, s.accessToken)).status === 401, 5_000);
  });

  it('rate-limits and throttles logins through Redis, shared by the mesh', async () => {
    const api = await http(base, 'GET', '/api/v1/me');
    expect(api.headers.get('ratelimit-limit')).toBeTruthy();
    const redis = new Redis(REDIS_URL);
    try {
      expect(Number(await redis.get(`${ns}:rl:api:127.0.0.1`)) + Number(await redis.get(`${ns}:rl:api:::ffff:127.0.0.1`))).toBeGreaterThan(0);
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++)
        statuses.push((await http(base, 'POST', '/api/v1/auth/login', { email: 'locked@example.com', password: `wrong ${i} password` })).status);
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
      const keys = await redis.keys(`${ns}:rl:login:acct:*`);
      expect(keys).toHaveLength(1);
      expect(await redis.pttl(defined(keys[0]))).toBeGreaterThan(0);
    } finally {
      redis.disconnect();
    }
  });
});

describe('nodes in separate OS processes', () => {
  const children: ChildProcess[] = [];
  let gw: LmsNode;
  let identity: LmsNode;
  let base: string;
  let pns: string;

  function spawnNode(services: string, nodeId: string): ChildProcess {
    // node --import tsx, not the tsx wrapper: a SIGKILL must reach the node itself.
    const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('tools/cli.ts'), 'node', '--services', services], {
      env: {
        ...process.env,
        DATABASE_URL: dbUrl,
        NATS_URL,
        REDIS_URL,
        LMS_NAMESPACE: pns,
        NODE_ID: nodeId,
        LOG_LEVEL: 'warn',
        MOLECULER_HEARTBEAT_INTERVAL: '1',
        MOLECULER_HEARTBEAT_TIMEOUT: '3',
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    children.push(child);
    return child;
  }

  beforeAll(async () => {
    pns = uniqueName('p');
    process.env.MOLECULER_HEARTBEAT_INTERVAL = '1';
    process.env.MOLECULER_HEARTBEAT_TIMEOUT = '3';
    process.env.MOLECULER_REQUEST_TIMEOUT = '1500';
    try {
      spawnNode('courses', 'proc-courses-1');
      spawnNode('courses', 'proc-courses-2');
      spawnNode('analytics,audit', 'proc-analytics');
      identity = await startNode(pick('auth,users'), { ...mesh({ nodeId: 'proc-identity' }), namespace: pns });
      gw = await startNode(pick('gateway'), { ...mesh({ nodeId: 'proc-gateway' }), namespace: pns });
    } finally {
      delete process.env.MOLECULER_HEARTBEAT_INTERVAL;
      delete process.env.MOLECULER_HEARTBEAT_TIMEOUT;
      delete process.env.MOLECULER_REQUEST_TIMEOUT;
    }
    base = `http://127.0.0.1:${gatewayPort(gw.broker)}`;
    await waitFor(
      async () => {
        const nodes = gw.broker.registry.getNodeList({ onlyAvailable: true, withServices: false }) as Array<{ id: string }>;
        return ['proc-courses-1', 'proc-courses-2', 'proc-analytics'].every((id) => nodes.some((n) => n.id === id));
      },
      45_000,
      200,
    );
  }, 60_000);
  afterAll(async () => {
    await Promise.all(children.filter((c) => c.exitCode === null && c.signalCode === null).map((c) => new Promise((r) => c.once('exit', r).kill('SIGKILL'))));
    await gw?.stop();
    await identity?.stop();
    await dropStreams(pns);
  });

  it('routes around a SIGKILLed node and the event still reaches the consumer process', async () => {
    const admin = (await http(base, 'POST', '/api/v1/auth/login', { email: 'mesh-admin@example.com', password: 'grid password 123' })).body;
    expect(admin.accessToken).toBeTruthy();
    const c = await http(base, 'POST', '/api/v1/courses', { title: 'Across processes', category: 'processes' }, admin.accessToken);
    expect(c.status).toBe(201);

    defined(children[0]).kill('SIGKILL');
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await http(base, 'GET', `/api/v1/courses/${c.body.id}`, undefined, admin.accessToken)).status);
    expect(statuses).toEqual(Array(10).fill(200));

    const pub = await http(base, 'POST', `/api/v1/courses/${c.body.id}/publish`, undefined, admin.accessToken);
    expect(pub.status).toBe(200);
    await waitFor(async () => {
      const r = await http(base, 'GET', '/api/v1/analytics/courses/published-by-category', undefined, admin.accessToken);
      return r.body.categories?.some((x: { category: string }) => x.category === 'processes');
    }, 15_000);
  }, 60_000);
});
