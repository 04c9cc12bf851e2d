import type { Kysely } from 'kysely';

/** The key that signs unsubscribe links when NOTIFY_SECRET is not set. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('keys').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('key', 'text', (c) => c.notNull()).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('keys').execute();
}
