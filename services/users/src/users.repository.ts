import type { Profile } from '@lms/contracts';
import { sql, type Generated, type Kysely, type Selectable } from 'kysely';

export interface UsersDB {
  users: {
    id: string;
    email: string;
    display_name: string;
    bio: Generated<string>;
    roles: Generated<string[]>;
    created_at: Generated<Date>;
    updated_at: Generated<Date>;
  };
}
type Row = Selectable<UsersDB['users']>;

export function toProfile(r: Row): Profile {
  return {
    id: r.id,
    email: r.email,
    displayName: r.display_name,
    bio: r.bio,
    roles: r.roles as Profile['roles'],
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

export class UsersRepository {
  constructor(private readonly db: Kysely<UsersDB>) {}

  async byId(id: string): Promise<Row | undefined> {
    return this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Inserts a user; the first user of an empty install gets `admin`. Serialised by an advisory lock. */
  async create(u: { id: string; email: string; displayName: string }): Promise<Row | 'email_taken'> {
    return this.db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(hashtext('users.first_admin'))`.execute(trx);
      const taken = await trx.selectFrom('users').select('id').where('email', '=', u.email).executeTakeFirst();
      if (taken) return 'email_taken' as const;
      const someone = await trx.selectFrom('users').select('id').limit(1).executeTakeFirst();
      return trx
        .insertInto('users')
        .values({ id: u.id, email: u.email, display_name: u.displayName, roles: someone ? ['student'] : ['admin', 'instructor', 'student'] })
        .returningAll()
        .executeTakeFirstOrThrow();
    });
  }

  async remove(id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('users').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async update(id: string, patch: { displayName?: string; bio?: string }): Promise<Row | undefined> {
    return this.db
      .updateTable('users')
      .set({
        ...(patch.displayName !== undefined && { display_name: patch.displayName }),
        ...(patch.bio !== undefined && { bio: patch.bio }),
        updated_at: sql`now()`,
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
  }

  async addRole(id: string, role: string): Promise<Row | undefined> {
    return this.db
      .updateTable('users')
      .set({
        roles: sql`(select array_agg(distinct r order by r) from unnest(array_append(roles, ${role}::text)) r)`,
        updated_at: sql`now()`,
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
  }
}
