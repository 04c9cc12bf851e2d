import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('course_members')
    .addColumn('course_id', 'uuid', (c) => c.notNull().references('courses.id').onDelete('cascade'))
    .addColumn('user_id', 'uuid', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull().check(sql`role in ('owner', 'instructor', 'ta', 'learner')`))
    .addColumn('added_by', 'uuid')
    .addColumn('added_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('course_members_pk', ['course_id', 'user_id'])
    .execute();
  await db.schema.createIndex('course_members_user_idx').on('course_members').columns(['user_id', 'role']).execute();
  // Owners of existing courses become their owner members.
  await sql`insert into courses.course_members (course_id, user_id, role, added_by) select id, owner_id, 'owner', owner_id from courses.courses`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('course_members').execute();
}
