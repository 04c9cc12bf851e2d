import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('courses')
    .addColumn('slug', 'text')
    .addColumn('summary', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('language', 'text', (c) => c.notNull().defaultTo('en'))
    .addColumn('level', 'text', (c) => c.notNull().defaultTo('all').check(sql`level in ('beginner', 'intermediate', 'advanced', 'all')`))
    .addColumn('duration_minutes', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('categories', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn('tags', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn('cover_file_id', 'uuid')
    .addColumn('visibility', 'text', (c) => c.notNull().defaultTo('public').check(sql`visibility in ('public', 'unlisted', 'private')`))
    .addColumn('enroll_opens_at', 'timestamptz')
    .addColumn('enroll_closes_at', 'timestamptz')
    .addColumn('capacity', 'integer')
    .addColumn('sequential', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('prerequisites', sql`uuid[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn('version', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('content_changed_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`update courses.courses set slug = id::text, categories = array[category], version = case when status = 'published' then 1 else 0 end`.execute(db);
  await sql`alter table courses.courses alter column slug set not null`.execute(db);
  await db.schema.createIndex('courses_slug_idx').on('courses').column('slug').unique().execute();
  await sql`alter table courses.courses drop constraint courses_status_check`.execute(db);
  await sql`alter table courses.courses add constraint courses_status_check check (status in ('draft', 'in_review', 'published', 'archived'))`.execute(db);

  // Positions are fractional-index keys: moving a row rewrites that row only. "C" collation: byte order.
  await db.schema
    .createTable('modules')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('course_id', 'uuid', (c) => c.notNull().references('courses.id').onDelete('cascade'))
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('summary', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('position', sql`text collate "C"`, (c) => c.notNull())
    .addColumn('requires', sql`uuid[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('modules_course_idx').on('modules').columns(['course_id', 'position']).execute();
  await db.schema
    .createTable('lessons')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('module_id', 'uuid', (c) => c.notNull().references('modules.id').onDelete('cascade'))
    .addColumn('course_id', 'uuid', (c) => c.notNull().references('courses.id').onDelete('cascade'))
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('position', sql`text collate "C"`, (c) => c.notNull())
    .addColumn('duration_minutes', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('content', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('lessons_module_idx').on('lessons').columns(['module_id', 'position']).execute();
  await db.schema.createIndex('lessons_course_idx').on('lessons').column('course_id').execute();

  // What learners see: one immutable snapshot per published version (course, modules, lessons, rendered HTML).
  await db.schema
    .createTable('course_versions')
    .addColumn('course_id', 'uuid', (c) => c.notNull().references('courses.id').onDelete('cascade'))
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('snapshot', 'jsonb', (c) => c.notNull())
    .addColumn('published_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('published_by', 'uuid', (c) => c.notNull())
    .addPrimaryKeyConstraint('course_versions_pk', ['course_id', 'version'])
    .execute();
  // The catalogue reads published, public courses newest first or by title.
  await sql`create index courses_catalog_idx on courses.courses (published_at desc, id desc) where status = 'published' and visibility = 'public'`.execute(db);
  await sql`create index courses_catalog_title_idx on courses.courses (lower(title), id) where status = 'published' and visibility = 'public'`.execute(db);
  await sql`create index courses_tags_idx on courses.courses using gin (tags)`.execute(db);
  await sql`create index courses_categories_idx on courses.courses using gin (categories)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('course_versions').execute();
  await db.schema.dropTable('lessons').execute();
  await db.schema.dropTable('modules').execute();
  await sql`alter table courses.courses drop constraint courses_status_check`.execute(db);
  await sql`update courses.courses set status = 'draft' where status not in ('draft', 'published')`.execute(db);
  await sql`alter table courses.courses add constraint courses_status_check check (status in ('draft', 'published'))`.execute(db);
  for (const c of ['content_changed_at', 'version', 'prerequisites', 'sequential', 'capacity', 'enroll_closes_at', 'enroll_opens_at', 'visibility', 'cover_file_id', 'tags', 'categories', 'duration_minutes', 'level', 'language', 'summary', 'slug']) {
    await db.schema.alterTable('courses').dropColumn(c).execute();
  }
}
