import { sql, type Kysely } from 'kysely';

/**
 * The catalogue's read model: one small row per published course, written at publish time from the
 * published version (so filters and sorting never open the large snapshots).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('catalog')
    .addColumn('course_id', 'uuid', (c) => c.primaryKey().references('courses.id').onDelete('cascade'))
    .addColumn('sort_title', sql`text collate "C"`, (c) => c.notNull())
    .addColumn('search', 'text', (c) => c.notNull())
    .addColumn('categories', sql`text[]`, (c) => c.notNull())
    .addColumn('tags', sql`text[]`, (c) => c.notNull())
    .addColumn('language', 'text', (c) => c.notNull())
    .addColumn('level', 'text', (c) => c.notNull())
    .addColumn('visibility', 'text', (c) => c.notNull())
    .addColumn('published_at', 'timestamptz', (c) => c.notNull())
    .addColumn('course', 'jsonb', (c) => c.notNull())
    .execute();
  await sql`create index catalog_newest_idx on courses.catalog (published_at desc, course_id desc) where visibility = 'public'`.execute(db);
  await sql`create index catalog_title_idx on courses.catalog (sort_title, course_id) where visibility = 'public'`.execute(db);
  await sql`create index catalog_tags_idx on courses.catalog using gin (tags)`.execute(db);
  await sql`create index catalog_categories_idx on courses.catalog using gin (categories)`.execute(db);
  await sql`drop index if exists courses.courses_catalog_idx`.execute(db);
  await sql`drop index if exists courses.courses_catalog_title_idx`.execute(db);
  // Courses published before this migration.
  await sql`insert into courses.catalog (course_id, sort_title, search, categories, tags, language, level, visibility, published_at, course)
    select c.id, lower(v.snapshot->'course'->>'title'), lower((v.snapshot->'course'->>'title') || ' ' || coalesce(v.snapshot->'course'->>'summary', '')),
      coalesce(array(select jsonb_array_elements_text(v.snapshot->'course'->'categories')), '{}'),
      coalesce(array(select jsonb_array_elements_text(v.snapshot->'course'->'tags')), '{}'),
      coalesce(v.snapshot->'course'->>'language', 'en'), coalesce(v.snapshot->'course'->>'level', 'all'),
      coalesce(v.snapshot->'course'->>'visibility', 'public'), c.published_at, v.snapshot->'course'
    from courses.courses c join courses.course_versions v on v.course_id = c.id and v.version = c.version
    where c.status = 'published'`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('catalog').execute();
}
