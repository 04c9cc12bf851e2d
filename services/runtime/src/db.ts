import fs from 'node:fs';
import path from 'node:path';
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
}

// JSON columns come back parsed; bigint counts as numbers (they stay far below 2^53 here).
pg.types.setTypeParser(20, (v) => Number(v));

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
    const lite = await PGlite.create({ dataDir: dir, extensions: { vector } });
    await lite.exec('create extension if not exists vector');
    pool = new pg.Pool(createPgConfig(lite) as unknown as pg.PoolConfig);
    closeExtra = () => lite.close();
  }
  return databaseOver(kind, pool, closeExtra);
}

/** A Database over a PGlite the caller opened (tests start one from a pre-initialised snapshot); closing it closes `lite`. */
export async function databaseOverPGlite(lite: PGliteInstance): Promise<Database> {
  const { createPgConfig } = await import('@electric-sql/pglite/node-postgres');
  await lite.exec('create extension if not exists vector');
  return databaseOver('pglite', new pg.Pool(createPgConfig(lite) as unknown as pg.PoolConfig), () => lite.close());
}

function databaseOver(kind: Database['kind'], pool: pg.Pool, closeExtra: () => Promise<void>): Database {
  const root = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
  return {
    kind,
    root,
    forSchema: <DB>(schema: string) => root.withSchema(schema) as unknown as Kysely<DB>,
    async ping() {
      await sql`select 1`.execute(root);
    },
    async close() {
      await root.destroy();
      await closeExtra();
    },
  };
}
