import { resolvePreferences, type NotificationPreferences, type PrivacyRequest, type Profile } from '@lms/contracts';
import { sql, type ColumnType, type Generated, type Kysely, type Selectable } from 'kysely';

type Json<T> = ColumnType<T, string, string>;

export interface UsersDB {
  users: {
    id: string;
    email: string;
    display_name: string;
    bio: Generated<string>;
    roles: Generated<string[]>;
    locale: Generated<string>;
    timezone: Generated<string>;
    status: Generated<'active' | 'deactivated' | 'erased'>;
    deactivated_at: Date | null;
    created_at: Generated<Date>;
    updated_at: Generated<Date>;
    email_verified_at: Date | null;
    avatar_file_id: string | null;
    /** NotificationPreferences as stored: older rows hold per-type on/off switches (see resolvePreferences). */
    preferences: ColumnType<unknown, string | undefined, string>;
    erased_at: Date | null;
    /** When the roles last changed (token verifiers load the recent changes). */
    roles_changed_at: Date | null;
  };
  privacy_requests: {
    id: string;
    user_id: string;
    kind: 'export' | 'erasure';
    status: 'pending' | 'running' | 'complete' | 'failed';
    requested_by: string;
    parts: Json<Record<string, 'pending' | 'done'>>;
    result: Json<Record<string, unknown>> | null;
    attempts: Generated<number>;
    error: string | null;
    created_at: Generated<Date>;
    completed_at: Date | null;
  };
}
type RequestRow = Selectable<UsersDB['privacy_requests']>;

export function toRequest(r: RequestRow): PrivacyRequest {
  return {
    id: r.id,
    userId: r.user_id,
    kind: r.kind,
    status: r.status,
    requestedBy: r.requested_by,
    parts: r.parts,
    createdAt: r.created_at.toISOString(),
    completedAt: r.completed_at?.toISOString() ?? null,
    error: r.error,
  };
}

/** Stored preferences over the defaults: a type added later gets its default modes. */
export const preferencesOf = (stored: unknown): NotificationPreferences => resolvePreferences(stored);
type Row = Selectable<UsersDB['users']>;

export function toProfile(r: Row): Profile {
  return {
    id: r.id,
    email: r.email,
    displayName: r.display_name,
    bio: r.bio,
    avatarFileId: r.avatar_file_id,
    emailVerified: r.email_verified_at !== null,
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

  async byEmail(email: string): Promise<Row | undefined> {
    return this.db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
  }

  async byId(id: string): Promise<Row | undefined> {
    return this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** The profile, locked until the transaction ends (run it in a unit of work). */
  async byIdForUpdate(id: string): Promise<Row | undefined> {
    return this.db.selectFrom('users').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
  }

  byIds(ids: readonly string[]): Promise<Row[]> {
    return this.db
      .selectFrom('users')
      .selectAll()
      .where('id', 'in', [...ids])
      .execute();
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
      .values({
        id: u.id,
        email: u.email,
        display_name: u.displayName,
        roles: someone ? ['student'] : ['admin', 'instructor', 'student'],
        deactivated_at: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  async remove(id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('users').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async update(
    id: string,
    patch: { displayName?: string; bio?: string; locale?: string; timezone?: string; avatarFileId?: string | null },
  ): Promise<Row | undefined> {
    return this.db
      .updateTable('users')
      .set({
        ...(patch.displayName !== undefined && { display_name: patch.displayName }),
        ...(patch.bio !== undefined && { bio: patch.bio }),
        ...(patch.locale !== undefined && { locale: patch.locale }),
        ...(patch.timezone !== undefined && { timezone: patch.timezone }),
        ...(patch.avatarFileId !== undefined && { avatar_file_id: patch.avatarFileId }),
        updated_at: sql`now()`,
      })
      .where('id', '=', id)
      .where('status', '!=', 'erased')
      .returningAll()
      .executeTakeFirst();
  }

  async setPreferences(id: string, prefs: NotificationPreferences): Promise<void> {
    await this.db
      .updateTable('users')
      .set({ preferences: JSON.stringify(prefs), updated_at: sql`now()` })
      .where('id', '=', id)
      .execute();
  }

  async markEmailVerified(id: string, email: string): Promise<Row | undefined> {
    return this.db
      .updateTable('users')
      .set({ email_verified_at: sql`now()`, updated_at: sql`now()` })
      .where('id', '=', id)
      .where('email', '=', email)
      .returningAll()
      .executeTakeFirst();
  }

  /**
   * Erasure: the row stays as a tombstone (id, roles, dates) so that references elsewhere resolve
   * to "Erased user"; every personal field is cleared or replaced.
   */
  async anonymise(id: string): Promise<Row | undefined> {
    return this.db
      .updateTable('users')
      .set({
        email: `erased+${id}@invalid`,
        display_name: 'Erased user',
        bio: '',
        avatar_file_id: null,
        preferences: '{}',
        locale: 'en',
        timezone: 'UTC',
        status: 'erased',
        email_verified_at: null,
        erased_at: sql`now()`,
        updated_at: sql`now()`,
      })
      .where('id', '=', id)
      .where('status', '!=', 'erased')
      .returningAll()
      .executeTakeFirst();
  }

  /**
   * Erasure reaches the user's exports: finished bundles are deleted (the request stays, by id, as the
   * record that it happened) and unfinished ones fail, so no bundle is written after the erasure.
   */
  async dropExports(userId: string): Promise<number> {
    const r = await this.db
      .updateTable('privacy_requests')
      .set({
        result: null,
        status: sql`case when status in ('pending', 'running') then 'failed' else status end`,
        error: sql`case when status in ('pending', 'running') then 'The user was erased' else error end`,
      })
      .where('user_id', '=', userId)
      .where('kind', '=', 'export')
      .executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  /** Active admins other than this user: erasing or demoting the last one would lock everyone out. */
  async otherActiveAdmins(id: string): Promise<number> {
    const r = await this.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('id', '!=', id)
      .where('status', '=', 'active')
      .where(sql<boolean>`'admin' = any(roles)`)
      .executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  // ------------------------------------------------------------ privacy requests

  request(id: string) {
    return this.db.selectFrom('privacy_requests').selectAll().where('id', '=', id).executeTakeFirst();
  }

  requestsOf(userId: string) {
    return this.db
      .selectFrom('privacy_requests')
      .select(['id', 'kind', 'status', 'requested_by', 'created_at', 'completed_at'])
      .where('user_id', '=', userId)
      .orderBy('created_at')
      .execute();
  }

  openExport(userId: string) {
    return this.db
      .selectFrom('privacy_requests')
      .select('id')
      .where('user_id', '=', userId)
      .where('kind', '=', 'export')
      .where('status', 'in', ['pending', 'running'])
      .executeTakeFirst();
  }

  unfinished(kind: 'export' | 'erasure') {
    return this.db.selectFrom('privacy_requests').select('id').where('kind', '=', kind).where('status', 'in', ['pending', 'running']).execute();
  }

  async newRequest(r: { id: string; userId: string; kind: 'export' | 'erasure'; requestedBy: string; parts: Record<string, 'pending' | 'done'> }) {
    return this.db
      .insertInto('privacy_requests')
      .values({
        id: r.id,
        user_id: r.userId,
        kind: r.kind,
        status: 'pending',
        requested_by: r.requestedBy,
        parts: JSON.stringify(r.parts),
        result: null,
        error: null,
        completed_at: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /** Marks one service's part done; completes the request when it was the last. Answers the row. */
  async partDone(id: string, service: string) {
    const row = await this.db
      .updateTable('privacy_requests')
      .set({ parts: sql`parts || jsonb_build_object(${service}::text, 'done')`, status: 'running' })
      .where('id', '=', id)
      .where('status', '!=', 'complete')
      .returningAll()
      .executeTakeFirst();
    if (row && Object.values(row.parts).every((v) => v === 'done')) {
      return this.db
        .updateTable('privacy_requests')
        .set({ status: 'complete', completed_at: sql`now()` })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst();
    }
    return row;
  }

  async setRequest(
    id: string,
    patch: {
      status?: RequestRow['status'];
      attempts?: number;
      error?: string | null;
      result?: Record<string, unknown>;
      parts?: Record<string, 'pending' | 'done'>;
      complete?: boolean;
    },
  ) {
    return this.db
      .updateTable('privacy_requests')
      .set({
        ...(patch.status && { status: patch.status }),
        ...(patch.attempts !== undefined && { attempts: patch.attempts }),
        ...(patch.error !== undefined && { error: patch.error }),
        ...(patch.result && { result: JSON.stringify(patch.result) }),
        ...(patch.parts && { parts: JSON.stringify(patch.parts) }),
        ...(patch.complete && { completed_at: sql`now()` }),
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
  }

  async removeRole(id: string, role: string): Promise<Row | undefined> {
    return this.db
      .updateTable('users')
      .set({ roles: sql`array_remove(roles, ${role}::text)`, updated_at: sql`now()`, roles_changed_at: sql`now()` })
      .where('id', '=', id)
      .where('status', '!=', 'erased')
      .returningAll()
      .executeTakeFirst();
  }

  async setStatus(id: string, status: 'active' | 'deactivated'): Promise<Row | undefined> {
    return this.db
      .updateTable('users')
      .set({ status, deactivated_at: status === 'deactivated' ? sql`now()` : null, updated_at: sql`now()` })
      .where('id', '=', id)
      .where('status', '!=', 'erased') // an erased account is a tombstone: never reactivated
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
    return q
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(f.limit + 1)
      .execute();
  }

  async addRole(id: string, role: string): Promise<Row | undefined> {
    return this.db
      .updateTable('users')
      .set({
        roles: sql`(select array_agg(distinct r order by r) from unnest(array_append(roles, ${role}::text)) r)`,
        updated_at: sql`now()`,
        roles_changed_at: sql`now()`,
      })
      .where('id', '=', id)
      .where('status', '!=', 'erased')
      .returningAll()
      .executeTakeFirst();
  }

  /** Users whose roles changed since `since`, or the named users: their current roles and when they changed. */
  roleChanges(f: { since?: Date; userIds?: string[] }) {
    let q = this.db.selectFrom('users').select(['id', 'roles', 'roles_changed_at', 'updated_at']);
    if (f.userIds) q = q.where('id', 'in', f.userIds.length ? f.userIds : ['00000000-0000-0000-0000-000000000000']);
    if (f.since) q = q.where('roles_changed_at', '>', f.since);
    return q.limit(10_000).execute();
  }
}
