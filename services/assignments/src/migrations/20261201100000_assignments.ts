import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('assignments')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('course_id', 'uuid', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('instructions', 'text', (c) => c.notNull())
    .addColumn('max_points', 'double precision', (c) => c.notNull())
    .addColumn('submission_types', 'text', (c) => c.notNull().check(sql`submission_types in ('text', 'file', 'both')`))
    .addColumn('due_at', 'timestamptz')
    .addColumn('cutoff_at', 'timestamptz')
    .addColumn('late_policy', 'jsonb')
    .addColumn('allow_resubmission', 'boolean', (c) => c.notNull())
    .addColumn('anonymous_marking', 'boolean', (c) => c.notNull())
    .addColumn('pass_percent', 'double precision')
    .addColumn('published', 'boolean', (c) => c.notNull())
    .addColumn('rubric', 'jsonb')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('assignments_course_idx').on('assignments').columns(['course_id', 'created_at']).execute();

  // One submission per learner and assignment; its versions keep every hand-in.
  await db.schema
    .createTable('submissions')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('assignment_id', 'uuid', (c) => c.notNull().references('assignments.id').onDelete('cascade'))
    .addColumn('course_id', 'uuid', (c) => c.notNull())
    .addColumn('user_id', 'uuid', (c) => c.notNull())
    /** "Participant N" under anonymous marking: given once, in order of first submission. */
    .addColumn('participant_no', 'integer', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('state', 'text', (c) =>
      c
        .notNull()
        .defaultTo('not_marked')
        .check(sql`state in ('not_marked', 'in_marking', 'ready_for_release', 'released')`),
    )
    .addColumn('raw_points', 'double precision')
    .addColumn('penalty_percent', 'double precision')
    .addColumn('points', 'double precision')
    .addColumn('rubric_selections', 'jsonb')
    .addColumn('feedback', 'text')
    .addColumn('comments', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('graded_by', 'uuid')
    .addColumn('graded_at', 'timestamptz')
    .addColumn('released_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('submissions_one_per_learner', ['assignment_id', 'user_id'])
    .addUniqueConstraint('submissions_participant', ['assignment_id', 'participant_no'])
    .execute();
  await db.schema.createIndex('submissions_user_idx').on('submissions').column('user_id').execute();

  await db.schema
    .createTable('submission_versions')
    .addColumn('submission_id', 'uuid', (c) => c.notNull().references('submissions.id').onDelete('cascade'))
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('text', 'text')
    .addColumn('file_ids', 'jsonb', (c) => c.notNull())
    .addColumn('submitted_at', 'timestamptz', (c) => c.notNull())
    .addColumn('late_seconds', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('submission_versions_pk', ['submission_id', 'version'])
    .execute();

  // The record of every change of a released grade.
  await db.schema
    .createTable('grade_changes')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('submission_id', 'uuid', (c) => c.notNull().references('submissions.id').onDelete('cascade'))
    .addColumn('changed_by', 'uuid', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('before', 'jsonb', (c) => c.notNull())
    .addColumn('after', 'jsonb', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('grade_changes_submission_idx').on('grade_changes').columns(['submission_id', 'id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('grade_changes').execute();
  await db.schema.dropTable('submission_versions').execute();
  await db.schema.dropTable('submissions').execute();
  await db.schema.dropTable('assignments').execute();
}
