/**
 * Service-to-service trust: a real nats-server runs infra/nats/nats.conf, and each node joins with
 * its role's credentials. The whole mesh works with only those rights; a wrong password is refused;
 * the gateway cannot publish domain events or read the event log; one role cannot forge another's events.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { gatewayPort } from '@lms/gateway';
import { migrateAll, openDatabase, startNode, type LmsNode } from '@lms/runtime';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pick, SERVICES } from '../services.ts';
import { http, tempDatabase, tempDir, waitFor } from './support.ts';

const passwords = { gateway: 'gw-pass', identity: 'id-pass', courses: 'co-pass', enrollments: 'en-pass', files: 'fi-pass', analytics: 'an-pass', notifications: 'no-pass', operator: 'op-pass' };
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
const as = (role: keyof typeof passwords, password: string = passwords[role]) => ({ servers: url(), user: role, pass: password, inboxPrefix: `_INBOX_${role}` });

beforeAll(async () => {
  dir = tempDir();
  port = await freePort();
  const conf = fs.readFileSync(path.resolve('infra/nats/nats.conf'), 'utf8').replace('"/data"', JSON.stringify(path.join(dir.dir, 'js')));
  fs.writeFileSync(path.join(dir.dir, 'nats.conf'), conf);
  const env = Object.fromEntries(Object.entries(passwords).map(([r, p]) => [`NATS_${r.toUpperCase()}_PASSWORD`, p]));
  server = spawn('nats-server', ['-c', path.join(dir.dir, 'nats.conf'), '-p', String(port), '-m', String(await freePort())], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  server.stderr?.on('data', (d: Buffer) => (serverLog += d.toString()));
  await waitFor(async () => (await connect(as('operator')).then((nc) => nc.close().then(() => true))) as boolean);

  db = await tempDatabase();
  const d = await openDatabase({ databaseUrl: db.url, dataDir: '' });
  await migrateAll(d, Object.values(SERVICES));
  await d.close();
  const mesh = (role: keyof typeof passwords, nodeId: string) => ({ mode: 'mesh' as const, databaseUrl: db.url, natsUrl: url(), natsUser: role, natsPassword: passwords[role], namespace: 'lms', port: 0, migrateOnStart: false, nodeId });
  nodes.push(await startNode(pick('auth,users'), mesh('identity', 'identity')));
  nodes.push(await startNode(pick('courses'), mesh('courses', 'courses')));
  nodes.push(await startNode(pick('enrollments'), mesh('enrollments', 'enrollments')));
  nodes.push(await startNode(pick('files'), mesh('files', 'files')));
  nodes.push(await startNode(pick('analytics,audit'), mesh('analytics', 'analytics')));
  nodes.push(await startNode(pick('notifications'), mesh('notifications', 'notifications')));
  const gw = await startNode(pick('gateway'), mesh('gateway', 'gateway'));
  nodes.push(gw);
  base = `http://127.0.0.1:${gatewayPort(gw.broker)}`;
  await gw.broker.waitForServices(['auth', 'users', 'courses', 'enrollments', 'files', 'analytics', 'audit', 'notifications'], 20_000);
}, 90_000);
afterAll(async () => {
  for (const n of nodes.reverse()) await n.stop().catch(() => {});
  server?.kill('SIGTERM');
  await db?.drop();
  dir?.remove();
});

/** Publishing where the role may not: the server refuses, the client's request fails. */
async function refused(nc: NatsConnection, subject: string): Promise<string> {
  const err = await nc.request(subject, new TextEncoder().encode('{}'), { timeout: 2_000 }).then(() => undefined, (e: Error) => e);
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
    await waitFor(async () => (await http(base, 'GET', '/api/v1/analytics/courses/enrollments', undefined, admin.accessToken)).body.courses?.length === 1, 15_000);
    await waitFor(async () => (await http(base, 'GET', '/api/v1/analytics/courses/published-by-category', undefined, admin.accessToken)).body.total === 1, 15_000);
    await waitFor(async () => (await http(base, 'GET', '/api/v1/audit?type=user.created', undefined, admin.accessToken)).body.items?.length === 1, 15_000);
    const other = (await http(base, 'POST', '/api/v1/auth/register', { email: 'gone@nats.test', password: 'nats role password', displayName: 'Gone' })).body;
    const erasure = await http(base, 'POST', `/api/v1/users/${other.user.id}/erasure`, { confirm: 'ERASE' }, admin.accessToken);
    await waitFor(async () => (await http(base, 'GET', `/api/v1/privacy/requests/${erasure.body.id}`, undefined, admin.accessToken)).body.status === 'complete', 15_000);
  });

  it('refuses a wrong password', async () => {
    const err = await connect({ ...as('identity', 'guess'), reconnect: false }).then((nc) => nc.close(), (e: Error) => e);
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
