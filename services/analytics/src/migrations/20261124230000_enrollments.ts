import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('enrollments_by_course')
    .addColumn('course_id', 'uuid', (c) => c.primaryKey())
    .addColumn('enrolled', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('from_waitlist', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('enrollments_by_course').execute();
}
