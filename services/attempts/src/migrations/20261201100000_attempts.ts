import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('attempts')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('quiz_id', 'uuid', (c) => c.notNull())
    .addColumn('course_id', 'uuid', (c) => c.notNull())
    .addColumn('user_id', 'uuid', (c) => c.notNull())
    .addColumn('number', 'integer', (c) => c.notNull())
    .addColumn('preview', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('in_progress', 'submitted', 'graded')`))
    .addColumn('seed', 'text', (c) => c.notNull())
    .addColumn('started_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('deadline', 'timestamptz')
    .addColumn('submitted_at', 'timestamptz')
    .addColumn('auto', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('graded_at', 'timestamptz')
    .addColumn('points', 'double precision')
    .addColumn('max_points', 'double precision', (c) => c.notNull())
    .addColumn('closes_at', 'timestamptz')
    .addColumn('settings', 'jsonb', (c) => c.notNull())
    .execute();
  // One open attempt per learner and quiz (resume, never a second one).
  await sql`create unique index attempts_open_idx on attempts.attempts (quiz_id, user_id) where state = 'in_progress'`.execute(db);
  await sql`create unique index attempts_number_idx on attempts.attempts (quiz_id, user_id, number) where not preview`.execute(db);
  // The deadline worker's queue.
  await sql`create index attempts_due_idx on attempts.attempts (deadline) where state = 'in_progress' and deadline is not null`.execute(db);
  await sql`create index attempts_quiz_idx on attempts.attempts (quiz_id, started_at, id)`.execute(db);
  await sql`create index attempts_user_idx on attempts.attempts (user_id)`.execute(db);
  await sql`
    create table attempts.questions (
      attempt_id uuid not null references attempts.attempts (id) on delete cascade,
      slot integer not null,
      slot_id uuid not null,
      question_id uuid not null,
      version integer not null,
      type text not null,
      points double precision not null,
      prompt text not null,
      body jsonb not null,
      draw jsonb not null,
      general_feedback text,
      response jsonb,
      seq bigint not null default 0,
      saved_at timestamptz,
      fraction double precision,
      feedback jsonb,
      comment text,
      graded_by uuid,
      primary key (attempt_id, slot)
    )`.execute(db);
  await sql`create index questions_version_idx on attempts.questions (question_id, version)`.execute(db);
  await db.schema
    .createTable('overrides')
    .addColumn('quiz_id', 'uuid', (c) => c.notNull())
    .addColumn('user_id', 'uuid', (c) => c.notNull())
    .addColumn('closes_at', 'timestamptz')
    .addColumn('extra_time_s', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('extra_attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('updated_by', 'uuid')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('overrides_pk', ['quiz_id', 'user_id'])
    .execute();
  await sql`create index overrides_user_idx on attempts.overrides (user_id)`.execute(db);
  await sql`
    create table attempts.regrades (
      id bigserial primary key,
      attempt_id uuid not null references attempts.attempts (id) on delete cascade,
      quiz_id uuid not null,
      slot integer not null,
      question_id uuid not null,
      version integer not null,
      old_points double precision,
      new_points double precision,
      at timestamptz not null default now()
    )`.execute(db);
  await sql`create index regrades_quiz_idx on attempts.regrades (quiz_id, id)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table attempts.regrades`.execute(db);
  await sql`drop table attempts.overrides`.execute(db);
  await sql`drop table attempts.questions`.execute(db);
  await sql`drop table attempts.attempts`.execute(db);
}
