import type { Profile } from '@lms/contracts';
import { sql, type Generated, type Kysely, type Selectable } from 'kysely';

export interface UsersDB {
  users: {
    id: string;
    email: string;
    display_name: string;
    bio: Generated<string>;
    roles: Generated<string[]>;
    locale: Generated<string>;
    timezone: Generated<string>;
    status: Generated<'active' | 'deactivated'>;
    deactivated_at: Date | null;
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
    locale: r.locale,
    timezone: r.timezone,
    status: r.status,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

export class UsersRepository {
  constructor(private readonly db: Kysely<UsersDB>) {}

  async byId(id: string): Promise<Row | undefined> {
    return this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /**
   * Inserts a user; the first user of an empty install gets `admin`. Run it inside a transaction:
   * the advisory lock that serialises "is this the first user?" lasts until that transaction ends.
   */
  async create(u: { id: string; email: string; displayName: string }): Promise<Row | 'email_taken'> {
    await sql`select pg_advisory_xact_lock(hashtext('users.first_admin'))`.execute(this.db);
    const taken = await this.db.selectFrom('users').select('id').where('email', '=', u.email).executeTakeFirst();
    if (taken) return 'email_taken';
    const someone = await this.db.selectFrom('users').select('id').limit(1).executeTakeFirst();
    return this.db
      .insertInto('users')
      .values({ id: u.id, email: u.email, display_name: u.displayName, roles: someone ? ['student'] : ['admin', 'instructor', 'student'], deactivated_at: null })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  async remove(id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('users').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async update(id: string, patch: { displayName?: string; bio?: string; locale?: string; timezone?: string }): Promise<Row | undefined> {
    return this.db
      .updateTable('users')
      .set({
        ...(patch.displayName !== undefined && { display_name: patch.displayName }),
        ...(patch.bio !== undefined && { bio: patch.bio }),
        ...(patch.locale !== undefined && { locale: patch.locale }),
        ...(patch.timezone !== undefined && { timezone: patch.timezone }),
        updated_at: sql`now()`,
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
  }

  async removeRole(id: string, role: string): Promise<Row | undefined> {
    return this.db
      .updateTable('users')
      .set({ roles: sql`array_remove(roles, ${role}::text)`, updated_at: sql`now()` })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
  }

  async setStatus(id: string, status: 'active' | 'deactivated'): Promise<Row | undefined> {
    return this.db
      .updateTable('users')
      .set({ status, deactivated_at: status === 'deactivated' ? sql`now()` : null, updated_at: sql`now()` })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
  }

  /** Newest first, keyset pages; `q` matches an email prefix or part of the name, case-insensitively. */
  list(f: { limit: number; after?: { createdAt: Date; id: string }; q?: string; role?: string; status?: string }) {
    let q = this.db.selectFrom('users').selectAll();
    if (f.q) {
      const like = f.q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`);
      q = q.where((eb) => eb.or([eb(sql`lower(email)`, 'like', `${like}%`), eb(sql`lower(display_name)`, 'like', `%${like}%`)]));
    }
    if (f.role) q = q.where(sql<boolean>`${f.role}::text = any(roles)`);
    if (f.status) q = q.where('status', '=', f.status as 'active');
    if (f.after) q = q.where(sql<boolean>`(created_at, id) < (${f.after.createdAt}, ${f.after.id}::uuid)`);
    return q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(f.limit + 1).execute();
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
