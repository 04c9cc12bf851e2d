import { sql, type Kysely } from 'kysely';

/**
 * `valid_until`: when a certificate expires (CREDENTIALS_VALIDITY_DAYS at issue; null: never), also in its signed
 * credential. `revocation_reason_public`: whether verification shows the revocation reason to anyone (an admin's
 * reason is private unless they say otherwise; erasure's `erased` is public: the name already says it).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('credentials').addColumn('valid_until', 'timestamptz').execute();
  await db.schema
    .alterTable('credentials')
    .addColumn('revocation_reason_public', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();
  await sql`update credentials.credentials set revocation_reason_public = true where revocation_reason = 'erased' and jwt is null`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('credentials').dropColumn('revocation_reason_public').execute();
  await db.schema.alterTable('credentials').dropColumn('valid_until').execute();
}
