import { sql, type Kysely } from 'kysely';

/** The payload fields that say who a person is or where they were (as of this migration). */
const PERSONAL_FIELDS = ['email', 'displayName', 'ip', 'userAgent', 'emailHash'] as const;

/**
 * Personal fields leave the append-only entries for `audit.personal`, one row per entry, keyed by
 * the person they belong to (the entry's subject, else its actor): an erasure deletes that person's
 * rows and the entries, which name people by id only, stay as they are. Existing entries are split
 * once here (the append-only triggers are off for this migration only), and what belongs to users
 * already erased (they have a `user.deleted` entry) is deleted at once.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const keys = sql.raw(`array[${PERSONAL_FIELDS.map((k) => `'${k}'`).join(', ')}]`);
  await db.schema
    .createTable('personal')
    .addColumn('entry_id', 'bigint', (c) => c.primaryKey().references('entries.id'))
    .addColumn('subject_id', 'uuid')
    .addColumn('ip', 'text')
    .addColumn('data', 'jsonb', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('personal_subject_idx').on('personal').column('subject_id').execute();
  // Raw SQL is not rewritten by Kysely's schema plugin, hence the explicit `audit.`.
  await sql`insert into audit.personal (entry_id, subject_id, ip, data)
    select e.id, coalesce(e.subject_id, e.actor_id), e.ip,
           coalesce((select jsonb_object_agg(f.key, f.value) from jsonb_each(e.data) f where f.key = any(${keys})), '{}'::jsonb)
      from audit.entries e
     where e.ip is not null or e.data ?| ${keys}`.execute(db);
  await sql`alter table audit.entries disable trigger entries_append_only`.execute(db);
  await sql`update audit.entries set data = data - ${keys}::text[] where data ?| ${keys}`.execute(db);
  await sql`alter table audit.entries enable trigger entries_append_only`.execute(db);
  await sql`alter table audit.entries drop column ip`.execute(db);
  await sql`delete from audit.personal p
    where exists (select 1 from audit.entries e where e.type = 'user.deleted' and e.subject_id = p.subject_id)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table audit.entries add column ip text`.execute(db);
  await sql`alter table audit.entries disable trigger entries_append_only`.execute(db);
  await sql`update audit.entries e set ip = p.ip, data = e.data || p.data from audit.personal p where p.entry_id = e.id`.execute(db);
  await sql`alter table audit.entries enable trigger entries_append_only`.execute(db);
  await db.schema.dropTable('personal').execute();
}
