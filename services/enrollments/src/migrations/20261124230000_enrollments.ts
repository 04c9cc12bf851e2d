import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('enrollments')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('course_id', 'uuid', (c) => c.notNull())
    .addColumn('user_id', 'uuid', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('pending', 'waitlisted', 'active', 'completed', 'dropped', 'failed')`))
    .addColumn('reason', 'text')
    .addColumn('waitlisted_at', 'timestamptz')
    .addColumn('enrolled_at', 'timestamptz')
    .addColumn('completed_at', 'timestamptz')
    .addColumn('percent', 'real', (c) => c.notNull().defaultTo(0))
    .addColumn('last_activity_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  // One live enrollment per learner and course: a second concurrent attempt fails on this index.
  await sql`create unique index enrollments_live_idx on enrollments.enrollments (course_id, user_id) where status in ('pending', 'waitlisted', 'active', 'completed')`.execute(db);
  await sql`create index enrollments_waitlist_idx on enrollments.enrollments (course_id, waitlisted_at, id) where status = 'waitlisted'`.execute(db);
  await db.schema.createIndex('enrollments_user_idx').on('enrollments').columns(['user_id', 'created_at desc']).execute();
  await db.schema.createIndex('enrollments_course_idx').on('enrollments').columns(['course_id', 'status']).execute();

  await db.schema
    .createTable('enrollment_history')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('enrollment_id', 'uuid', (c) => c.notNull().references('enrollments.id').onDelete('cascade'))
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('by', 'uuid')
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('enrollment_history_idx').on('enrollment_history').columns(['enrollment_id', 'id']).execute();

  // Seats per course: `taken` only moves by a conditional update, so concurrent sagas never overfill.
  await db.schema
    .createTable('seats')
    .addColumn('course_id', 'uuid', (c) => c.primaryKey())
    .addColumn('capacity', 'integer')
    .addColumn('taken', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();

  // The saga's state: which step is next, how often it was tried, what earlier steps learned.
  await db.schema
    .createTable('sagas')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('enrollment_id', 'uuid', (c) => c.notNull().references('enrollments.id').onDelete('cascade'))
    .addColumn('step', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('running', 'waiting', 'done', 'failed')`))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_run_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('data', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`create index sagas_due_idx on enrollments.sagas (next_run_at) where status = 'running'`.execute(db);
  await db.schema.createIndex('sagas_enrollment_idx').on('sagas').column('enrollment_id').execute();

  await db.schema
    .createTable('lesson_progress')
    .addColumn('enrollment_id', 'uuid', (c) => c.notNull().references('enrollments.id').onDelete('cascade'))
    .addColumn('lesson_id', 'uuid', (c) => c.notNull())
    .addColumn('completed_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('lesson_progress_pk', ['enrollment_id', 'lesson_id'])
    .execute();
  await db.schema
    .createTable('module_completions')
    .addColumn('enrollment_id', 'uuid', (c) => c.notNull().references('enrollments.id').onDelete('cascade'))
    .addColumn('module_id', 'uuid', (c) => c.notNull())
    .addColumn('completed_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('module_completions_pk', ['enrollment_id', 'module_id'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['module_completions', 'lesson_progress', 'sagas', 'seats', 'enrollment_history', 'enrollments']) await db.schema.dropTable(t).execute();
}
