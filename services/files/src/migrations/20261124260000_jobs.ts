import { sql, type Kysely } from 'kysely';

/** Processing jobs: filled by the work-queue consumer, run by a worker outside any transaction. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('jobs')
    .addColumn('file_id', 'uuid', (c) => c.notNull().references('files.id').onDelete('cascade'))
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('queued'))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('run_after', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('error', 'text')
    .addPrimaryKeyConstraint('jobs_pk', ['file_id', 'version'])
    .execute();
  await sql`create index jobs_due_idx on files.jobs (run_after) where status in ('queued', 'running')`.execute(db);
  await db.schema.alterTable('files').addColumn('progress', 'integer').addColumn('media', 'jsonb').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('files').dropColumn('media').dropColumn('progress').execute();
  await db.schema.dropTable('jobs').execute();
}
