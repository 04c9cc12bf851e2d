import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('users')
    .addColumn('locale', 'text', (c) => c.notNull().defaultTo('en'))
    .addColumn('timezone', 'text', (c) => c.notNull().defaultTo('UTC'))
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('active').check(sql`status in ('active', 'deactivated')`))
    .addColumn('deactivated_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('users_page_idx').on('users').columns(['created_at desc', 'id desc']).execute();
  await db.schema.createIndex('users_name_idx').on('users').expression(sql`lower(display_name)`).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('users_name_idx').execute();
  await db.schema.dropIndex('users_page_idx').execute();
  await db.schema.alterTable('users').dropColumn('deactivated_at').dropColumn('status').dropColumn('timezone').dropColumn('locale').execute();
}
