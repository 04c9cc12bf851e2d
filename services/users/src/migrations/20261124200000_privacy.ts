import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('users')
    .addColumn('email_verified_at', 'timestamptz')
    .addColumn('avatar_file_id', 'uuid')
    .addColumn('preferences', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('erased_at', 'timestamptz')
    .execute();
  // An erased user stays as a tombstone (id, status, erased_at) so that ids elsewhere do not dangle.
  await sql`alter table users.users drop constraint users_status_check`.execute(db);
  await sql`alter table users.users add constraint users_status_check check (status in ('active', 'deactivated', 'erased'))`.execute(db);

  await db.schema
    .createTable('privacy_requests')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('user_id', 'uuid', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('export', 'erasure')`))
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('pending', 'running', 'complete', 'failed')`))
    .addColumn('requested_by', 'uuid', (c) => c.notNull())
    .addColumn('parts', 'jsonb', (c) => c.notNull())
    .addColumn('result', 'jsonb')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('error', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('completed_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('privacy_requests_user_idx').on('privacy_requests').columns(['user_id', 'created_at desc']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('privacy_requests').execute();
  await sql`alter table users.users drop constraint users_status_check`.execute(db);
  await sql`alter table users.users add constraint users_status_check check (status in ('active', 'deactivated'))`.execute(db);
  await db.schema.alterTable('users').dropColumn('erased_at').dropColumn('preferences').dropColumn('avatar_file_id').dropColumn('email_verified_at').execute();
}
