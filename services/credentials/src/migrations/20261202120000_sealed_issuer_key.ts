import { sql, type Kysely } from 'kysely';

/**
 * The issuer's private key sealed (AES-256-GCM, CREDENTIALS_DATA_KEY): `private_sealed`. A key stored in plain text
 * before this migration stays in `private_jwk` until the service starts with its data key and seals it in place
 * (the migration cannot: it has no key); from then on `private_jwk` is null.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('issuer_keys').addColumn('private_sealed', 'text').execute();
  await db.schema
    .alterTable('issuer_keys')
    .alterColumn('private_jwk', (c) => c.dropNotNull())
    .execute();
  await db.schema
    .alterTable('issuer_keys')
    .addCheckConstraint('issuer_keys_private_check', sql`private_jwk is not null or private_sealed is not null`)
    .execute();
  // The key that seals it when CREDENTIALS_DATA_KEY is not set (development, embedded; see docs/security.md).
  await db.schema
    .createTable('data_keys')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  // A sealed key cannot be opened here (no data key): refuse rather than lose the key every certificate is signed with.
  const sealedOnly = await sql<{ n: number }>`select count(*)::int as n from credentials.issuer_keys where private_jwk is null`.execute(db);
  if ((sealedOnly.rows[0]?.n ?? 0) > 0) throw new Error('the issuer key is sealed: this migration cannot be undone without losing it');
  await db.schema.dropTable('data_keys').execute();
  await db.schema.alterTable('issuer_keys').dropConstraint('issuer_keys_private_check').execute();
  await db.schema
    .alterTable('issuer_keys')
    .alterColumn('private_jwk', (c) => c.setNotNull())
    .execute();
  await db.schema.alterTable('issuer_keys').dropColumn('private_sealed').execute();
}
