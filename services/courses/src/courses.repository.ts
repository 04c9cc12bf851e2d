import type { Course } from '@lms/contracts';
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
  /** Unset: everything (admins). Set: published courses plus this user's own. */
  visibleTo?: string;
}

export class CoursesRepository {
  constructor(private readonly db: Kysely<CoursesDB>) {}

  byId(id: string, forUpdate = false) {
    const q = this.db.selectFrom('courses').selectAll().where('id', '=', id);
    return (forUpdate ? q.forUpdate() : q).executeTakeFirst();
  }

  create(c: { id: string; title: string; description: string; category: string; ownerId: string }) {
    return this.db
      .insertInto('courses')
      .values({ id: c.id, title: c.title, description: c.description, category: c.category, owner_id: c.ownerId })
      .returningAll()
      .executeTakeFirstOrThrow();
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
    if (f.visibleTo) q = q.where((eb) => eb.or([eb('status', '=', 'published'), eb('owner_id', '=', f.visibleTo!)]));
    if (f.status) q = q.where('status', '=', f.status);
    if (f.category) q = q.where('category', '=', f.category);
    if (f.ownerId) q = q.where('owner_id', '=', f.ownerId);
    if (f.after) q = q.where(sql<boolean>`(created_at, id) < (${f.after.createdAt}, ${f.after.id}::uuid)`);
    return q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(f.limit + 1).execute();
  }
}
