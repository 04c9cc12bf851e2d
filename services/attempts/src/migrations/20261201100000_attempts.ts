import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table attempts.attempts (
      id uuid primary key,
      quiz_id uuid not null,
      course_id uuid not null,
      user_id uuid not null,
      number integer not null,
      preview boolean not null default false,
      state text not null check (state in ('in_progress', 'submitted', 'graded')),
      seed text not null,
      started_at timestamptz not null default now(),
      deadline timestamptz,
      submitted_at timestamptz,
      auto boolean not null default false,
      graded_at timestamptz,
      points double precision,
      max_points double precision not null,
      closes_at timestamptz,
      settings jsonb not null
    )`.execute(db);
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
  await sql`
    create table attempts.overrides (
      quiz_id uuid not null,
      user_id uuid not null,
      closes_at timestamptz,
      extra_time_s integer not null default 0,
      extra_attempts integer not null default 0,
      updated_by uuid,
      updated_at timestamptz not null default now(),
      primary key (quiz_id, user_id)
    )`.execute(db);
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
