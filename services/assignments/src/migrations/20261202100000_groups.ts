import { sql, type Kysely } from 'kysely';

/**
 * Group submission: an assignment may take one submission per group (its own groups, set by the staff). A group's
 * submission has no user (`group_id` instead); each member has a row of `group_members` whose id is that member's
 * attempt id in the assessment events (the gradebook and the completion saga are per learner).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('assignments').addColumn('group_submission', 'boolean', (c) => c.notNull().defaultTo(false)).execute();
  await db.schema
    .createTable('groups')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('assignment_id', 'uuid', (c) => c.notNull().references('assignments.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('groups_assignment_idx').on('groups').columns(['assignment_id', 'name']).execute();
  await db.schema
    .createTable('group_members')
    /** The member's attempt id in the assessment events of their group's submission. */
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('assignment_id', 'uuid', (c) => c.notNull().references('assignments.id').onDelete('cascade'))
    .addColumn('group_id', 'uuid', (c) => c.notNull().references('groups.id').onDelete('cascade'))
    .addColumn('user_id', 'uuid', (c) => c.notNull())
    .addUniqueConstraint('group_members_one_group', ['assignment_id', 'user_id'])
    .execute();
  await db.schema.createIndex('group_members_group_idx').on('group_members').column('group_id').execute();
  await db.schema.createIndex('group_members_user_idx').on('group_members').column('user_id').execute();
  await db.schema.alterTable('submissions').alterColumn('user_id', (c) => c.dropNotNull()).execute();
  await db.schema
    .alterTable('submissions')
    .addColumn('group_id', 'uuid', (c) => c.references('groups.id').onDelete('cascade'))
    .execute();
  await db.schema.alterTable('submissions').addUniqueConstraint('submissions_one_per_group', ['assignment_id', 'group_id']).execute();
  await sql`alter table assignments.submissions add constraint submissions_learner_or_group check ((user_id is null) <> (group_id is null))`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.deleteFrom('submissions').where('group_id', 'is not', null).execute();
  await sql`alter table assignments.submissions drop constraint submissions_learner_or_group`.execute(db);
  await db.schema.alterTable('submissions').dropConstraint('submissions_one_per_group').execute();
  await db.schema.alterTable('submissions').dropColumn('group_id').execute();
  await db.schema.alterTable('submissions').alterColumn('user_id', (c) => c.setNotNull()).execute();
  await db.schema.dropTable('group_members').execute();
  await db.schema.dropTable('groups').execute();
  await db.schema.alterTable('assignments').dropColumn('group_submission').execute();
}
