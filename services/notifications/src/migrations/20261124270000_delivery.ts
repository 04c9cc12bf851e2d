import { sql, type Kysely } from 'kysely';

/** Deliveries become a queue with attempts (sent by a worker, not inside the event's transaction); an in-app inbox. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('deliveries')
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('sent'))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('run_after', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_error', 'text')
    .addColumn('locale', 'text', (c) => c.notNull().defaultTo('en'))
    .addColumn('data', 'jsonb')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`alter table notifications.deliveries alter column sent_at drop not null, alter column sent_at drop default`.execute(db);
  await sql`create index deliveries_due_idx on notifications.deliveries (run_after) where status in ('queued', 'sending')`.execute(db);
  await sql`create index deliveries_status_idx on notifications.deliveries (status, updated_at desc)`.execute(db);
  await db.schema
    .createTable('delivery_attempts')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('event_id', 'uuid', (c) => c.notNull().references('deliveries.event_id').onDelete('cascade'))
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('error', 'text')
    .execute();
  await db.schema
    .createTable('inbox')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('event_id', 'uuid', (c) => c.notNull().unique())
    .addColumn('user_id', 'uuid', (c) => c.notNull())
    .addColumn('template', 'text', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('link', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('read_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('inbox_user_idx').on('inbox').columns(['user_id', 'created_at desc']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('inbox').execute();
  await db.schema.dropTable('delivery_attempts').execute();
  for (const c of ['updated_at', 'data', 'locale', 'last_error', 'run_after', 'attempts', 'status']) await db.schema.alterTable('deliveries').dropColumn(c).execute();
}
