/**
 * Service-to-service trust: a real nats-server runs infra/nats/nats.conf, and each node joins with
 * its role's credentials. The whole mesh works with only those rights; a wrong password is refused;
 * the gateway cannot publish domain events or read the event log; one role cannot forge another's events.
 * Mesh trust: with the gateway's credentials one cannot read another node's requests, call an internal
 * action, broadcast a session revocation, publish an erasure receipt, or act as an admin without their token.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { gatewayPort } from '@lms/gateway';
import { migrateAll, openDatabase, startNode, type LmsNode } from '@lms/runtime';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pick, SERVICES } from '../services.ts';
import { defined, http, tempDatabase, tempDir, waitFor, ROLE_PASSWORDS } from './support.ts';

const passwords = ROLE_PASSWORDS;
let server: ChildProcess;
let port: number;
let dir: ReturnType<typeof tempDir>;
let db: Awaited<ReturnType<typeof tempDatabase>>;
const nodes: LmsNode[] = [];
let base: string;
let serverLog = '';

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
const url = () => `nats://127.0.0.1:${port}`;
const as = (role: string, password: string = defined(passwords[role], `${role}'s NATS password`)) => ({
  servers: url(),
  user: role,
  pass: password,
  inboxPrefix: `_INBOX_${role}`,
});

beforeAll(async () => {
  dir = tempDir();
  port = await freePort();
  const conf = fs.readFileSync(path.resolve('infra/nats/nats.conf'), 'utf8').replace('"/data"', JSON.stringify(path.join(dir.dir, 'js')));
  fs.writeFileSync(path.join(dir.dir, 'nats.conf'), conf);
  const env = Object.fromEntries(Object.entries(passwords).map(([r, p]) => [`NATS_${r.toUpperCase()}_PASSWORD`, p]));
  server = spawn('nats-server', ['-c', path.join(dir.dir, 'nats.conf'), '-p', String(port), '-m', String(await freePort())], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  server.stderr?.on('data', (d: Buffer) => (serverLog += d.toString()));
  await waitFor(async () => connect(as('operator')).then((nc) => nc.close().then(() => true)));

  db = await tempDatabase();
  const d = await openDatabase({ databaseUrl: db.url, dataDir: '' });
  await migrateAll(d, Object.values(SERVICES));
  await d.close();
  const mesh = (role: string, nodeId: string) => ({
    mode: 'mesh' as const,
    databaseUrl: db.url,
    natsUrl: url(),
    natsUser: role,
    natsPassword: defined(passwords[role], `${role}'s NATS password`),
    namespace: 'lms',
    port: 0,
    migrateOnStart: false,
    nodeId,
  });
  nodes.push(await startNode(pick('auth,users'), mesh('identity', 'nats-test')));
  nodes.push(await startNode(pick('courses'), mesh('courses', 'nats-test')));
  nodes.push(await startNode(pick('enrollments'), mesh('enrollments', 'nats-test')));
  nodes.push(await startNode(pick('files'), mesh('files', 'nats-test')));
  nodes.push(await startNode(pick('analytics,audit'), mesh('analytics', 'nats-test')));
  nodes.push(await startNode(pick('notifications'), mesh('notifications', 'nats-test')));
  // The assessment services take part in every erasure, so the mesh is not whole without them.
  for (const role of ['assessments', 'attempts', 'assignments', 'grades', 'credentials']) {
    nodes.push(await startNode(pick(role), mesh(role, 'nats-test')));
  }
  // So do the llm service (its usage rows name users), on its own role, and search (memberships, analytics).
  nodes.push(await startNode(pick('llm'), mesh('ai', 'nats-test')));
  nodes.push(await startNode(pick('search'), mesh('search', 'nats-test')));
  const gw = await startNode(pick('gateway'), mesh('gateway', 'nats-test'));
  nodes.push(gw);
  base = `http://127.0.0.1:${gatewayPort(gw.broker)}`;
  await gw.broker.waitForServices(
    [
      'auth',
      'users',
      'courses',
      'enrollments',
      'files',
      'analytics',
      'audit',
      'notifications',
      'assessments',
      'attempts',
      'assignments',
      'grades',
      'credentials',
      'llm',
      'search',
    ],
    20_000,
  );
  await defined(nodes[0]).broker.waitForServices(['gateway'], 20_000);
}, 90_000);
afterAll(async () => {
  for (const n of nodes.reverse()) await n.stop().catch(() => {});
  server?.kill('SIGTERM');
  await db?.drop();
  dir?.remove();
});

/** Publishing where the role may not: the server refuses, the client's request fails. */
async function refused(nc: NatsConnection, subject: string): Promise<string> {
  const err = await nc.request(subject, new TextEncoder().encode('{}'), { timeout: 2_000 }).then(
    () => undefined,
    (e: Error) => e,
  );
  return String(err);
}

describe('NATS credentials per node role', () => {
  it('runs the whole mesh on role credentials: RPC, events, projections, audit and an erasure', async () => {
    const admin = (await http(base, 'POST', '/api/v1/auth/register', { email: 'root@nats.test', password: 'nats role password', displayName: 'Root' })).body;
    expect(admin.accessToken).toBeTruthy();
    const course = await http(base, 'POST', '/api/v1/courses', { title: 'Least privilege', category: 'security' }, admin.accessToken);
    expect((await http(base, 'POST', `/api/v1/courses/${course.body.id}/publish`, undefined, admin.accessToken)).status).toBe(200);
    // The enrollment saga publishes its events and its welcome message under its own role.
    const enrolled = await http(base, 'POST', `/api/v1/courses/${course.body.id}/enrollments`, {}, admin.accessToken);
    expect(enrolled.body.status).toBe('active');
    await waitFor(
      async () => (await http(base, 'GET', '/api/v1/analytics/courses/enrollments', undefined, admin.accessToken)).body.courses?.length === 1,
      15_000,
    );
    await waitFor(
      async () => (await http(base, 'GET', '/api/v1/analytics/courses/published-by-category', undefined, admin.accessToken)).body.total === 1,
      15_000,
    );
    await waitFor(async () => (await http(base, 'GET', '/api/v1/audit?type=user.created', undefined, admin.accessToken)).body.items?.length === 1, 15_000);
    const other = (await http(base, 'POST', '/api/v1/auth/register', { email: 'gone@nats.test', password: 'nats role password', displayName: 'Gone' })).body;
    const erasure = await http(base, 'POST', `/api/v1/users/${other.user.id}/erasure`, { confirm: 'ERASE' }, admin.accessToken);
    await waitFor(
      async () => (await http(base, 'GET', `/api/v1/privacy/requests/${erasure.body.id}`, undefined, admin.accessToken)).body.status === 'complete',
      15_000,
    );
    // Sign in again, and a course call through the gateway.
    const login = await http(base, 'POST', '/api/v1/auth/login', { email: 'root@nats.test', password: 'nats role password' });
    expect(login.status).toBe(200);
    expect((await http(base, 'GET', `/api/v1/courses/${course.body.id}`, undefined, login.body.accessToken)).status).toBe(200);
    // Node ids carry the role, and no node was refused a subject it needed.
    expect(nodes.map((n) => String(n.broker.nodeID)).sort()).toEqual(
      [
        'ai',
        'analytics',
        'assessments',
        'assignments',
        'attempts',
        'courses',
        'credentials',
        'enrollments',
        'files',
        'gateway',
        'grades',
        'identity',
        'notifications',
        'search',
      ].map((r) => `${r}.nats-test`),
    );
    expect(serverLog).not.toMatch(/Violation/i);
  });

  it('refuses a wrong password', async () => {
    const err = await connect({ ...as('identity', 'guess'), reconnect: false }).then(
      (nc) => nc.close(),
      (e: Error) => e,
    );
    expect(String(err)).toMatch(/AUTHORIZATION_VIOLATION|Authorization/i);
  });

  it('keeps the gateway out of JetStream: no domain events, no reading the event log', async () => {
    const nc = await connect(as('gateway'));
    try {
      expect(await refused(nc, 'lms.auth.login_succeeded.v1')).toMatch(/permission/i);
      expect(await refused(nc, '$JS.API.STREAM.MSG.GET.LMS_AUTH')).toMatch(/permission/i);
      expect(await refused(nc, '$JS.API.CONSUMER.CREATE.LMS_AUTH')).toMatch(/permission/i);
    } finally {
      await nc.close();
    }
  });

  it('lets no role forge another role’s events or delete streams', async () => {
    const nc = await connect(as('courses'));
    try {
      expect(await refused(nc, 'lms.auth.login_succeeded.v1')).toMatch(/permission/i);
      expect(await refused(nc, 'lms.user.created.v1')).toMatch(/permission/i);
      expect(await refused(nc, '$JS.API.STREAM.DELETE.LMS_COURSE')).toMatch(/permission/i);
      expect(await refused(nc, '$JS.API.STREAM.PURGE.LMS_COURSE')).toMatch(/permission/i);
    } finally {
      await nc.close();
    }
  });
});

/** Permission errors the server reports to a connection, as nats.js hands them on. */
function violations(nc: NatsConnection): Array<{ operation: string; subject: string }> {
  const seen: Array<{ operation: string; subject: string }> = [];
  void (async () => {
    for await (const st of nc.status()) if (st.permissionContext) seen.push(st.permissionContext);
  })();
  return seen;
}
const deniedTo = (seen: Array<{ operation: string; subject: string }>, operation: 'publish' | 'subscription', subject: string) =>
  waitFor(async () => seen.some((v) => v.operation === operation && v.subject === subject), 3_000);

/** A Moleculer request packet (protocol 5, JSON serializer) as another node would send it. */
function requestPacket(sender: string, action: string, params: object, meta: object) {
  return JSON.stringify({
    ver: '5',
    sender,
    id: randomUUID(),
    action,
    params,
    meta,
    timeout: 5_000,
    level: 1,
    tracing: null,
    parentID: null,
    requestID: randomUUID(),
    caller: null,
    stream: false,
  });
}

/** Sends a request as `sender` and returns its answer, or undefined when none comes within 2 s. */
async function callAs(nc: NatsConnection, sender: string, action: string, params: object, meta: object = {}) {
  const sub = nc.subscribe(`MOL-lms.RES.${sender}`, { max: 1 });
  await nc.flush();
  nc.publish(`MOL-lms.REQB.${action}`, requestPacket(sender, action, params, meta));
  const timer = setTimeout(() => sub.unsubscribe(), 2_000);
  for await (const m of sub) {
    clearTimeout(timer);
    return JSON.parse(new TextDecoder().decode(m.data)) as { success: boolean; data?: unknown; error?: { code?: string; type?: string; message: string } };
  }
  return undefined;
}

describe('calls on the action subjects', () => {
  it('sends a call to another node on MOL-lms.REQB.<action>, never to a node, and keeps a call within a node in-process', async () => {
    const op = await connect(as('operator'));
    try {
      const seen: string[] = [];
      op.subscribe('MOL-lms.REQB.>', { callback: (_e, m) => seen.push(m.subject) });
      op.subscribe('MOL-lms.REQ.>', { callback: (_e, m) => seen.push(m.subject) });
      await op.flush();
      // The gateway calls auth.login on the identity node, where auth calls users (same process).
      expect((await http(base, 'POST', '/api/v1/auth/login', { email: 'root@nats.test', password: 'nats role password' })).status).toBe(200);
      await op.flush();
      expect(seen).toContain('MOL-lms.REQB.auth.login');
      expect(seen.filter((s) => s.startsWith('MOL-lms.REQ.'))).toEqual([]);
      expect(seen).not.toContain('MOL-lms.REQB.users.byId');
    } finally {
      await op.close();
    }
  });
});

describe('mesh trust: what gateway credentials cannot do', () => {
  it('cannot read another node’s requests: no subscribing to auth.login requests, the auth node’s subjects or other inboxes', async () => {
    const nc = await connect(as('gateway'));
    const seen = violations(nc);
    try {
      const got: string[] = [];
      for (const subject of [
        'MOL-lms.REQB.auth.login',
        'MOL-lms.REQ.identity.nats-test',
        'MOL-lms.RES.identity.nats-test',
        'MOL-lms.REQB.>',
        'MOL-lms.>',
        '_INBOX.>',
        '_INBOX_identity.>',
      ]) {
        nc.subscribe(subject, { callback: (err, m) => !err && got.push(m.subject) });
      }
      for (const subject of [
        'MOL-lms.REQB.auth.login',
        'MOL-lms.REQ.identity.nats-test',
        'MOL-lms.RES.identity.nats-test',
        'MOL-lms.REQB.>',
        'MOL-lms.>',
        '_INBOX.>',
        '_INBOX_identity.>',
      ]) {
        await deniedTo(seen, 'subscription', subject);
      }
      // A password travels while the subscriptions stand: none of them sees it.
      expect((await http(base, 'POST', '/api/v1/auth/login', { email: 'root@nats.test', password: 'nats role password' })).status).toBe(200);
      await nc.flush();
      expect(got).toEqual([]);
    } finally {
      await nc.close();
    }
  });

  it('cannot call an internal action, while the operator can (same packet)', async () => {
    const op = await connect(as('operator'));
    try {
      const answer = await callAs(op, 'operator.probe', 'users.byId', { id: randomUUID() }, { edge: false });
      expect(answer, 'the operator’s request is answered').toBeDefined();
    } finally {
      await op.close();
    }
    const nc = await connect(as('gateway'));
    const seen = violations(nc);
    try {
      for (const action of ['users.byId', 'users.create', 'courses.roleOf', 'auth.privacyExport', 'users.events.replay', '$node.list']) {
        expect(await callAs(nc, 'gateway.probe', action, { id: randomUUID() }, { edge: false }), action).toBeUndefined();
        await deniedTo(seen, 'publish', `MOL-lms.REQB.${action}`);
      }
      // Nor straight to a node, around the queue group.
      nc.publish('MOL-lms.REQ.identity.nats-test', requestPacket('gateway.probe', 'users.byId', { id: randomUUID() }, {}));
      await deniedTo(seen, 'publish', 'MOL-lms.REQ.identity.nats-test');
    } finally {
      await nc.close();
    }
  });

  it('cannot broadcast a session revocation, nor emit events', async () => {
    const nc = await connect(as('gateway'));
    const seen = violations(nc);
    try {
      const revoke = JSON.stringify({
        ver: '5',
        sender: 'identity.nats-test',
        id: randomUUID(),
        event: 'auth.sessions.revoked',
        data: { sessionIds: [randomUUID()], until: Date.now() + 60_000 },
        groups: ['gateway'],
        broadcast: true,
        meta: {},
        level: 1,
        needAck: false,
      });
      for (const subject of ['MOL-lms.EVENT.gateway.nats-test', 'MOL-lms.EVENT.gateway.other', 'MOL-lms.EVENTB.gateway.auth.sessions.revoked']) {
        nc.publish(subject, revoke);
        await deniedTo(seen, 'publish', subject);
      }
    } finally {
      await nc.close();
    }
  });

  it('cannot publish an erasure receipt; a service can publish only its own', async () => {
    const gwc = await connect(as('gateway'));
    try {
      expect(await refused(gwc, 'lms.privacy.auth_erased.v1')).toMatch(/permission/i);
    } finally {
      await gwc.close();
    }
    const nc = await connect(as('courses'));
    try {
      for (const other of ['auth', 'enrollments', 'files', 'notifications', 'audit'])
        expect(await refused(nc, `lms.privacy.${other}_erased.v1`), other).toMatch(/permission/i);
      expect(await refused(nc, 'lms.privacy.erased.v1')).toMatch(/permission/i);
    } finally {
      await nc.close();
    }
  });

  it('cannot act as an admin without an admin’s token: a forged meta.caller is UNAUTHENTICATED', async () => {
    const admin = (await http(base, 'POST', '/api/v1/auth/login', { email: 'root@nats.test', password: 'nats role password' })).body;
    const nc = await connect(as('gateway'));
    try {
      const meta = { caller: { userId: admin.user.id, roles: ['admin'] }, edge: true, requestId: randomUUID() };
      const answer = await callAs(nc, 'gateway.probe', 'users.list', {}, meta);
      expect(answer?.success).toBe(false);
      expect(answer?.error?.type ?? answer?.error?.code).toBe('UNAUTHENTICATED');
    } finally {
      await nc.close();
    }
  });
});
