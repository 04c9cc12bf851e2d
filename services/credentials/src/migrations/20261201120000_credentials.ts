import { sql, type Kysely } from 'kysely';

/** Bits in the revocation list: the W3C Bitstring Status List minimum (131,072), so that an index says little. */
export const STATUS_LIST_BITS = 131_072;

export async function up(db: Kysely<any>): Promise<void> {
  // The issuer's Ed25519 key (one: `key-1`; rotation is not supported yet). Kept like auth's signing keys.
  await db.schema
    .createTable('issuer_keys')
    .addColumn('kid', 'text', (c) => c.primaryKey())
    .addColumn('private_jwk', 'jsonb', (c) => c.notNull())
    .addColumn('public_jwk', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createTable('credentials')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('code', 'text', (c) => c.notNull().unique())
    .addColumn('user_id', 'uuid', (c) => c.notNull())
    .addColumn('course_id', 'uuid', (c) => c.notNull())
    .addColumn('subject_id', 'uuid', (c) => c.notNull())
    .addColumn('learner_name', 'text', (c) => c.notNull())
    .addColumn('course_title', 'text', (c) => c.notNull())
    .addColumn('status_index', 'integer', (c) => c.notNull().unique())
    .addColumn('jwt', 'text')
    .addColumn('completed_at', 'timestamptz', (c) => c.notNull())
    .addColumn('issued_at', 'timestamptz', (c) => c.notNull())
    .addColumn('revoked_at', 'timestamptz')
    .addColumn('revocation_reason', 'text')
    .addUniqueConstraint('credentials_user_course_key', ['user_id', 'course_id'])
    .execute();
  // The revocation bitstring (one list, id 1): bit i (most significant bit of byte 0 is bit 0) set = revoked.
  await db.schema
    .createTable('status_lists')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('bits', 'bytea', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`insert into credentials.status_lists (id, bits) values (1, decode(repeat('00', ${STATUS_LIST_BITS / 8}), 'hex'))`.execute(db);
  // Completed courses whose certificate is still to issue (the names come from other services, outside the event's transaction).
  await db.schema
    .createTable('pending')
    .addColumn('user_id', 'uuid', (c) => c.notNull())
    .addColumn('course_id', 'uuid', (c) => c.notNull())
    .addColumn('completed_at', 'timestamptz', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('pending'))
    .addColumn('tries', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('run_after', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('pending_pkey', ['user_id', 'course_id'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['pending', 'status_lists', 'credentials', 'issuer_keys']) await db.schema.dropTable(t).execute();
}
