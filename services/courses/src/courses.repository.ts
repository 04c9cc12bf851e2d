import type { Course, CourseModule, CourseRole, Lesson, LessonContent } from '@lms/contracts';
import { sql, type ColumnType, type Generated, type Kysely, type Selectable, type Updateable } from 'kysely';

/** When a published course was published; a published course without that date is a broken invariant, not a value to guess. */
export function publishedAtOf(c: Pick<Course, 'id' | 'publishedAt'>): string {
  if (c.publishedAt === null) throw new Error(`Course ${c.id} is published but has no publication date`);
  return c.publishedAt;
}

type Json<T> = ColumnType<T, string, string>;

export interface CoursesDB {
  courses: {
    id: string;
    title: string;
    slug: string;
    summary: Generated<string>;
    description: Generated<string>;
    category: string;
    categories: Generated<string[]>;
    tags: Generated<string[]>;
    language: Generated<string>;
    level: Generated<Course['level']>;
    duration_minutes: Generated<number>;
    cover_file_id: string | null;
    visibility: Generated<Course['visibility']>;
    enroll_opens_at: Date | null;
    enroll_closes_at: Date | null;
    capacity: number | null;
    sequential: Generated<boolean>;
    prerequisites: Generated<string[]>;
    status: Generated<Course['status']>;
    version: Generated<number>;
    owner_id: string;
    created_at: Generated<Date>;
    updated_at: Generated<Date>;
    content_changed_at: Generated<Date>;
    published_at: Date | null;
  };
  course_members: { course_id: string; user_id: string; role: CourseRole; added_by: string | null; added_at: Generated<Date> };
  modules: {
    id: string;
    course_id: string;
    title: string;
    summary: Generated<string>;
    position: string;
    requires: Generated<string[]>;
    created_at: Generated<Date>;
    updated_at: Generated<Date>;
  };
  lessons: {
    id: string;
    module_id: string;
    course_id: string;
    title: string;
    type: string;
    position: string;
    duration_minutes: Generated<number>;
    content: Json<LessonContent>;
    created_at: Generated<Date>;
    updated_at: Generated<Date>;
  };
  course_versions: { course_id: string; version: number; snapshot: Json<unknown>; published_at: Generated<Date>; published_by: string };
  catalog: {
    course_id: string;
    sort_title: string;
    search: string;
    categories: string[];
    tags: string[];
    language: string;
    level: string;
    visibility: string;
    published_at: Date;
    course: Json<Course>;
  };
}
export type CourseRow = Selectable<CoursesDB['courses']>;
export type ModuleRow = Selectable<CoursesDB['modules']>;
export type LessonRow = Selectable<CoursesDB['lessons']>;

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function toCourse(r: CourseRow): Course {
  return {
    id: r.id,
    title: r.title,
    slug: r.slug,
    summary: r.summary,
    description: r.description,
    category: r.category,
    categories: r.categories,
    tags: r.tags,
    language: r.language,
    level: r.level,
    durationMinutes: r.duration_minutes,
    coverFileId: r.cover_file_id,
    visibility: r.visibility,
    enrollOpensAt: iso(r.enroll_opens_at),
    enrollClosesAt: iso(r.enroll_closes_at),
    capacity: r.capacity,
    sequential: r.sequential,
    prerequisites: r.prerequisites,
    status: r.status,
    version: r.version,
    hasUnpublishedChanges: r.published_at === null || r.content_changed_at.getTime() > r.published_at.getTime(),
    ownerId: r.owner_id,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
    publishedAt: iso(r.published_at),
  };
}

export function toModule(r: ModuleRow): CourseModule {
  return {
    id: r.id,
    courseId: r.course_id,
    title: r.title,
    summary: r.summary,
    position: r.position,
    requires: r.requires,
    updatedAt: r.updated_at.toISOString(),
  };
}

export function toLesson(r: LessonRow, render: (markdown: string) => string): Lesson {
  return {
    id: r.id,
    moduleId: r.module_id,
    courseId: r.course_id,
    title: r.title,
    position: r.position,
    durationMinutes: r.duration_minutes,
    content: r.content,
    html: r.content.type === 'markdown' ? render(r.content.body) : null,
    updatedAt: r.updated_at.toISOString(),
  };
}

export interface ListFilter {
  limit: number;
  after?: { createdAt: Date; id: string };
  status?: Course['status'];
  category?: string;
  ownerId?: string;
  /** Who is looking: their course role comes with each row. */
  viewer: string;
  /** Everything (admins); otherwise what the viewer may see (see `list`). */
  all: boolean;
}

export interface CatalogFilter {
  limit: number;
  sort: 'newest' | 'title';
  /** newest: (published_at, id); title: (lower(title), id). */
  after?: { key: string; id: string };
  q?: string;
  category?: string;
  tag?: string;
  language?: string;
  level?: string;
}

/** Metadata columns an instructor may set, from the contract's field names. */
export type CourseMetaPatch = Partial<{
  title: string;
  slug: string;
  summary: string;
  description: string;
  category: string;
  categories: string[];
  tags: string[];
  language: string;
  level: Course['level'];
  durationMinutes: number;
  coverFileId: string | null;
  visibility: Course['visibility'];
  enrollOpensAt: string | null;
  enrollClosesAt: string | null;
  capacity: number | null;
  sequential: boolean;
  prerequisites: string[];
}>;

/** The metadata columns of a patch; fields left undefined are not written (Kysely skips undefined values). */
function metaColumns(p: CourseMetaPatch): Updateable<CoursesDB['courses']> {
  const date = (v: string | null | undefined) => (v === undefined ? undefined : v === null ? null : new Date(v));
  return {
    title: p.title,
    slug: p.slug,
    summary: p.summary,
    description: p.description,
    category: p.category,
    categories: p.categories,
    tags: p.tags,
    language: p.language,
    level: p.level,
    duration_minutes: p.durationMinutes,
    cover_file_id: p.coverFileId,
    visibility: p.visibility,
    enroll_opens_at: date(p.enrollOpensAt),
    enroll_closes_at: date(p.enrollClosesAt),
    capacity: p.capacity,
    sequential: p.sequential,
    prerequisites: p.prerequisites,
  };
}

export class CoursesRepository {
  constructor(private readonly db: Kysely<CoursesDB>) {}

  byId(id: string, forUpdate = false) {
    const q = this.db.selectFrom('courses').selectAll().where('id', '=', id);
    return (forUpdate ? q.forUpdate() : q).executeTakeFirst();
  }

  /** Inserts the course and its owner membership; run it in a transaction. */
  async create(c: CourseMetaPatch & { id: string; title: string; category: string; ownerId: string }) {
    const row = await this.db
      .insertInto('courses')
      .values({
        ...metaColumns(c),
        id: c.id,
        title: c.title,
        category: c.category,
        slug: c.slug ?? c.id,
        categories: c.categories ?? [c.category],
        owner_id: c.ownerId,
        cover_file_id: c.coverFileId ?? null,
        enroll_opens_at: c.enrollOpensAt ? new Date(c.enrollOpensAt) : null,
        enroll_closes_at: c.enrollClosesAt ? new Date(c.enrollClosesAt) : null,
        capacity: c.capacity ?? null,
        published_at: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await this.db.insertInto('course_members').values({ course_id: c.id, user_id: c.ownerId, role: 'owner', added_by: c.ownerId }).execute();
    return row;
  }

  slugTaken(slug: string, exceptId: string) {
    return this.db.selectFrom('courses').select('id').where('slug', '=', slug).where('id', '!=', exceptId).executeTakeFirst();
  }

  update(id: string, patch: CourseMetaPatch) {
    return this.db
      .updateTable('courses')
      .set({ ...metaColumns(patch), updated_at: sql`now()`, content_changed_at: sql`now()` })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /** Content edits (modules, lessons) mark the working copy changed. */
  async touchContent(id: string): Promise<void> {
    await this.db
      .updateTable('courses')
      .set({ content_changed_at: sql`now()` })
      .where('id', '=', id)
      .execute();
  }

  setStatus(id: string, status: Course['status']) {
    return this.db
      .updateTable('courses')
      .set({ status, updated_at: sql`now()` })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /** Bumps the version and stores the snapshot learners will see, in the caller's transaction. */
  async publish(id: string, by: string, snapshot: (course: CourseRow) => unknown) {
    const row = await this.db
      .updateTable('courses')
      .set({ status: 'published', version: sql`version + 1`, published_at: sql`now()`, updated_at: sql`now()` })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await this.db
      .insertInto('course_versions')
      .values({ course_id: id, version: row.version, snapshot: JSON.stringify(snapshot(row)), published_by: by })
      .execute();
    return row;
  }

  async snapshot(courseId: string, version: number): Promise<unknown> {
    return (await this.db.selectFrom('course_versions').select('snapshot').where('course_id', '=', courseId).where('version', '=', version).executeTakeFirst())
      ?.snapshot;
  }

  // ------------------------------------------------------------ modules and lessons

  modulesOf(courseId: string) {
    return this.db.selectFrom('modules').selectAll().where('course_id', '=', courseId).orderBy('position').orderBy('id').execute();
  }

  lessonsOf(courseId: string) {
    return this.db.selectFrom('lessons').selectAll().where('course_id', '=', courseId).orderBy('position').orderBy('id').execute();
  }

  module(id: string) {
    return this.db.selectFrom('modules').selectAll().where('id', '=', id).executeTakeFirst();
  }

  lesson(id: string) {
    return this.db.selectFrom('lessons').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** The last position among a parent's children, to append after it. */
  async lastModulePosition(courseId: string): Promise<string | null> {
    return (
      (await this.db.selectFrom('modules').select('position').where('course_id', '=', courseId).orderBy('position', 'desc').limit(1).executeTakeFirst())
        ?.position ?? null
    );
  }

  async lastLessonPosition(moduleId: string): Promise<string | null> {
    return (
      (await this.db.selectFrom('lessons').select('position').where('module_id', '=', moduleId).orderBy('position', 'desc').limit(1).executeTakeFirst())
        ?.position ?? null
    );
  }

  /** The position right after `afterPosition` (or the first) among a parent's children. */
  async nextModulePosition(courseId: string, afterPosition: string | null): Promise<string | null> {
    let q = this.db.selectFrom('modules').select('position').where('course_id', '=', courseId);
    if (afterPosition !== null) q = q.where('position', '>', afterPosition);
    return (await q.orderBy('position').limit(1).executeTakeFirst())?.position ?? null;
  }

  async nextLessonPosition(moduleId: string, afterPosition: string | null, exceptId: string): Promise<string | null> {
    let q = this.db.selectFrom('lessons').select('position').where('module_id', '=', moduleId).where('id', '!=', exceptId);
    if (afterPosition !== null) q = q.where('position', '>', afterPosition);
    return (await q.orderBy('position').limit(1).executeTakeFirst())?.position ?? null;
  }

  insertModule(m: { id: string; courseId: string; title: string; summary: string; requires: string[]; position: string }) {
    return this.db
      .insertInto('modules')
      .values({ id: m.id, course_id: m.courseId, title: m.title, summary: m.summary, requires: m.requires, position: m.position })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  updateModule(id: string, p: { title?: string; summary?: string; requires?: string[]; position?: string }) {
    return this.db
      .updateTable('modules')
      .set({ ...Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)), updated_at: sql`now()` })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  async deleteModule(id: string): Promise<void> {
    await this.db.deleteFrom('modules').where('id', '=', id).execute();
  }

  insertLesson(l: { id: string; moduleId: string; courseId: string; title: string; durationMinutes: number; content: LessonContent; position: string }) {
    return this.db
      .insertInto('lessons')
      .values({
        id: l.id,
        module_id: l.moduleId,
        course_id: l.courseId,
        title: l.title,
        type: l.content.type,
        duration_minutes: l.durationMinutes,
        content: JSON.stringify(l.content),
        position: l.position,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  updateLesson(id: string, p: { title?: string; durationMinutes?: number; content?: LessonContent; position?: string; moduleId?: string }) {
    return this.db
      .updateTable('lessons')
      .set({
        ...(p.title !== undefined && { title: p.title }),
        ...(p.durationMinutes !== undefined && { duration_minutes: p.durationMinutes }),
        ...(p.content !== undefined && { content: JSON.stringify(p.content), type: p.content.type }),
        ...(p.position !== undefined && { position: p.position }),
        ...(p.moduleId !== undefined && { module_id: p.moduleId }),
        updated_at: sql`now()`,
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  async deleteLesson(id: string): Promise<void> {
    await this.db.deleteFrom('lessons').where('id', '=', id).execute();
  }

  // ------------------------------------------------------------ members

  /** The course and the user's role in it, in one round trip (the read path of every course request). */
  async withRole(courseId: string, userId: string): Promise<{ row: CourseRow; role: CourseRole | undefined } | undefined> {
    const r = await this.db
      .selectFrom('courses')
      .leftJoin('course_members', (j) => j.onRef('course_members.course_id', '=', 'courses.id').on('course_members.user_id', '=', userId))
      .selectAll('courses')
      .select('course_members.role as member_role')
      .where('courses.id', '=', courseId)
      .executeTakeFirst();
    if (!r) return undefined;
    const { member_role, ...row } = r;
    return { row: row, role: member_role ?? undefined };
  }

  async roleIn(courseId: string, userId: string): Promise<CourseRole | undefined> {
    return (await this.db.selectFrom('course_members').select('role').where('course_id', '=', courseId).where('user_id', '=', userId).executeTakeFirst())?.role;
  }

  members(f: { courseId: string; role?: CourseRole; limit: number; after?: { createdAt: Date; id: string } }) {
    let q = this.db.selectFrom('course_members').selectAll().where('course_id', '=', f.courseId);
    if (f.role) q = q.where('role', '=', f.role);
    if (f.after) q = q.where(sql<boolean>`(added_at, user_id) > (${f.after.createdAt}, ${f.after.id}::uuid)`);
    return q
      .orderBy('added_at')
      .orderBy('user_id')
      .limit(f.limit + 1)
      .execute();
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
    const r = await this.db
      .deleteFrom('course_members')
      .where('course_id', '=', courseId)
      .where('user_id', '=', userId)
      .where('role', '!=', 'owner')
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  // ------------------------------------------------------------ lists

  /**
   * Newest first, keyset-paginated on (created_at, id); fetches one extra row to know if there is more. Each row
   * comes with the viewer's course role and the course as its last published version describes it.
   */
  list(f: ListFilter) {
    let q = this.db
      .selectFrom('courses')
      .leftJoin('course_members as cm', (j) => j.onRef('cm.course_id', '=', 'courses.id').on('cm.user_id', '=', f.viewer))
      .leftJoin('catalog as cat', 'cat.course_id', 'courses.id')
      .leftJoin('course_versions as cv', (j) => j.onRef('cv.course_id', '=', 'courses.id').onRef('cv.version', '=', 'courses.version'))
      .selectAll('courses')
      // The published course from the small catalogue row; the large snapshot is opened only for archived courses.
      .select(['cm.role as member_role', sql<Course | null>`coalesce(cat.course, cv.snapshot->'course')`.as('published')]);
    if (!f.all) {
      // Staff see their courses; learners the courses they are in, once published; anyone else public
      // courses that are published and were public when published (the catalogue's rows).
      const publicNow = this.db.selectFrom('catalog').select('catalog.course_id').where('catalog.visibility', '=', 'public');
      q = q.where((eb) =>
        eb.or([
          eb('cm.role', 'in', ['owner', 'instructor', 'ta']),
          eb.and([eb('cm.role', '=', 'learner'), eb('courses.version', '>=', 1)]),
          eb.and([eb('courses.status', '=', 'published'), eb('courses.visibility', '=', 'public'), eb('courses.id', 'in', publicNow)]),
        ]),
      );
    }
    if (f.status) q = q.where('courses.status', '=', f.status);
    if (f.category) q = q.where('courses.category', '=', f.category);
    if (f.ownerId) q = q.where('courses.owner_id', '=', f.ownerId);
    if (f.after) q = q.where(sql<boolean>`(courses.created_at, courses.id) < (${f.after.createdAt}, ${f.after.id}::uuid)`);
    return q
      .orderBy('courses.created_at', 'desc')
      .orderBy('courses.id', 'desc')
      .limit(f.limit + 1)
      .execute();
  }

  /** The course as its last published version describes it: its catalogue row, or (archived) its snapshot's course part. */
  async publishedCourse(courseId: string, version: number): Promise<Course | undefined> {
    const listed = await this.db.selectFrom('catalog').select('course').where('course_id', '=', courseId).executeTakeFirst();
    if (listed && listed.course.version === version) return listed.course;
    const r = await this.db
      .selectFrom('course_versions')
      .select(sql<Course>`snapshot->'course'`.as('course'))
      .where('course_id', '=', courseId)
      .where('version', '=', version)
      .executeTakeFirst();
    return r?.course;
  }

  /** Puts a published course in the catalogue read model (or refreshes it), as this version describes it. */
  async catalogPut(c: Course): Promise<void> {
    const row = {
      course_id: c.id,
      sort_title: c.title.toLowerCase(),
      search: `${c.title} ${c.summary}`.toLowerCase(),
      categories: c.categories,
      tags: c.tags,
      language: c.language,
      level: c.level,
      visibility: c.visibility,
      published_at: new Date(publishedAtOf(c)),
      course: JSON.stringify(c),
    };
    await this.db
      .insertInto('catalog')
      .values(row)
      .onConflict((oc) => oc.column('course_id').doUpdateSet(row))
      .execute();
  }

  async catalogRemove(courseId: string): Promise<void> {
    await this.db.deleteFrom('catalog').where('course_id', '=', courseId).execute();
  }

  /**
   * The catalogue: public courses as their published version describes them (metadata edits wait for the
   * next publish, like content), from the small `catalog` read model. Filters on categories, tags,
   * language, level and words in the title or summary.
   */
  catalog(f: CatalogFilter) {
    // Public when published and still public and published now (a course made private or archived leaves at once).
    const publicNow = this.db.selectFrom('courses').select('courses.id').where('courses.status', '=', 'published').where('courses.visibility', '=', 'public');
    let q = this.db
      .selectFrom('catalog')
      .select(['course_id', 'published_at', 'sort_title', 'course'])
      .where('visibility', '=', 'public')
      .where('course_id', 'in', publicNow);
    if (f.category) q = q.where(sql<boolean>`${f.category}::text = any(categories)`);
    if (f.tag) q = q.where(sql<boolean>`${f.tag.toLowerCase()}::text = any(tags)`);
    if (f.language) q = q.where('language', '=', f.language);
    if (f.level) q = q.where('level', '=', f.level);
    if (f.q) q = q.where('search', 'like', `%${f.q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    if (f.sort === 'title') {
      if (f.after) q = q.where(sql<boolean>`(sort_title, course_id) > (${f.after.key}, ${f.after.id}::uuid)`);
      q = q.orderBy('sort_title').orderBy('course_id');
    } else {
      if (f.after) q = q.where(sql<boolean>`(published_at, course_id) < (${new Date(f.after.key)}, ${f.after.id}::uuid)`);
      q = q.orderBy('published_at', 'desc').orderBy('course_id', 'desc');
    }
    return q.limit(f.limit + 1).execute();
  }

  // ------------------------------------------------------------ privacy

  /** What the courses service holds about a user: courses they own, and their memberships. */
  async exportUser(userId: string) {
    const owned = await this.db.selectFrom('courses').selectAll().where('owner_id', '=', userId).orderBy('created_at').execute();
    const memberships = await this.db.selectFrom('course_members').selectAll().where('user_id', '=', userId).orderBy('added_at').execute();
    return {
      ownedCourses: owned.map(toCourse),
      memberships: memberships.map((m) => ({ courseId: m.course_id, role: m.role, addedAt: m.added_at.toISOString() })),
    };
  }

  /** Erasure: memberships go; courses the user owned stay (the institution's records) under their pseudonymous id. */
  async eraseUser(userId: string): Promise<number> {
    const r = await this.db.deleteFrom('course_members').where('user_id', '=', userId).where('role', '!=', 'owner').executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
