import { sql, type Kysely } from 'kysely';

/** The codes a failed enrollment could end with before this migration (what `reason` began with). */
const CODES = ['COURSE_NOT_FOUND', 'ENROLLMENT_CLOSED', 'PREREQUISITES_NOT_MET', 'ACCOUNT_DEACTIVATED', 'PAYMENT_DECLINED', 'SERVICE_UNAVAILABLE'];

/**
 * A failed enrollment's error code gets its own column: `reason` stays the text shown to people
 * (`CODE: message`), and nothing parses it back. Existing failed enrollments get their code from
 * the `reason` they were written with, once, here.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('enrollments').addColumn('failure_code', 'text').execute();
  // Raw SQL is not rewritten by Kysely's schema plugin, hence the explicit `enrollments.`.
  await sql`update enrollments.enrollments set failure_code = split_part(reason, ': ', 1)
             where status = 'failed' and split_part(reason, ': ', 1) in (${sql.join(CODES)})`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('enrollments').dropColumn('failure_code').execute();
}
