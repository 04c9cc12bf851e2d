import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('settings')
    .addColumn('course_id', 'uuid', (c) => c.primaryKey())
    .addColumn('aggregation', 'text', (c) => c.notNull())
    .addColumn('treat_missing_as_zero', 'boolean', (c) => c.notNull())
    .addColumn('uncategorised_weight', 'float8', (c) => c.notNull())
    .addColumn('scale', 'jsonb', (c) => c.notNull())
    .addColumn('minimum_pass_percent', 'float8')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createTable('categories')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('course_id', 'uuid', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('weight', 'float8', (c) => c.notNull())
    .addColumn('drop_lowest', 'integer', (c) => c.notNull())
    .addColumn('aggregation', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('categories_course_idx').on('categories').columns(['course_id', 'created_at']).execute();
  await db.schema
    .createTable('items')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('course_id', 'uuid', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('category_id', 'uuid')
    .addColumn('max_points', 'float8', (c) => c.notNull())
    .addColumn('extra_credit', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('excluded', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('released', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('hidden', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('due_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('items_course_idx').on('items').columns(['course_id', 'created_at']).execute();
  // One table of grades keyed (course, user, item): a grid page is one range read per learner.
  await db.schema
    .createTable('grades')
    .addColumn('course_id', 'uuid', (c) => c.notNull())
    .addColumn('user_id', 'uuid', (c) => c.notNull())
    .addColumn('item_id', 'uuid', (c) => c.notNull())
    .addColumn('points', 'float8')
    .addColumn('override', 'float8')
    /** The assessment released this grade to its learner. */
    .addColumn('released', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('feedback', 'text')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('grades_pkey', ['course_id', 'user_id', 'item_id'])
    .execute();
  await db.schema.createIndex('grades_item_idx').on('grades').columns(['item_id']).execute();
  await db.schema
    .createTable('totals')
    .addColumn('course_id', 'uuid', (c) => c.notNull())
    .addColumn('user_id', 'uuid', (c) => c.notNull())
    .addColumn('override', 'float8', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('by', 'uuid')
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('totals_pkey', ['course_id', 'user_id'])
    .execute();
  // The course's learners (ids only), projected from enrollment events and from grades received.
  await db.schema
    .createTable('learners')
    .addColumn('course_id', 'uuid', (c) => c.notNull())
    .addColumn('user_id', 'uuid', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('learners_pkey', ['course_id', 'user_id'])
    .execute();
  await db.schema
    .createTable('history')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('course_id', 'uuid', (c) => c.notNull())
    .addColumn('item_id', 'uuid')
    .addColumn('user_id', 'uuid', (c) => c.notNull())
    .addColumn('changed_by', 'uuid')
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('field', 'text', (c) => c.notNull())
    .addColumn('before', 'float8')
    .addColumn('after', 'float8')
    .addColumn('reason', 'text')
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('event_id', 'uuid')
    .execute();
  await db.schema.createIndex('history_user_idx').on('history').columns(['course_id', 'user_id', 'id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['history', 'learners', 'totals', 'grades', 'items', 'categories', 'settings']) await db.schema.dropTable(t).execute();
}
