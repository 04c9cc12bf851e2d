import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('entries')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('event_id', 'uuid', (c) => c.notNull().unique())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('actor_id', 'uuid')
    .addColumn('subject_id', 'uuid')
    .addColumn('ip', 'text')
    .addColumn('data', 'jsonb', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('entries_subject_idx').on('entries').columns(['subject_id', 'id desc']).execute();
  await db.schema.createIndex('entries_actor_idx').on('entries').columns(['actor_id', 'id desc']).execute();
  // Append-only: the database itself refuses to change or remove an entry. Raw SQL is not rewritten
  // by Kysely's schema plugin, hence the explicit `audit.`.
  await sql`create function audit.forbid_audit_change() returns trigger language plpgsql as $$
    begin raise exception 'audit entries are append-only'; end $$`.execute(db);
  await sql`create trigger entries_append_only before update or delete on audit.entries
    for each row execute function audit.forbid_audit_change()`.execute(db);
  await sql`create trigger entries_no_truncate before truncate on audit.entries
    for each statement execute function audit.forbid_audit_change()`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('entries').execute();
  await sql`drop function audit.forbid_audit_change()`.execute(db);
}
