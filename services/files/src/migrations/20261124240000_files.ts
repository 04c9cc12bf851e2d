import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('files')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('owner_id', 'uuid', (c) => c.notNull())
    .addColumn('course_id', 'uuid')
    .addColumn('lesson_id', 'uuid')
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull().defaultTo('ready'))
    .addColumn('scan', 'text', (c) => c.notNull().defaultTo('not_scanned'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('files_owner_idx').on('files').column('owner_id').execute();
  await db.schema.createIndex('files_course_idx').on('files').column('course_id').execute();
  // Every version is kept; blobs are content-addressed, so identical bytes are stored once.
  await db.schema
    .createTable('file_versions')
    .addColumn('file_id', 'uuid', (c) => c.notNull().references('files.id').onDelete('cascade'))
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('blob_key', 'text', (c) => c.notNull())
    .addColumn('sha256', 'text', (c) => c.notNull())
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('content_type', 'text', (c) => c.notNull())
    .addColumn('declared_type', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('file_versions_pk', ['file_id', 'version'])
    .execute();
  await db.schema.createIndex('file_versions_blob_idx').on('file_versions').column('blob_key').execute();
  // The key that signs download URLs, when FILES_URL_SECRET is not set.
  await db.schema.createTable('url_keys').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('key', 'text', (c) => c.notNull()).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('url_keys').execute();
  await db.schema.dropTable('file_versions').execute();
  await db.schema.dropTable('files').execute();
}
