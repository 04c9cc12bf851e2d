import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import pg from 'pg';
import { natsRoles } from '../nats-config.ts';
import { checkResponse } from './conformance.ts';

/** The value, or a failed test that says what was missing: a test's "this must exist by now", checked, instead of `!`. */
export function defined<T>(value: T | null | undefined, what = 'a value'): T {
  if (value === undefined || value === null) throw new Error(`expected ${what}, got ${String(value)}`);
  return value;
}

/** A short unique name for streams, schemas and databases of one test run. */
export function uniqueName(prefix = 't'): string {
  return `${prefix}${randomBytes(4).toString('hex')}`;
}

export const PG_ADMIN_URL = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
/** The node roles' NATS passwords in the tests that run a NATS server with infra/nats's permissions (one server or a cluster). */
export const ROLE_PASSWORDS: Record<string, string> = Object.fromEntries([...Object.keys(natsRoles), 'operator'].map((role) => [role, `${role}-pass`]));
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A fresh PostgreSQL database on the local server; `drop()` removes it. */
export async function tempDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = uniqueName('lms_test_');
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = PG_ADMIN_URL.replace(/\/[^/]*$/, `/${name}`);
  return {
    url,
    async drop() {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

export function tempDir(): { dir: string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lms-test-'));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export async function waitFor<T>(fn: () => Promise<T | undefined | false>, timeoutMs = 10_000, stepMs = 50): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until) throw new Error(`waitFor timed out${last ? `: ${last instanceof Error ? String(last) : inspect(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** JSON over HTTP with the status, for REST tests. */
export async function http(
  base: string,
  method: string,
  url: string,
  body?: unknown,
  token?: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${base}${url}`, {
    method,
    headers: {
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : Buffer.isBuffer(body) ? new Uint8Array(body) : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  // Every response a test receives must be what /openapi.json declares (conformance.ts); a mismatch fails the test.
  await checkResponse(method, url, { status: res.status, headers: res.headers, text, body: parsed });
  return { status: res.status, body: parsed, headers: res.headers };
}

/** Deletes the JetStream streams of a test namespace. */
export async function dropStreams(namespace: string): Promise<void> {
  const { connect } = await import('nats');
  const nc = await connect({ servers: NATS_URL });
  const jsm = await nc.jetstreamManager();
  for (const s of await jsm.streams.names().next()) if (s.startsWith(`${namespace.toUpperCase()}_`)) await jsm.streams.delete(s);
  await nc.close();
}

/**
 * One mesh node on the machine's real servers: a fresh PostgreSQL database, JetStream on the local
 * NATS and Redis for throttles, under a namespace of its own. `stop()` removes all of it.
 */
export async function meshNode(services: import('@lms/runtime').ServiceModule[]) {
  const { startNode } = await import('@lms/runtime');
  const { gatewayPort } = await import('@lms/gateway');
  const pgdb = await tempDatabase();
  const namespace = uniqueName('t');
  const node = await startNode(services, {
    mode: 'mesh',
    databaseUrl: pgdb.url,
    natsUrl: NATS_URL,
    redisUrl: REDIS_URL,
    namespace,
    port: 0,
    migrateOnStart: true,
    nodeId: namespace,
  });
  return {
    node,
    base: `http://127.0.0.1:${gatewayPort(node.broker)}`,
    namespace,
    databaseUrl: pgdb.url,
    /** Where its events flow, for drained(). */
    pipeline: { databaseUrl: pgdb.url, namespace } satisfies Pipeline,
    async stop() {
      await node.stop();
      await dropStreams(namespace);
      await pgdb.drop();
    },
  };
}

export interface Mail {
  to: string[];
  raw: string;
  /** The message with quoted-printable soft breaks and escapes undone. */
  text: string;
}

/** A real SMTP peer (smtp-server) that keeps what it receives; `refuse` makes it reject matching recipients. */
export async function smtpPeer(port = 0) {
  const { SMTPServer } = await import('smtp-server');
  const mails: Mail[] = [];
  const state = { refuse: undefined as RegExp | undefined };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo(address, _session, done) {
      if (state.refuse?.test(address.address)) return done(Object.assign(new Error('550 mailbox unavailable'), { responseCode: 550 }));
      done();
    },
    onData(stream, session, done) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const text = raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
        mails.push({ to: session.envelope.rcptTo.map((r) => r.address), raw, text });
        done();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const bound = (server.server.address() as { port: number }).port;
  return {
    url: `smtp://127.0.0.1:${bound}`,
    mails,
    state,
    /** The newest mail to `to` whose text matches, waiting for it. */
    async next(to: string, match: RegExp, timeoutMs = 10_000): Promise<Mail> {
      return waitFor(async () => [...mails].reverse().find((m) => m.to.includes(to) && match.test(m.text)), timeoutMs);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The token of a link in a mail (`...?token=...`). */
export const tokenIn = (mail: Mail) => /[?&]token=([\w-]+)/.exec(mail.text)?.[1] ?? '';

/** One query on a test database (to look inside a service's tables). */
export async function query<R = Record<string, unknown>>(databaseUrl: string, q: string, params: unknown[] = []): Promise<R[]> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    return (await c.query(q, params)).rows;
  } finally {
    await c.end();
  }
}

/** A TCP port nothing listens on (yet). */
export async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** Where a test's event pipeline lives: its database (an in-process node's, or a URL) and, on JetStream, its namespace. */
export interface Pipeline {
  /** An in-process node's root database handle (embedded PGlite or PostgreSQL)… */
  db?: import('kysely').Kysely<any>;
  /** …or a PostgreSQL URL, for nodes in other processes. */
  databaseUrl?: string;
  /** The JetStream namespace (streams `<NS>_*`); none for the embedded transport. */
  namespace?: string;
  /** Where JetStream is, when not the machine's NATS (a test's own cluster): servers (comma-separated) and credentials. */
  nats?: { servers: string; user?: string; pass?: string };
  /**
   * Only the JetStream consumer groups whose durable names start with one of these (e.g. `analytics-`); by default
   * every group of the namespace. A group whose subscriber has stopped keeps counting what it has not read: leave it out.
   */
  consumers?: string[];
  /** Background work to wait for besides the outboxes; WORK_QUEUES by default (each where its table exists). */
  queues?: WorkQueue[];
}

/** Rows a background worker will still act on soon: `where` picks them in `table`. */
export interface WorkQueue {
  table: string;
  where: string;
}

/**
 * The services' background work that follows an event: notification requests to route, deliveries due or being
 * sent (a lease taken in the last 30 s: one a dead process left is not waited for), privacy jobs not yet finished.
 * Work scheduled for later (a digest held until 08:00, a retry backing off) is not in flight.
 */
export const WORK_QUEUES: WorkQueue[] = [
  { table: 'notifications.requests', where: `status = 'pending' and run_after <= now()` },
  {
    table: 'notifications.deliveries',
    where: `(status = 'queued' and run_after <= now()) or (status = 'sending' and updated_at > now() - interval '30 seconds')`,
  },
  { table: 'users.privacy_requests', where: `status in ('pending', 'running')` },
];

/** Rows waiting in every service's outbox (every schema that has an `outbox` table) and in the work queues. */
async function tableBacklog(p: Pipeline): Promise<number> {
  const run = async (q: string): Promise<Array<Record<string, unknown>>> =>
    p.db
      ? (await import('kysely')).sql
          .raw<Record<string, unknown>>(q)
          .execute(p.db)
          .then((r) => r.rows)
      : query(defined(p.databaseUrl, 'a database handle or URL'), q);
  const tables = new Set((await run(`select table_schema || '.' || table_name as t from information_schema.tables`)).map((r) => String(r.t)));
  const counts = [
    ...[...tables].filter((t) => t.endsWith('.outbox')).map((t) => `select count(*)::int as n from ${t}`),
    ...(p.queues ?? WORK_QUEUES).filter((q) => tables.has(q.table)).map((q) => `select count(*)::int as n from ${q.table} where ${q.where}`),
  ];
  if (counts.length === 0) return 0;
  return (await run(counts.join(' union all '))).reduce((sum, r) => sum + Number(r.n), 0);
}

/**
 * Messages of the namespace's streams not yet delivered, or delivered and not yet acknowledged, over every consumer
 * group (durable consumer). An ephemeral consumer (an ordered consumer a test reads a stream with, nats.js's
 * `js.consumers.get(stream)`) is no part of the pipeline: it outlives its reader for a while and counts every message
 * published after it as pending, so that waiting on it never settles.
 */
async function consumerBacklog(namespace: string, only?: string[], nats: Pipeline['nats'] = { servers: NATS_URL }): Promise<number> {
  const { connect } = await import('nats');
  const nc = await connect({ ...nats, servers: nats.servers.split(',') });
  try {
    const jsm = await nc.jetstreamManager();
    let backlog = 0;
    for (const stream of await jsm.streams.names().next()) {
      if (!stream.startsWith(`${namespace.toUpperCase()}_`)) continue;
      for (const c of await jsm.consumers.list(stream).next()) {
        if (!c.config.durable_name) continue;
        if (only && !only.some((prefix) => c.name.startsWith(prefix))) continue;
        backlog += c.num_pending + c.num_ack_pending;
      }
    }
    return backlog;
  } finally {
    await nc.close();
  }
}

/**
 * Waits until the event pipeline has nothing left in flight: every outbox empty, (on JetStream) every consumer group
 * of the namespace with nothing pending or unacknowledged, and no background work due (WORK_QUEUES) — twice in a
 * row, since a consumer can write a new outbox row between the two looks. The embedded transport has no queue of its own: a relay deletes an outbox row
 * only after every local consumer applied (or dead-lettered) it, so empty outboxes mean it is idle.
 * Use it before asserting that "nothing more happened" (no duplicate, no second effect), instead of a fixed sleep.
 */
export async function drained(p: Pipeline, timeoutMs = 15_000): Promise<void> {
  let clean = 0;
  await waitFor(
    async () => {
      const backlog = (await tableBacklog(p)) + (p.namespace ? await consumerBacklog(p.namespace, p.consumers, p.nats) : 0);
      clean = backlog === 0 ? clean + 1 : 0;
      return clean >= 2;
    },
    timeoutMs,
    50,
  ).catch((err: unknown) => {
    throw new Error(`the event pipeline did not drain in ${timeoutMs} ms (${String(err)})`);
  });
}
