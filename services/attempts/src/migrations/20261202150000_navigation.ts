import type { Kysely } from 'kysely';

/**
 * `current_slot`: the question a learner is on in a quiz shown one question at a time (`navigation: 'one-at-a-time'`),
 * the only one the attempt shows and takes answers for; null: every question at once. Attempts started before this
 * have null: they go on showing every question.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('attempts').addColumn('current_slot', 'integer').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('attempts').dropColumn('current_slot').execute();
}
