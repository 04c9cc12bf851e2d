import { sql, type Kysely } from 'kysely';

/**
 * The search index. Lexical search needs `pg_trgm` and `unaccent` (both in PostgreSQL's contrib, both trusted; PGlite
 * bundles them); semantic search needs `vector`, which PGlite bundles and a PostgreSQL server may lack: the vector
 * columns are added only where the extension is available, and the service searches lexically without them.
 * Raw SQL is not rewritten by Kysely's schema plugin, hence the explicit `search.`.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create extension if not exists pg_trgm with schema public`.execute(db);
  await sql`create extension if not exists unaccent with schema public`.execute(db);
  // One configuration per analysed language, accents folded before stemming (`eleve` finds `élève`).
  for (const [name, stem] of [
    ['lms_english', 'english_stem'],
    ['lms_french', 'french_stem'],
    ['lms_simple', 'simple'],
  ] as const) {
    const base = stem === 'simple' ? 'simple' : stem.replace('_stem', '');
    await sql.raw(`create text search configuration search.${name} (copy = pg_catalog.${base})`).execute(db);
    await sql
      .raw(`alter text search configuration search.${name} alter mapping for hword, hword_part, word with public.unaccent, pg_catalog.${stem}`)
      .execute(db);
  }

  await db.schema
    .createTable('courses')
    .addColumn('course_id', 'uuid', (c) => c.primaryKey())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('visibility', 'text', (c) => c.notNull())
    .addColumn('owner_id', 'uuid')
    .addColumn('version', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('enrolled', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('indexed_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('documents')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('course_id', 'uuid', (c) => c.notNull())
    .addColumn('module_id', 'uuid')
    .addColumn('lesson_id', 'uuid')
    .addColumn('chunk', 'integer', (c) => c.notNull().defaultTo(0))
    // published: what learners see (a published version); draft: a course never published, for its staff only.
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('title_norm', 'text', (c) => c.notNull())
    .addColumn('summary', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('content', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('language', 'text', (c) => c.notNull())
    .addColumn('ts_config', 'text', (c) => c.notNull())
    .addColumn('category', 'text')
    .addColumn('level', 'text')
    .addColumn('tags', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn('duration_bucket', 'text')
    .addColumn('published_at', 'timestamptz')
    .addColumn('tsv', sql`tsvector`, (c) => c.notNull())
    .execute();
  await sql`create index documents_tsv_idx on search.documents using gin (tsv)`.execute(db);
  await sql`create index documents_title_trgm_idx on search.documents using gin (title_norm public.gin_trgm_ops)`.execute(db);
  // Autocomplete: titles by prefix, whatever the case or accents (text_pattern_ops: LIKE 'abc%' uses the index).
  await sql`create index documents_title_prefix_idx on search.documents (title_norm text_pattern_ops)`.execute(db);
  await db.schema.createIndex('documents_course_idx').on('documents').column('course_id').execute();

  const vector = await sql<{ n: number }>`select count(*)::int as n from pg_available_extensions where name = 'vector'`.execute(db);
  if ((vector.rows[0]?.n ?? 0) > 0) {
    await sql`create extension if not exists vector with schema public`.execute(db);
    // No fixed dimension: each row says which model made its vector, and only vectors of one model are compared.
    await sql`alter table search.documents add column embedding public.vector, add column embedding_model text, add column embedding_dim integer`.execute(db);
  }

  await db.schema
    .createTable('members')
    .addColumn('course_id', 'uuid', (c) => c.notNull())
    .addColumn('user_id', 'uuid', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('members_pkey', ['course_id', 'user_id'])
    .execute();
  await db.schema.createIndex('members_user_idx').on('members').column('user_id').execute();

  await db.schema
    .createTable('pending')
    .addColumn('course_id', 'uuid', (c) => c.primaryKey())
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('pending'))
    .addColumn('tries', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('run_after', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('vocabulary')
    .addColumn('word', 'text', (c) => c.primaryKey())
    .execute();
  await sql`create index vocabulary_trgm_idx on search.vocabulary using gin (word public.gin_trgm_ops)`.execute(db);

  await db.schema
    .createTable('synonyms')
    .addColumn('term', 'text', (c) => c.primaryKey())
    .addColumn('synonyms', sql`text[]`, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('searches')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('query', 'text', (c) => c.notNull())
    .addColumn('filters', 'jsonb', (c) => c.notNull())
    .addColumn('results', 'integer', (c) => c.notNull())
    .addColumn('latency_ms', 'real', (c) => c.notNull())
    .addColumn('mode', 'text', (c) => c.notNull())
    .addColumn('user_id', 'uuid')
    .execute();
  await db.schema.createIndex('searches_at_idx').on('searches').column('at').execute();
  await db.schema.createIndex('searches_user_idx').on('searches').column('user_id').execute();

  await db.schema
    .createTable('clicks')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('query', 'text', (c) => c.notNull())
    .addColumn('document_id', 'text', (c) => c.notNull())
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('user_id', 'uuid')
    .execute();
  await db.schema.createIndex('clicks_user_idx').on('clicks').column('user_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['clicks', 'searches', 'synonyms', 'vocabulary', 'pending', 'members', 'documents', 'courses']) await db.schema.dropTable(t).execute();
  for (const c of ['lms_english', 'lms_french', 'lms_simple']) await sql.raw(`drop text search configuration search.${c}`).execute(db);
}
