import { sql, type Kysely } from 'kysely';

/**
 * Read grants on files a user handed in somewhere (an assignment submission): to the graders of a course
 * (`course_grants`, checked against the reader's course role when they read) and to named users (`user_grants`).
 * They go with the file (cascade); an erased user's own files go, and so do the grants to them.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('course_grants')
    .addColumn('file_id', 'uuid', (c) => c.notNull().references('files.id').onDelete('cascade'))
    .addColumn('course_id', 'uuid', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('course_grants_pk', ['file_id', 'course_id'])
    .execute();
  await db.schema
    .createTable('user_grants')
    .addColumn('file_id', 'uuid', (c) => c.notNull().references('files.id').onDelete('cascade'))
    .addColumn('user_id', 'uuid', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('user_grants_pk', ['file_id', 'user_id'])
    .execute();
  await db.schema.createIndex('user_grants_user_idx').on('user_grants').column('user_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('user_grants').execute();
  await db.schema.dropTable('course_grants').execute();
}
