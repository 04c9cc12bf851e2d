import type { Course, CourseRole } from '@lms/contracts';
import { sql, type Generated, type Kysely, type Selectable } from 'kysely';

export interface CoursesDB {
  courses: {
    id: string;
    title: string;
    description: Generated<string>;
    category: string;
    status: Generated<'draft' | 'published'>;
    owner_id: string;
    created_at: Generated<Date>;
    updated_at: Generated<Date>;
    published_at: Date | null;
  };
  course_members: { course_id: string; user_id: string; role: CourseRole; added_by: string | null; added_at: Generated<Date> };
}
type Row = Selectable<CoursesDB['courses']>;

export function toCourse(r: Row): Course {
  return {
    id: r.id,
    title: r.title,
    description: r.description,
    category: r.category,
    status: r.status,
    ownerId: r.owner_id,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
    publishedAt: r.published_at ? r.published_at.toISOString() : null,
  };
}

export interface ListFilter {
  limit: number;
  after?: { createdAt: Date; id: string };
  status?: 'draft' | 'published';
  category?: string;
  ownerId?: string;
  /** Unset: everything (admins). Set: published courses plus those where this user is staff. */
  visibleTo?: string;
}

export class CoursesRepository {
  constructor(private readonly db: Kysely<CoursesDB>) {}

  byId(id: string, forUpdate = false) {
    const q = this.db.selectFrom('courses').selectAll().where('id', '=', id);
    return (forUpdate ? q.forUpdate() : q).executeTakeFirst();
  }

  /** Inserts the course and its owner membership; run it in a transaction. */
  async create(c: { id: string; title: string; description: string; category: string; ownerId: string }) {
    const row = await this.db
      .insertInto('courses')
      .values({ id: c.id, title: c.title, description: c.description, category: c.category, owner_id: c.ownerId })
      .returningAll()
      .executeTakeFirstOrThrow();
    await this.db.insertInto('course_members').values({ course_id: c.id, user_id: c.ownerId, role: 'owner', added_by: c.ownerId }).execute();
    return row;
  }

  async roleIn(courseId: string, userId: string): Promise<CourseRole | undefined> {
    return (await this.db.selectFrom('course_members').select('role').where('course_id', '=', courseId).where('user_id', '=', userId).executeTakeFirst())?.role;
  }

  members(f: { courseId: string; role?: CourseRole; limit: number; after?: { createdAt: Date; id: string } }) {
    let q = this.db.selectFrom('course_members').selectAll().where('course_id', '=', f.courseId);
    if (f.role) q = q.where('role', '=', f.role);
    if (f.after) q = q.where(sql<boolean>`(added_at, user_id) > (${f.after.createdAt}, ${f.after.id}::uuid)`);
    return q.orderBy('added_at').orderBy('user_id').limit(f.limit + 1).execute();
  }

  putMember(m: { courseId: string; userId: string; role: CourseRole; by: string }) {
    return this.db
      .insertInto('course_members')
      .values({ course_id: m.courseId, user_id: m.userId, role: m.role, added_by: m.by })
      .onConflict((oc) => oc.columns(['course_id', 'user_id']).doUpdateSet({ role: m.role, added_by: m.by, added_at: sql`now()` }))
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  async removeMember(courseId: string, userId: string): Promise<boolean> {
    const r = await this.db.deleteFrom('course_members').where('course_id', '=', courseId).where('user_id', '=', userId).where('role', '!=', 'owner').executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** What the courses service holds about a user: courses they own, and their memberships. */
  async exportUser(userId: string) {
    const owned = await this.db.selectFrom('courses').selectAll().where('owner_id', '=', userId).orderBy('created_at').execute();
    const memberships = await this.db.selectFrom('course_members').selectAll().where('user_id', '=', userId).orderBy('added_at').execute();
    return { ownedCourses: owned.map(toCourse), memberships: memberships.map((m) => ({ courseId: m.course_id, role: m.role, addedAt: m.added_at.toISOString() })) };
  }

  /** Erasure: memberships go; courses the user owned stay (the institution's records) under their pseudonymous id. */
  async eraseUser(userId: string): Promise<number> {
    const r = await this.db.deleteFrom('course_members').where('user_id', '=', userId).where('role', '!=', 'owner').executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  update(id: string, patch: { title?: string; description?: string; category?: string }) {
    return this.db
      .updateTable('courses')
      .set({ ...patch, updated_at: sql`now()` })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  publish(id: string) {
    return this.db
      .updateTable('courses')
      .set({ status: 'published', published_at: sql`now()`, updated_at: sql`now()` })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /** Newest first, keyset-paginated on (created_at, id); fetches one extra row to know if there is more. */
  list(f: ListFilter) {
    let q = this.db.selectFrom('courses').selectAll();
    if (f.visibleTo) {
      const staffOf = this.db.selectFrom('course_members').select('course_id').where('user_id', '=', f.visibleTo).where('role', '!=', 'learner');
      q = q.where((eb) => eb.or([eb('status', '=', 'published'), eb('id', 'in', staffOf)]));
    }
    if (f.status) q = q.where('status', '=', f.status);
    if (f.category) q = q.where('category', '=', f.category);
    if (f.ownerId) q = q.where('owner_id', '=', f.ownerId);
    if (f.after) q = q.where(sql<boolean>`(created_at, id) < (${f.after.createdAt}, ${f.after.id}::uuid)`);
    return q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(f.limit + 1).execute();
  }
}
