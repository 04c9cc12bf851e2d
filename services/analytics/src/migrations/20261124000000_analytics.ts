import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('published_by_category')
    .addColumn('category', 'text', (c) => c.primaryKey())
    .addColumn('published', 'integer', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('published_by_category').execute();
}
