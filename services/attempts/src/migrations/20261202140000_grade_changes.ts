import { sql, type Kysely } from 'kysely';

/**
 * Regrade rows also record a person's change to a question of an attempt already graded (its grade in the gradebook,
 * maybe seen by the learner): `kind` 'manual' (a key correction's rows are 'key'), who (`by`) and why (`reason`).
 * `question_id`/`version` stay: the question the slot holds.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('regrades')
    .addColumn('kind', 'text', (c) => c.notNull().defaultTo('key').check(sql`kind in ('key', 'manual')`))
    .addColumn('by', 'uuid')
    .addColumn('reason', 'text')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('regrades').dropColumn('reason').dropColumn('by').dropColumn('kind').execute();
}
