/**
 * Unit tests of one service (or a few) over an in-process broker: embedded mode, an in-memory PGlite, in-process
 * events, and a TEST DOUBLE of the token verifier (named as such: it stands in for the auth service's keys, which a
 * single-service test does not run). Handlers are reached exactly as in production — through their Moleculer
 * action, with input/output validation, permissions and the unit of work — only the caller is minted by the test.
 *
 *   const node = await testNode([coursesService]);
 *   const alice = node.as({ userId: randomUUID(), roles: ['instructor'] });
 *   const course = await alice.call(courses.create, { title: 'Algebra' });
 *
 * A fake clock: `vi.useFakeTimers({ toFake: ['Date'] })` + `vi.setSystemTime(...)` moves what handlers read from
 * `Date` — and SQL `now()` too: PGlite's clock reads `Date.now()` (measured), so handler and database time agree.
 * Keep fake times within a few weeks of the real clock: PGlite's interval timers are computed from `Date`, and a
 * deadline more than 24.8 days away from the real clock makes Node print TimeoutOverflowWarning.
 */
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { DomainError, type AnyProcedure, type EventContract } from '@lms/contracts';
import { Errors, type ServiceBroker } from 'moleculer';
import type { z } from 'zod';
import { databaseOverPGlite } from './db.js';
import { migrateAll, runtimeMigrations, type Migrations } from './migrate.js';
import { startNode, type LmsNode, type RuntimeSettings } from './runtime.js';
import type { Caller, CallMeta, ServiceModule } from './service.js';
import type { Verifier } from './token-verifier.js';

const PREFIX = 'test-caller.';

/** TEST DOUBLE of TokenVerifier: a token is `test-caller.<base64url JSON of the Caller>`; nothing else is accepted. */
export class TestVerifier implements Verifier {
  private readonly revoked = new Set<string>();

  static tokenFor(caller: Caller): string {
    return PREFIX + Buffer.from(JSON.stringify(caller)).toString('base64url');
  }

  async verify(token: string): Promise<Caller> {
    if (!token.startsWith(PREFIX)) throw new DomainError('TOKEN_INVALID', 'The access token is not valid');
    let caller: Caller;
    try {
      caller = JSON.parse(Buffer.from(token.slice(PREFIX.length), 'base64url').toString('utf8')) as Caller;
    } catch {
      throw new DomainError('TOKEN_INVALID', 'The access token is not valid');
    }
    if (caller.sessionId && this.revoked.has(caller.sessionId)) throw new DomainError('TOKEN_INVALID', 'The session of this access token has ended');
    return caller;
  }

  revokeSessions(sessionIds: string[]): void {
    for (const id of sessionIds) this.revoked.add(id);
  }

  keysRotated(): void {}

  async rolesChanged(): Promise<void> {}
}

/** A call's failure as the caller sees it: the error code and HTTP status the gateway would answer with. */
export interface CallFailure {
  code: string;
  status: number;
  message: string;
  data: unknown;
}

export interface TestClient {
  caller: Caller | undefined;
  /** Calls a procedure as this caller, through its action (validation, permission, handler, output check). */
  call<C extends AnyProcedure>(contract: C, input: z.input<C['input']>): Promise<z.output<C['output']>>;
  /** Calls a procedure that must fail, and answers how. */
  fail<C extends AnyProcedure>(contract: C, input: z.input<C['input']>): Promise<CallFailure>;
}

export interface TestNode extends LmsNode {
  /** A client calling as this caller (a fresh user id and `learner` by default), as if through the gateway. */
  as(caller?: Partial<Caller>): TestClient;
  /** A client with no token (public procedures). */
  anonymous(): TestClient;
  /** A client calling as another service would (internal procedures). */
  internal(caller?: Caller): TestClient;
  /**
   * Publishes an event as if another service had emitted it (its payload checked against the contract), and answers once
   * this node's consumers have applied it: stands in for a service the test does not run. Answers the event's id.
   */
  publish<E extends EventContract>(event: E, payload: z.input<E['payload']>, key?: string): Promise<string>;
}

/**
 * Starts `services` in one embedded node on an in-memory database, with the test verifier. The database is loaded
 * from a snapshot of an initialised, migrated PGlite (see `pgliteSnapshot`): PGlite's own initdb takes 2–3 s on an
 * idle machine and 20+ s under load, loading a snapshot a fraction of that.
 */
export async function testNode(services: ServiceModule[], overrides: Partial<RuntimeSettings> = {}): Promise<TestNode> {
  // With `databaseUrl` the node runs on that PostgreSQL database (migrated on start) instead of an in-memory PGlite.
  const snapshot = overrides.databaseUrl ? undefined : await pgliteSnapshot(services);
  const node = await startNode(
    services,
    // A snapshot is named by the migrations it holds: it is up to date, nothing to migrate on start.
    { mode: 'embedded', dataDir: 'memory://', port: 0, logLevel: 'warn', ...(snapshot && { migrateOnStart: false }), ...overrides },
    {},
    { verifier: () => new TestVerifier(), ...(!overrides.databaseUrl && { database: () => openPGlite(snapshot) }) },
  );
  const client = (broker: ServiceBroker, caller: Caller | undefined, edge: boolean): TestClient => {
    const meta = (): CallMeta => ({ token: caller ? TestVerifier.tokenFor(caller) : undefined, edge, requestId: randomUUID() });
    const call = <C extends AnyProcedure>(contract: C, input: z.input<C['input']>) =>
      broker.call<z.output<C['output']>, z.input<C['input']>>(contract.action, input, { meta: meta() });
    return {
      caller,
      call,
      async fail(contract, input) {
        try {
          await call(contract, input);
        } catch (err) {
          if (err instanceof Errors.MoleculerError) return { code: err.type, status: err.code, message: err.message, data: err.data };
          throw err;
        }
        throw new Error(`${contract.action} succeeded; the test expected it to fail`);
      },
    };
  };
  return {
    ...node,
    as: (c = {}) => client(node.broker, { userId: randomUUID(), roles: ['learner'], ...c }, true),
    anonymous: () => client(node.broker, undefined, true),
    internal: (c) => client(node.broker, c, false),
    async publish(event, payload, key) {
      const parsed: unknown = event.payload.parse(payload);
      const id = randomUUID();
      await node.runtime.transport.publish([
        { seq: 0, id, subject: event.subject, key: key ?? null, request_id: null, payload: parsed, occurred_at: new Date() },
      ]);
      return id;
    },
  };
}

/**
 * Polls `check` until it stops throwing (events are delivered after commit, asynchronously): answers its value,
 * or throws its last error after `timeoutMs`.
 */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 10_000, everyMs = 25): Promise<T> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (performance.now() > until) throw err;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Database snapshots. A snapshot is a tarball of PGlite's data directory (`dumpDataDir`), cached on disk under
// node_modules/.cache/lms-test-pglite and named by a hash of what it holds: the PGlite and pgvector builds, and the
// schemas and migration sources of the services it was migrated for. Anything that changes a migration changes
// the name, so a stale snapshot is never loaded; the node still runs its migrations on start (they find nothing
// to do). Two levels: `base` (initdb + the vector extension), and one per set of services (base + migrations).
// Files are written under a temporary name and renamed, so test files or runs racing to build one are harmless.
// Set LMS_TEST_SNAPSHOT=0 to start from a fresh PGlite instead.
// ---------------------------------------------------------------------------------------------------------------

const require = createRequire(import.meta.url);
const snapshots = new Map<string, Promise<Blob | undefined>>();

async function createPGlite(snapshot: Blob | undefined) {
  const { PGlite } = await import('@electric-sql/pglite');
  const { vector } = await import('@electric-sql/pglite-pgvector');
  // Search's extensions (PGlite's contrib): loaded here, created by search's migration.
  const { pg_trgm } = await import('@electric-sql/pglite/contrib/pg_trgm');
  const { unaccent } = await import('@electric-sql/pglite/contrib/unaccent');
  return PGlite.create({ dataDir: 'memory://', loadDataDir: snapshot, extensions: { vector, pg_trgm, unaccent } });
}

async function openPGlite(snapshot: Blob | undefined) {
  return databaseOverPGlite(await createPGlite(snapshot));
}

function cacheDir(): string {
  // The repository's node_modules (services/runtime/src → ../../../node_modules).
  return path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../node_modules/.cache/lms-test-pglite');
}

function hash(parts: string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex').slice(0, 16);
}

/** Snapshots unused for this long are removed when a new one is written (each is ~40 MB). */
const KEEP_UNUSED_MS = 3 * 24 * 3600_000;

function cached(name: string, build: () => Promise<Blob>): Promise<Blob> {
  const file = path.join(cacheDir(), `${name}.tar`);
  if (fs.existsSync(file)) {
    const now = new Date();
    fs.utimesSync(file, now, now); // marks it used (see prune)
    return Promise.resolve(new Blob([fs.readFileSync(file)]));
  }
  return build().then(async (blob) => {
    fs.mkdirSync(cacheDir(), { recursive: true });
    prune();
    const tmp = `${file}.${process.pid}.${randomUUID()}`;
    fs.writeFileSync(tmp, Buffer.from(await blob.arrayBuffer()));
    fs.renameSync(tmp, file);
    return blob;
  });
}

function prune(): void {
  for (const f of fs.readdirSync(cacheDir())) {
    const p = path.join(cacheDir(), f);
    try {
      if (Date.now() - fs.statSync(p).mtimeMs > KEEP_UNUSED_MS) fs.rmSync(p, { force: true });
    } catch {
      // another process removed it meanwhile
    }
  }
}

/** The snapshot a test node over `services` starts from (undefined: none, start fresh). */
export function pgliteSnapshot(services: ServiceModule[]): Promise<Blob | undefined> {
  if (process.env.LMS_TEST_SNAPSHOT === '0') return Promise.resolve(undefined);
  const build = [require.resolve('@electric-sql/pglite'), require.resolve('@electric-sql/pglite-pgvector')];
  const base = `base-${hash(build)}`;
  const withSchema = services.filter((s) => s.schema);
  const sources = (ms: Migrations) => Object.entries(ms).flatMap(([n, m]) => [n, m.up.toString(), m.down?.toString() ?? '']);
  // The runtime's own tables (outbox, idempotency keys…) are migrated into every schema: a new one names a new snapshot.
  const migrations = [...sources(runtimeMigrations), ...withSchema.flatMap((s) => [s.schema, ...sources(s.migrations)])];
  const key = `migrated-${hash([base, ...migrations])}`;
  let p = snapshots.get(key);
  if (!p) {
    p = cached(key, async () => {
      const baseSnapshot = await cached(base, async () => {
        const lite = await createPGlite(undefined);
        await lite.exec('create extension if not exists vector');
        const blob = await lite.dumpDataDir('none');
        await lite.close();
        return blob;
      });
      const lite = await createPGlite(baseSnapshot);
      const db = await databaseOverPGlite(lite);
      try {
        await migrateAll(db, withSchema);
        return await lite.dumpDataDir('none');
      } finally {
        await db.close();
      }
    });
    snapshots.set(key, p);
  }
  return p;
}
