import { sql, type Kysely } from 'kysely';

/** When a user's roles last changed: nodes that start later load the recent changes from here. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').addColumn('roles_changed_at', 'timestamptz').execute();
  await db.schema.createIndex('users_roles_changed_idx').on('users').column('roles_changed_at').where(sql.ref('roles_changed_at'), 'is not', null).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('users_roles_changed_idx').execute();
  await db.schema.alterTable('users').dropColumn('roles_changed_at').execute();
}
