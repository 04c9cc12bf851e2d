import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { PGlite as PGliteInstance } from '@electric-sql/pglite';
import type { RuntimeConfig } from './config.js';

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
  close(): Promise<void>;
  /**
   * PGlite only: a gzipped tarball of the data directory, taken between two queries of the one connection (so it is the
   * state of committed transactions, like a crash image): the online backup of an embedded node (`lms backup`).
   */
  dumpDataDir?(): Promise<Blob>;
}

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

export async function openDatabase(config: Pick<RuntimeConfig, 'databaseUrl' | 'dataDir'>, poolSize = 10): Promise<Database> {
  let pool: pg.Pool;
  let kind: Database['kind'];
  let closeExtra = async () => {};
  if (config.databaseUrl) {
    kind = 'postgres';
    pool = new pg.Pool({ connectionString: config.databaseUrl, max: poolSize });
    pool.on('error', () => {}); // idle client errors surface on the next query instead
  } else {
    kind = 'pglite';
    const { PGlite } = await import('@electric-sql/pglite');
    const { vector } = await import('@electric-sql/pglite-pgvector');
    const { createPgConfig } = await import('@electric-sql/pglite/node-postgres');
    const dir = config.dataDir === 'memory://' ? 'memory://' : path.join(config.dataDir, 'pg');
    if (dir !== 'memory://') fs.mkdirSync(dir, { recursive: true });
    liftoffOnly();
    const lite = await PGlite.create({ dataDir: dir, extensions: { vector }, startParams: [...PGlite.defaultStartParams, ...PGLITE_SETTINGS] });
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
    async close() {
      await root.destroy();
      await closeExtra();
    },
  };
}
