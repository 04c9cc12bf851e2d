import { inspect } from 'node:util';
import { sql, type Kysely } from 'kysely';
import { Migrator, type Migration } from 'kysely/migration';
import type { Database } from './db.js';

export type Migrations = Record<string, Migration>;

/** Tables every service with events has in its own schema: the outbox, processed ids, dead letters. */
export const runtimeMigrations: Migrations = {
  '00000000000000_runtime_events': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('outbox')
        .addColumn('seq', 'bigserial', (c) => c.primaryKey())
        .addColumn('id', 'uuid', (c) => c.notNull().unique())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('key', 'text')
        .addColumn('request_id', 'text')
        .addColumn('payload', 'jsonb', (c) => c.notNull())
        .addColumn('occurred_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
      await db.schema
        .createTable('processed_events')
        .addColumn('consumer', 'text', (c) => c.notNull())
        .addColumn('event_id', 'uuid', (c) => c.notNull())
        .addColumn('processed_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addPrimaryKeyConstraint('processed_events_pk', ['consumer', 'event_id'])
        .execute();
      await db.schema
        .createTable('dead_letters')
        .addColumn('id', 'bigserial', (c) => c.primaryKey())
        .addColumn('consumer', 'text', (c) => c.notNull())
        .addColumn('event_id', 'uuid', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('envelope', 'jsonb', (c) => c.notNull())
        .addColumn('error', 'text', (c) => c.notNull())
        .addColumn('deliveries', 'integer', (c) => c.notNull())
        .addColumn('failed_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('dead_letters').execute();
      await db.schema.dropTable('processed_events').execute();
      await db.schema.dropTable('outbox').execute();
    },
  },
  // Named after the services' migrations that existed when it landed (migrations of either sequence may now be unordered).
  '20261201050000_runtime_idempotency': {
    async up(db: Kysely<any>) {
      // One row per (caller, Idempotency-Key) of a mutation: see services/runtime/src/idempotency.ts.
      await db.schema
        .createTable('idempotency_keys')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('fingerprint', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('attempt', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('owner', 'text', (c) => c.notNull())
        .addColumn('owner_instance', 'text', (c) => c.notNull())
        .addColumn('claimed_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('response', 'bytea')
        .execute();
      await db.schema.createIndex('idempotency_keys_created_at').on('idempotency_keys').column('created_at').execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('idempotency_keys').execute();
    },
  },
};

export interface MigrationReport {
  schema: string;
  applied: string[];
}

/**
 * Brings one service's schema to its latest migration. Each service keeps its own
 * migration table inside its schema, so services migrate independently.
 */
export async function migrateSchema(
  database: Database,
  schema: string,
  migrations: Migrations,
  progress: (msg: string) => void = () => {},
  direction: 'latest' | 'down' = 'latest',
): Promise<MigrationReport> {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`bad schema name ${schema}`);
  await sql`create schema if not exists ${sql.id(schema)}`.execute(database.root);
  const migrator = new Migrator({
    db: database.forSchema(schema),
    provider: { getMigrations: async () => ({ ...runtimeMigrations, ...migrations }) },
    migrationTableSchema: schema,
    // Two sequences share each schema's table: the runtime's migrations and the service's own, interleaved by date. A
    // schema whose service migrations are newer than a runtime migration added later (every installation, each time the
    // runtime gains one) must still get it: Kysely's order check refused that ("corrupted migrations"). Missing ones
    // run in name order; each sequence stays ordered within itself.
    allowUnorderedMigrations: true,
  });
  const { error, results } = direction === 'latest' ? await migrator.migrateToLatest() : await migrator.migrateDown();
  const applied: string[] = [];
  for (const r of results ?? []) {
    progress(`${schema}: ${r.direction === 'Up' ? 'applied' : 'reverted'} ${r.migrationName} (${r.status})`);
    if (r.status === 'Success') applied.push(r.migrationName);
  }
  if (error) throw error instanceof Error ? error : new Error(inspect(error));
  return { schema, applied };
}

/** Migrates every module that has a schema, printing progress as it goes. */
export async function migrateAll(
  database: Database,
  modules: Array<{ schema: string; migrations: Migrations }>,
  progress: (msg: string) => void = () => {},
  direction: 'latest' | 'down' = 'latest',
): Promise<MigrationReport[]> {
  const withSchema = modules.filter((m) => m.schema);
  const reports: MigrationReport[] = [];
  for (const [i, m] of withSchema.entries()) {
    progress(`[${i + 1}/${withSchema.length}] ${m.schema}`);
    const r = await migrateSchema(database, m.schema, m.migrations, (msg) => progress(`  ${msg}`), direction);
    if (r.applied.length === 0) progress('  up to date');
    reports.push(r);
  }
  return reports;
}
