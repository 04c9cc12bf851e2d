import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('banks')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('course_id', 'uuid', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('created_by', 'uuid')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('banks_course_idx').on('banks').column('course_id').execute();
  await db.schema
    .createTable('bank_shares')
    .addColumn('bank_id', 'uuid', (c) => c.notNull().references('banks.id').onDelete('cascade'))
    .addColumn('course_id', 'uuid', (c) => c.notNull())
    .addColumn('shared_by', 'uuid')
    .addColumn('shared_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('bank_shares_pk', ['bank_id', 'course_id'])
    .execute();
  await db.schema.createIndex('bank_shares_course_idx').on('bank_shares').column('course_id').execute();
  await db.schema
    .createTable('categories')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('bank_id', 'uuid', (c) => c.notNull().references('banks.id').onDelete('cascade'))
    .addColumn('parent_id', 'uuid', (c) => c.references('categories.id').onDelete('set null'))
    .addColumn('name', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('categories_bank_idx').on('categories').column('bank_id').execute();
  await db.schema
    .createTable('questions')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('bank_id', 'uuid', (c) => c.notNull().references('banks.id').onDelete('cascade'))
    .addColumn('category_id', 'uuid', (c) => c.references('categories.id').onDelete('set null'))
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('default_points', 'double precision', (c) => c.notNull())
    .addColumn('tags', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn('deleted', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('created_by', 'uuid')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('questions_bank_idx').on('questions').columns(['bank_id', 'created_at desc', 'id desc']).execute();
  // Versions outlive their question's deletion: attempts that saw one keep reading it.
  await db.schema
    .createTable('question_versions')
    .addColumn('question_id', 'uuid', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('prompt', 'text', (c) => c.notNull())
    .addColumn('body', 'jsonb', (c) => c.notNull())
    .addColumn('general_feedback', 'text')
    .addColumn('served', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('created_by', 'uuid')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('question_versions_pk', ['question_id', 'version'])
    .execute();
  await db.schema
    .createTable('question_corrections')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('question_id', 'uuid', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('corrected_by', 'uuid')
    .addColumn('corrected_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('before', 'jsonb', (c) => c.notNull())
    .addColumn('after', 'jsonb', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('question_corrections_q_idx').on('question_corrections').columns(['question_id', 'version']).execute();
  await db.schema
    .createTable('quizzes')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('course_id', 'uuid', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('settings', 'jsonb', (c) => c.notNull())
    .addColumn('sections', 'jsonb', (c) => c.notNull())
    .addColumn('published', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('created_by', 'uuid')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('quizzes_course_idx').on('quizzes').columns(['course_id', 'created_at']).execute();
  // The slots of `sections`, one row each, so that a question or a category in use can be found.
  await db.schema
    .createTable('quiz_slots')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('quiz_id', 'uuid', (c) => c.notNull().references('quizzes.id').onDelete('cascade'))
    .addColumn('question_id', 'uuid')
    .addColumn('category_id', 'uuid')
    .execute();
  await db.schema.createIndex('quiz_slots_question_idx').on('quiz_slots').column('question_id').execute();
  await db.schema.createIndex('quiz_slots_category_idx').on('quiz_slots').column('category_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['quiz_slots', 'quizzes', 'question_corrections', 'question_versions', 'questions', 'categories', 'bank_shares', 'banks'])
    await db.schema.dropTable(t).execute();
}
