import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { PGlite as PGliteInstance } from '@electric-sql/pglite';
import type { RuntimeConfig } from './config.js';
import type { Logger } from './logger.js';
import { databaseUp, registry } from './metrics.js';

/**
 * One database per process. Embedded mode runs PGlite (with pgvector) behind node-postgres'
 * Pool interface, so both modes share one driver path; PGlite's single connection makes the
 * pool serialise transactions, which is what a single-writer embedded database needs.
 */
export interface Database {
  kind: 'pglite' | 'postgres';
  /** Kysely with no schema bound; services use `forSchema`. */
  root: Kysely<any>;
  forSchema<DB>(schema: string): Kysely<DB>;
  ping(): Promise<void>;
  /**
   * Whether the database answers now: a `select 1` within `timeoutMs`. Never throws; a lost connection or a server
   * that is away reads as false (readiness reports it per node and service).
   */
  reachable(timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
  /**
   * PGlite only: a gzipped tarball of the data directory, taken between two queries of the one connection (so it is the
   * state of committed transactions, like a crash image): the online backup of an embedded node (`lms backup`).
   */
  dumpDataDir?(): Promise<Blob>;
}

/**
 * How long a query waits for a connection (a free slot of the pool, or a new connection to a server that does not
 * answer) before it fails with a retryable 503: below the broker's request timeout (10 s), so a caller gets a clear
 * "unavailable" rather than a timeout, and a pile of waiting requests cannot outlast an outage.
 */
export const CONNECT_TIMEOUT_MS = 5_000;

// JSON columns come back parsed; bigint counts as numbers (they stay far below 2^53 here).
pg.types.setTypeParser(20, (v) => Number(v));

/**
 * PostgreSQL settings of the embedded database (PGlite). PGlite keeps PostgreSQL's default shared_buffers of
 * 128 MB, and its WebAssembly memory holds all of it once started: ~130 MB of RSS for a cache an embedded LMS
 * does not need (the operating system still caches the data files below it). On a 2-core machine under load, point
 * reads and updates showed no difference beyond the noise; scans of tables larger than 16 MB read through that
 * cache more often (docs/benchmarks.md, "Footprint"). One backend runs, so few connection slots are needed.
 */
const PGLITE_SETTINGS = ['-c', 'shared_buffers=16MB', '-c', 'max_connections=10'];

/**
 * V8 compiles PGlite's 9 MB of WebAssembly with its baseline compiler (Liftoff) and then recompiles hot functions
 * with TurboFan, which for PostgreSQL's large functions (the parser, the executor) takes 0.5 GB of memory at its peak,
 * keeps ~50 MB more for good and several CPU seconds at start. Liftoff alone was as fast in a quick measurement of
 * point reads and updates (TurboFan's compiling competes for the same cores). Process-wide, so only where PGlite runs, before
 * its module compiles; the implied flags are set too, as V8 does not derive them after start.
 */
function liftoffOnly() {
  for (const flag of ['--liftoff-only', '--no-wasm-tier-up', '--no-wasm-dynamic-tiering']) v8.setFlagsFromString(flag);
}

/**
 * No database event may end the process. node-postgres' Pool listens for a client's 'error' only while the client is
 * idle in the pool; a client checked out (a unit of work's transaction, the outbox relay holding its rows locked
 * across a publish) that loses its server between two queries emits 'error' with nobody listening — Node's
 * "Unhandled 'error' event", which ended nodes whenever PostgreSQL restarted or its backends were terminated. So
 * every client gets a listener of its own when it connects, for its whole life: the error is noted (once per
 * outage, not per client), the client is unusable from then on, its holder's next query fails with a connection
 * error (a retryable 503 to callers), and the pool discards it on release (pg-pool drops clients that are no longer
 * queryable) and connects a fresh one for the next query. The pool's own 'error' (an idle client lost) is handled
 * the same way.
 */
function survivesConnectionLoss(pool: pg.Pool, logger: Pick<Logger, 'warn' | 'info'> | undefined): void {
  let lost = false;
  if (!registry.getSingleMetric('lms_database_up')) registry.registerMetric(databaseUp);
  databaseUp.set(1);
  const onError = (err: Error) => {
    databaseUp.set(0);
    if (lost) return;
    lost = true;
    // The code only (57P01, ECONNRESET…): a driver message may carry the host, never credentials, but keep it short.
    logger?.warn({ code: (err as { code?: unknown }).code ?? null }, 'database connection lost; queries fail as unavailable until it is back');
  };
  pool.on('error', onError);
  pool.on('connect', (client) => {
    client.on('error', onError);
    databaseUp.set(1);
    if (lost) {
      lost = false;
      logger?.info('database connection restored');
    }
  });
}

export async function openDatabase(config: Pick<RuntimeConfig, 'databaseUrl' | 'dataDir'>, poolSize = 10, logger?: Logger): Promise<Database> {
  let pool: pg.Pool;
  let kind: Database['kind'];
  let closeExtra = async () => {};
  if (config.databaseUrl) {
    kind = 'postgres';
    // keepAlive: an idle connection to a server that vanished without closing the socket (a host that died, a
    // partition) is probed after 10 s and eventually dropped by the kernel, instead of failing the next query late.
    pool = new pg.Pool({
      connectionString: config.databaseUrl,
      max: poolSize,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    survivesConnectionLoss(pool, logger);
  } else {
    kind = 'pglite';
    const { PGlite } = await import('@electric-sql/pglite');
    const { vector } = await import('@electric-sql/pglite-pgvector');
    const { pg_trgm } = await import('@electric-sql/pglite/contrib/pg_trgm');
    const { unaccent } = await import('@electric-sql/pglite/contrib/unaccent');
    const { createPgConfig } = await import('@electric-sql/pglite/node-postgres');
    const dir = config.dataDir === 'memory://' ? 'memory://' : path.join(config.dataDir, 'pg');
    if (dir !== 'memory://') fs.mkdirSync(dir, { recursive: true });
    liftoffOnly();
    const lite = await PGlite.create({
      dataDir: dir,
      extensions: { vector, pg_trgm, unaccent },
      startParams: [...PGlite.defaultStartParams, ...PGLITE_SETTINGS],
    });
    await lite.exec('create extension if not exists vector');
    pool = new pg.Pool(createPgConfig(lite));
    closeExtra = () => lite.close();
    return { ...databaseOver(kind, pool, closeExtra), dumpDataDir: () => lite.dumpDataDir('gzip') };
  }
  return databaseOver(kind, pool, closeExtra);
}

/** A Database over a PGlite the caller opened (tests start one from a pre-initialised snapshot); closing it closes `lite`. */
export async function databaseOverPGlite(lite: PGliteInstance): Promise<Database> {
  const { createPgConfig } = await import('@electric-sql/pglite/node-postgres');
  await lite.exec('create extension if not exists vector');
  return databaseOver('pglite', new pg.Pool(createPgConfig(lite)), () => lite.close());
}

function databaseOver(kind: Database['kind'], pool: pg.Pool, closeExtra: () => Promise<void>): Database {
  const root = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
  return {
    kind,
    root,
    forSchema: <DB>(schema: string) => root.withSchema(schema) as Kysely<DB>,
    async ping() {
      await sql`select 1`.execute(root);
    },
    async reachable(timeoutMs = 1_500) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
      const answered = sql`select 1`.execute(root).then(
        () => true,
        () => false,
      );
      try {
        const up = await Promise.race([answered, late]);
        if (kind === 'postgres') databaseUp.set(up ? 1 : 0);
        return up;
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      await root.destroy();
      await closeExtra();
    },
  };
}
