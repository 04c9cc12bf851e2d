import { sql, type Kysely } from 'kysely';

/**
 * The assessment completion saga (completion-saga.ts): one row per submitted attempt and per grade of it, keyed by
 * the event that started it (so a redelivered event starts nothing new), and the modules unlocked for a learner
 * (so each `moduleUnlocked` event is emitted once).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('completion_sagas')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('enrollment_id', 'uuid', (c) => c.notNull().references('enrollments.id').onDelete('cascade'))
    .addColumn('attempt_id', 'uuid', (c) => c.notNull())
    .addColumn('step', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('running', 'waiting', 'done', 'failed')`))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_run_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('data', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`create index completion_sagas_due_idx on enrollments.completion_sagas (next_run_at) where status = 'running'`.execute(db);
  await db.schema.createIndex('completion_sagas_enrollment_idx').on('completion_sagas').column('enrollment_id').execute();

  await db.schema
    .createTable('module_unlocks')
    .addColumn('enrollment_id', 'uuid', (c) => c.notNull().references('enrollments.id').onDelete('cascade'))
    .addColumn('module_id', 'uuid', (c) => c.notNull())
    .addColumn('unlocked_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('module_unlocks_pk', ['enrollment_id', 'module_id'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['module_unlocks', 'completion_sagas']) await db.schema.dropTable(t).execute();
}
