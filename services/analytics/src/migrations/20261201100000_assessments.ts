import type { Kysely } from 'kysely';

/** Per course: attempts and submissions handed in, grades given, learners who completed the course. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('assessments_by_course')
    .addColumn('course_id', 'uuid', (c) => c.primaryKey())
    .addColumn('submitted', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('graded', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('completed', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('assessments_by_course').execute();
}
