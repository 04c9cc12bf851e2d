import { randomUUID } from 'node:crypto';
import {
  courseEvents,
  coursePermissionsOf,
  courseRolePermissions,
  courses,
  coursesInternal,
  DomainError,
  enrollmentEvents,
  erasureReceipts,
  privacyExportContract,
  userEvents,
  usersInternal,
  type Course,
  type CourseContent,
  type CoursePermission,
  type CourseRole,
} from '@lms/contracts';
import {
  absentOn,
  consumerOf,
  decodeCursor,
  decodeKeyCursor,
  defineService,
  encodeCursor,
  encodeKeyCursor,
  isNotFound,
  keysetPage,
  type Caller,
  type Emit,
} from '@lms/runtime';
import { generateKeyBetween } from 'fractional-indexing';
import type { Kysely } from 'kysely';
import { CoursesRepository, publishedAtOf, toCourse, toLesson, toModule, type CourseRow, type CoursesDB } from './courses.repository.js';
import * as m0 from './migrations/20261124000000_courses.js';
import * as m1 from './migrations/20261124210000_members.js';
import * as m2 from './migrations/20261124220000_content.js';
import * as m3 from './migrations/20261124233000_catalog.js';
import { renderMarkdown } from './render.js';

const notFound = () => new DomainError('COURSE_NOT_FOUND', 'No such course');
const everything = new Set(Object.values(courseRolePermissions).flat());

/**
 * The caller's standing in one course: its row, their course role and what it lets them do.
 * Admins (courses:read-all) may do everything. A course the caller may not see does not exist for them.
 */
async function access(repo: CoursesRepository, courseId: string, caller: Caller, admin: boolean, forUpdate = false) {
  // Writes lock the course row first; reads fetch it with the caller's role in one query.
  const found = forUpdate
    ? await repo.byId(courseId, true).then(async (row) => row && { row, role: await repo.roleIn(courseId, caller.userId) })
    : await repo.withRole(courseId, caller.userId);
  if (!found) throw notFound();
  const { row, role } = found;
  const perms = admin ? everything : coursePermissionsOf(role);
  if (!perms.has('course:view-drafts') && !learnerMaySee(row, role)) throw notFound();
  return { row, role, perms };
}

/**
 * What a non-staff user may see of a course: a published version, if the course is public or unlisted
 * (any signed-in user) or private (members only); an archived course, its members only.
 */
function learnerMaySee(row: CourseRow, role: CourseRole | undefined): boolean {
  if (row.version < 1) return false;
  if (row.status === 'archived') return role !== undefined;
  return row.visibility !== 'private' || role !== undefined;
}

/**
 * What the caller sees of a course's metadata: staff (and admins) the working copy; everyone else the course as
 * its last published version describes it, never unpublished edits.
 */
function viewOf(row: CourseRow, perms: Set<CoursePermission>, published: Course | null | undefined): Course {
  const current = toCourse(row);
  if (perms.has('course:view-drafts')) return current;
  if (!published) throw notFound();
  return { ...current, ...published, status: current.status, version: current.version, publishedAt: current.publishedAt, hasUnpublishedChanges: false };
}

function must(perms: Set<CoursePermission>, p: CoursePermission, what: string): void {
  if (!perms.has(p)) throw new DomainError('FORBIDDEN', `Your role in this course does not allow you to ${what}`, { permission: p });
}

/** Who may give or take which course role: instructors' roles are the owner's (and admins') to manage. */
function mayManage(perms: Set<CoursePermission>, role: CourseRole | undefined): void {
  if (role === 'owner') throw new DomainError('CONFLICT', 'The owner of a course cannot be changed or removed here');
  must(perms, role === 'instructor' ? 'course:members:manage-staff' : 'course:members:manage', role === 'instructor' ? 'manage instructors' : 'manage members');
}

const toMember = (m: { user_id: string; role: CourseRole; added_by: string | null; added_at: Date }) => ({
  userId: m.user_id,
  role: m.role,
  addedBy: m.added_by,
  addedAt: m.added_at.toISOString(),
});

const badInput = (path: string, message: string) =>
  new DomainError('VALIDATION_FAILED', `Invalid input: ${path}: ${message}`, { issues: [{ path, message, code: 'custom' }] });

/**
 * Checks what a metadata change refers to: a free slug, real prerequisite courses, a window that makes sense.
 * A prerequisite must be a course the caller may see: one they may not is refused exactly like an unknown id.
 */
async function checkMeta(
  repo: CoursesRepository,
  courseId: string,
  m: { slug?: string; prerequisites?: string[]; enrollOpensAt?: string | null; enrollClosesAt?: string | null },
  who: { caller: Caller; admin: boolean },
  current?: CourseRow,
) {
  if (m.slug && (await repo.slugTaken(m.slug, courseId))) throw new DomainError('CONFLICT', `The slug "${m.slug}" is taken`);
  for (const p of m.prerequisites ?? []) {
    if (p === courseId) throw badInput('prerequisites', 'a course cannot require itself');
    const seen = await access(repo, p, who.caller, who.admin).catch(absentOn('COURSE_NOT_FOUND'));
    if (!seen) throw badInput('prerequisites', `no course ${p}`);
  }
  const opens = m.enrollOpensAt !== undefined ? m.enrollOpensAt : (current?.enroll_opens_at?.toISOString() ?? null);
  const closes = m.enrollClosesAt !== undefined ? m.enrollClosesAt : (current?.enroll_closes_at?.toISOString() ?? null);
  if (opens && closes && new Date(opens) >= new Date(closes)) throw badInput('enrollClosesAt', 'must be after enrollOpensAt');
}

/**
 * A cycle among module requirements, if there is one: `requires` edges, and in a sequential course each module's
 * edge to the one before it (it unlocks once that one is complete). A cycle makes the course impossible to
 * complete. Answers the cycle as module ids, first repeated at the end (M1 → M2 → M1).
 */
function requirementCycle(modules: ReadonlyArray<{ id: string; requires: readonly string[] }>, sequential: boolean): string[] | undefined {
  const known = new Set(modules.map((m) => m.id));
  const edges = new Map(
    modules.map((m, i) => {
      const before = sequential ? modules[i - 1] : undefined;
      return [m.id, [...(before ? [before.id] : []), ...m.requires.filter((r) => known.has(r))]];
    }),
  );
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (id: string): string[] | undefined => {
    if (state.get(id) === 'done') return undefined;
    if (state.get(id) === 'open') return [...path.slice(path.indexOf(id)), id];
    state.set(id, 'open');
    path.push(id);
    for (const next of edges.get(id) ?? []) {
      const found = visit(next);
      if (found) return found;
    }
    path.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const m of modules) {
    const found = visit(m.id);
    if (found) return found;
  }
  return undefined;
}

/** The refusal of a requirement cycle, naming it by module titles (and ids in `details.cycle`). */
function cycleError(code: 'VALIDATION_FAILED' | 'CONFLICT', cycle: string[], modules: ReadonlyArray<{ id: string; title: string }>) {
  const named = cycle.map((id) => `"${modules.find((m) => m.id === id)?.title ?? id}"`).join(' → ');
  const message = `module requirements form a cycle, so the course could never be completed: ${named}`;
  return code === 'VALIDATION_FAILED'
    ? new DomainError(code, `Invalid input: requires: ${message}`, { issues: [{ path: 'requires', message, code: 'custom' }], cycle })
    : new DomainError(code, `Cannot publish: ${message}`, { cycle });
}

/** The whole working copy as a tree: modules in order, each with its lessons in order. */
async function workingCopy(repo: CoursesRepository, row: CourseRow): Promise<CourseContent> {
  const [modules, lessons] = await Promise.all([repo.modulesOf(row.id), repo.lessonsOf(row.id)]);
  return {
    course: toCourse(row),
    version: 'draft',
    modules: modules.map((m) => ({ ...toModule(m), lessons: lessons.filter((l) => l.module_id === m.id).map((l) => toLesson(l, renderMarkdown)) })),
  };
}

/** A module or lesson the caller may edit (course role with `course:edit`, or admin); one they may not see is not found. */
async function editable<T extends { course_id: string }>(
  repo: CoursesRepository,
  row: T | undefined,
  what: 'module' | 'lesson',
  caller: Caller,
  admin: boolean,
): Promise<T> {
  const gone = () => new DomainError('NOT_FOUND', `No such ${what}`);
  if (!row) throw gone();
  const { perms } = await access(repo, row.course_id, caller, admin, true).catch((err: unknown) => {
    throw isNotFound(err, 'COURSE_NOT_FOUND') ? gone() : err;
  });
  must(perms, 'course:edit', 'change its content');
  return row;
}

/** Records a working-copy change: the course is marked changed and `content.updated` goes out. */
async function contentChanged(
  repo: CoursesRepository,
  emit: Emit,
  courseId: string,
  kind: 'course' | 'module' | 'lesson',
  id: string,
  change: 'created' | 'updated' | 'deleted' | 'moved',
  by: string,
) {
  await repo.touchContent(courseId);
  await emit(courseEvents.contentUpdated, { courseId, kind, id, change, by }, courseId);
}

/** A consumer of this service: its handler gets the courses repository, typed. */
const on = consumerOf<CoursesDB, CoursesRepository, undefined>();

const unique = (err: unknown) => (err as { code?: string }).code === '23505';

/** Courses, their content, the publishing workflow and course-scoped roles. */
export const coursesService = defineService({
  name: 'courses',
  contracts: { ...courses, ...coursesInternal, ...privacyExportContract('courses') },
  migrations: { '20261124000000_courses': m0, '20261124210000_members': m1, '20261124220000_content': m2, '20261124233000_catalog': m3 },
  repository: (db: Kysely<CoursesDB>) => new CoursesRepository(db),
  consumers: [
    on({
      name: 'user-deleted',
      event: userEvents.deleted,
      handle: async ({ payload: p, repo, emit }) => {
        await repo.eraseUser(p.userId);
        await emit(erasureReceipts.courses, { requestId: p.requestId, userId: p.userId, service: 'courses' }, p.userId);
      },
    }),
    // Enrolled learners are course members with the `learner` role; leaving the course removes it.
    on({
      name: 'enrollments',
      event: enrollmentEvents.changed,
      handle: async ({ payload: p, repo }) => {
        const current = await repo.roleIn(p.courseId, p.userId);
        if (p.status === 'active' || p.status === 'completed') {
          if (!current) await repo.putMember({ courseId: p.courseId, userId: p.userId, role: 'learner', by: p.userId });
        } else if (current === 'learner') {
          await repo.removeMember(p.courseId, p.userId);
        }
      },
    }),
  ],
  handlers: {
    async create({ input, caller, can, uow }) {
      const id = randomUUID();
      return uow(async ({ repo, emit }) => {
        await checkMeta(repo, id, input, { caller: caller, admin: can('courses:read-all') });
        const created = toCourse(await repo.create({ ...input, id, ownerId: caller.userId }));
        // Search indexes drafts for their staff from this (the working copy is read through searchDocument).
        await emit(courseEvents.contentUpdated, { courseId: id, kind: 'course', id, change: 'created', by: caller.userId }, id);
        return created;
      }).catch((err) => {
        throw unique(err) ? new DomainError('CONFLICT', 'The slug is taken') : err;
      });
    },
    async get({ input, caller, can, repo }) {
      const { row, perms } = await access(repo, input.courseId, caller, can('courses:read-all'));
      return viewOf(row, perms, perms.has('course:view-drafts') ? undefined : await repo.publishedCourse(row.id, row.version));
    },
    async list({ input, caller, can, repo }) {
      const admin = can('courses:read-all');
      const rows = await repo.list({
        limit: input.limit,
        after: input.cursor ? decodeCursor(input.cursor) : undefined,
        status: input.status,
        category: input.category,
        ownerId: input.mine ? caller.userId : undefined,
        viewer: caller.userId,
        all: admin,
      });
      const view = ({ member_role, published, ...row }: (typeof rows)[number]) =>
        viewOf(row, admin ? everything : coursePermissionsOf(member_role ?? undefined), published);
      return keysetPage(rows, input.limit, view, (c) => encodeCursor(c.createdAt, c.id));
    },
    async catalog({ input, repo }) {
      const after = input.cursor
        ? input.sort === 'title'
          ? decodeKeyCursor(input.cursor)
          : (({ createdAt, id }) => ({ key: createdAt.toISOString(), id }))(decodeCursor(input.cursor))
        : undefined;
      const rows = await repo.catalog({ ...input, after });
      const toItem = (r: (typeof rows)[number]) => ({ ...r.course, sortTitle: r.sort_title });
      const page = keysetPage(rows, input.limit, toItem, (c) =>
        input.sort === 'title' ? encodeKeyCursor(c.sortTitle, c.id) : encodeCursor(publishedAtOf(c), c.id),
      );
      return { items: page.items.map(({ sortTitle: _s, ...c }) => c), nextCursor: page.nextCursor };
    },
    async content({ input, caller, can, repo }) {
      const { row, perms, role } = await access(repo, input.courseId, caller, can('courses:read-all'));
      if (input.version === 'draft') {
        must(perms, 'course:view-drafts', 'see the working copy');
        return workingCopy(repo, row);
      }
      // Learners see the last published version, never the working copy.
      if (!learnerMaySee(row, role) && !(perms.has('course:view-drafts') && row.version >= 1)) throw notFound();
      const snap = (await repo.snapshot(row.id, row.version)) as Omit<CourseContent, 'course'> & { course: Course };
      if (!snap) throw notFound();
      // Staff see whether the working copy moved on; learners only the published version (nothing about edits).
      const course = perms.has('course:view-drafts')
        ? { ...snap.course, status: row.status, version: row.version, hasUnpublishedChanges: toCourse(row).hasUnpublishedChanges }
        : viewOf(row, perms, snap.course);
      return { ...snap, course };
    },
    async update({ input, caller, can, uow }) {
      const { courseId, ...patch } = input;
      return uow(async ({ repo, emit }) => {
        const { row, perms } = await access(repo, courseId, caller, can('courses:read-all'), true);
        must(perms, 'course:edit', 'change it');
        await checkMeta(repo, courseId, patch, { caller: caller, admin: can('courses:read-all') }, row);
        const updated = await repo.update(courseId, patch);
        await emit(courseEvents.contentUpdated, { courseId, kind: 'course', id: courseId, change: 'updated', by: caller.userId }, courseId);
        return toCourse(updated);
      }).catch((err) => {
        throw unique(err) ? new DomainError('CONFLICT', 'The slug is taken') : err;
      });
    },
    async createModule({ input, caller, can, uow }) {
      return uow(async ({ repo, emit }) => {
        const { perms } = await access(repo, input.courseId, caller, can('courses:read-all'), true);
        must(perms, 'course:edit', 'change its content');
        const siblings = await repo.modulesOf(input.courseId);
        for (const r of input.requires) if (!siblings.some((m) => m.id === r)) throw badInput('requires', `no module ${r} in this course`);
        // A new module comes last and nothing requires it yet: it cannot close a cycle.
        const m = await repo.insertModule({
          id: randomUUID(),
          courseId: input.courseId,
          title: input.title,
          summary: input.summary,
          requires: input.requires,
          position: generateKeyBetween(siblings.at(-1)?.position ?? null, null),
        });
        await contentChanged(repo, emit, input.courseId, 'module', m.id, 'created', caller.userId);
        await emit(courseEvents.moduleAdded, { courseId: input.courseId, moduleId: m.id, title: m.title, by: caller.userId }, input.courseId);
        return toModule(m);
      });
    },
    async updateModule({ input, caller, can, uow }) {
      return uow(async ({ repo, emit }) => {
        const m = await editable(repo, await repo.module(input.moduleId), 'module', caller, can('courses:read-all'));
        const requires = input.requires;
        if (requires) {
          const siblings = await repo.modulesOf(m.course_id);
          for (const r of requires) if (r === m.id || !siblings.some((s) => s.id === r)) throw badInput('requires', `not another module of this course: ${r}`);
          const course = await repo.byId(m.course_id);
          const after = siblings.map((s) => (s.id === m.id ? { ...s, requires } : s));
          const cycle = requirementCycle(after, course?.sequential ?? false);
          if (cycle) throw cycleError('VALIDATION_FAILED', cycle, after);
        }
        const updated = await repo.updateModule(m.id, { title: input.title, summary: input.summary, requires: input.requires });
        await contentChanged(repo, emit, m.course_id, 'module', m.id, 'updated', caller.userId);
        return toModule(updated);
      });
    },
    async deleteModule({ input, caller, can, uow }) {
      return uow(async ({ repo, emit }) => {
        const m = await editable(repo, await repo.module(input.moduleId), 'module', caller, can('courses:read-all'));
        await repo.deleteModule(m.id);
        await contentChanged(repo, emit, m.course_id, 'module', m.id, 'deleted', caller.userId);
        return { deleted: true as const };
      });
    },
    async createLesson({ input, caller, can, uow }) {
      return uow(async ({ repo, emit }) => {
        const m = await editable(repo, await repo.module(input.moduleId), 'module', caller, can('courses:read-all'));
        const position = generateKeyBetween(await repo.lastLessonPosition(m.id), null);
        const l = await repo.insertLesson({
          id: randomUUID(),
          moduleId: m.id,
          courseId: m.course_id,
          title: input.title,
          durationMinutes: input.durationMinutes,
          content: input.content,
          position,
        });
        await contentChanged(repo, emit, m.course_id, 'lesson', l.id, 'created', caller.userId);
        return toLesson(l, renderMarkdown);
      });
    },
    async updateLesson({ input, caller, can, uow }) {
      return uow(async ({ repo, emit }) => {
        const l = await editable(repo, await repo.lesson(input.lessonId), 'lesson', caller, can('courses:read-all'));
        const updated = await repo.updateLesson(l.id, { title: input.title, durationMinutes: input.durationMinutes, content: input.content });
        await contentChanged(repo, emit, l.course_id, 'lesson', l.id, 'updated', caller.userId);
        return toLesson(updated, renderMarkdown);
      });
    },
    async deleteLesson({ input, caller, can, uow }) {
      return uow(async ({ repo, emit }) => {
        const l = await editable(repo, await repo.lesson(input.lessonId), 'lesson', caller, can('courses:read-all'));
        await repo.deleteLesson(l.id);
        await contentChanged(repo, emit, l.course_id, 'lesson', l.id, 'deleted', caller.userId);
        return { deleted: true as const };
      });
    },
    async reorder({ input, caller, can, uow }) {
      if ((input.moduleId === undefined) === (input.lessonId === undefined)) throw badInput('moduleId', 'give either moduleId or lessonId');
      return uow(async ({ repo, emit }) => {
        const { perms } = await access(repo, input.courseId, caller, can('courses:read-all'), true);
        must(perms, 'course:edit', 'change its content');
        if (input.moduleId) {
          const m = await repo.module(input.moduleId);
          if (!m || m.course_id !== input.courseId) throw new DomainError('NOT_FOUND', 'No such module in this course');
          const after = input.after ? await repo.module(input.after) : undefined;
          if (input.after && (!after || after.course_id !== input.courseId || after.id === m.id)) throw new DomainError('NOT_FOUND', 'No such sibling module');
          const siblings = (await repo.modulesOf(input.courseId)).filter((x) => x.id !== m.id);
          const i = after ? siblings.findIndex((x) => x.id === after.id) : -1;
          const position = generateKeyBetween(siblings[i]?.position ?? null, siblings[i + 1]?.position ?? null);
          await repo.updateModule(m.id, { position });
          await contentChanged(repo, emit, input.courseId, 'module', m.id, 'moved', caller.userId);
          return { id: m.id, position };
        }
        if (input.lessonId === undefined) throw badInput('lessonId', 'give either moduleId or lessonId'); // checked above
        const l = await repo.lesson(input.lessonId);
        if (!l || l.course_id !== input.courseId) throw new DomainError('NOT_FOUND', 'No such lesson in this course');
        const target = input.toModuleId ?? l.module_id;
        const mod = await repo.module(target);
        if (!mod || mod.course_id !== input.courseId) throw new DomainError('NOT_FOUND', 'No such module in this course');
        const after = input.after ? await repo.lesson(input.after) : undefined;
        if (input.after && (!after || after.module_id !== target || after.id === l.id))
          throw new DomainError('NOT_FOUND', 'No such sibling lesson in that module');
        const next = await repo.nextLessonPosition(target, after?.position ?? null, l.id);
        const position = generateKeyBetween(after?.position ?? null, next);
        await repo.updateLesson(l.id, { position, moduleId: target });
        await contentChanged(repo, emit, input.courseId, 'lesson', l.id, 'moved', caller.userId);
        return { id: l.id, position };
      });
    },
    async submitForReview({ input, caller, can, uow }) {
      return uow(async ({ repo, emit }) => {
        const { row, perms } = await access(repo, input.courseId, caller, can('courses:read-all'), true);
        must(perms, 'course:edit', 'submit it');
        if (row.status !== 'draft') throw new DomainError('CONFLICT', `Only a draft can go into review; this course is ${row.status}`);
        const updated = await repo.setStatus(row.id, 'in_review');
        await emit(courseEvents.statusChanged, { courseId: row.id, status: 'in_review', by: caller.userId }, row.id);
        return toCourse(updated);
      });
    },
    async archive({ input, caller, can, uow }) {
      return uow(async ({ repo, emit }) => {
        const { row, perms } = await access(repo, input.courseId, caller, can('courses:read-all'), true);
        must(perms, 'course:publish', 'archive it');
        if (row.status !== 'published') throw new DomainError('CONFLICT', `Only a published course can be archived; this course is ${row.status}`);
        const updated = await repo.setStatus(row.id, 'archived');
        await repo.catalogRemove(row.id);
        await emit(courseEvents.statusChanged, { courseId: row.id, status: 'archived', by: caller.userId }, row.id);
        return toCourse(updated);
      });
    },
    async publish({ input, caller, can, uow }) {
      return uow(async ({ repo, emit }) => {
        const { row, perms } = await access(repo, input.courseId, caller, can('courses:read-all'), true);
        must(perms, 'course:publish', 'publish it');
        if (row.status === 'archived') throw new DomainError('CONFLICT', 'An archived course cannot be published');
        if (row.status === 'published' && !toCourse(row).hasUnpublishedChanges)
          throw new DomainError('COURSE_ALREADY_PUBLISHED', 'The course is already published, with no changes since');
        const tree = await workingCopy(repo, row);
        // Cycles written before they were refused, or made by reordering a sequential course.
        const cycle = requirementCycle(tree.modules, row.sequential);
        if (cycle) throw cycleError('CONFLICT', cycle, tree.modules);
        const published = await repo.publish(row.id, caller.userId, (r) => ({
          course: { ...toCourse(r), hasUnpublishedChanges: false },
          version: r.version,
          modules: tree.modules,
        }));
        const course = toCourse(published);
        await repo.catalogPut(course);
        await emit(
          courseEvents.published,
          {
            courseId: course.id,
            title: course.title,
            category: course.category,
            ownerId: course.ownerId,
            publishedAt: publishedAtOf(course),
            version: course.version,
          },
          course.id,
        );
        return course;
      });
    },
    async members({ input, caller, can, call, repo }) {
      const { perms } = await access(repo, input.courseId, caller, can('courses:read-all'));
      must(perms, 'course:members:read', 'see its members');
      const rows = await repo.members({
        courseId: input.courseId,
        role: input.role,
        limit: input.limit,
        after: input.cursor ? decodeCursor(input.cursor) : undefined,
      });
      const page = keysetPage(rows, input.limit, toMember, (m) => encodeCursor(m.addedAt, m.userId));
      // Names for everyone who may read the list; emails for who may manage its members (or users). One call per page.
      const ids = page.items.map((m) => m.userId);
      const people = new Map(ids.length ? (await call(usersInternal.summaries, { ids })).items.map((u) => [u.id, u]) : []);
      const withEmail = perms.has('course:members:manage') || can('users:manage');
      return {
        ...page,
        items: page.items.map((m) => ({
          ...m,
          displayName: people.get(m.userId)?.displayName ?? null,
          ...(withEmail && { email: people.get(m.userId)?.email ?? null }),
        })),
      };
    },
    async addMember({ input, caller, can, repo, call, uow }) {
      const { perms } = await access(repo, input.courseId, caller, can('courses:read-all'));
      mayManage(perms, input.role);
      mayManage(perms, await repo.roleIn(input.courseId, input.userId));
      const user = await call(usersInternal.byId, { id: input.userId });
      if (user.status === 'erased') throw new DomainError('USER_NOT_FOUND', 'No such user');
      return uow(async ({ repo: r, emit }) => {
        const m = await r.putMember({ courseId: input.courseId, userId: input.userId, role: input.role, by: caller.userId });
        await emit(courseEvents.memberChanged, { courseId: input.courseId, userId: input.userId, role: input.role, by: caller.userId }, input.courseId);
        return toMember(m);
      });
    },
    async removeMember({ input, caller, can, repo, uow }) {
      const { perms } = await access(repo, input.courseId, caller, can('courses:read-all'));
      const current = await repo.roleIn(input.courseId, input.userId);
      if (!current) {
        must(perms, 'course:members:manage', 'manage members');
        return { removed: false };
      }
      mayManage(perms, current);
      return uow(async ({ repo: r, emit }) => {
        const removed = await r.removeMember(input.courseId, input.userId);
        if (removed) await emit(courseEvents.memberChanged, { courseId: input.courseId, userId: input.userId, role: null, by: caller.userId }, input.courseId);
        return { removed };
      });
    },
    async enrollmentTerms({ input, repo }) {
      const r = await repo.byId(input.courseId);
      if (!r) throw notFound();
      return {
        courseId: r.id,
        title: r.title,
        status: r.status,
        visibility: r.visibility,
        version: r.version,
        capacity: r.capacity,
        enrollOpensAt: r.enroll_opens_at?.toISOString() ?? null,
        enrollClosesAt: r.enroll_closes_at?.toISOString() ?? null,
        prerequisites: r.prerequisites,
      };
    },
    async publishedOutline({ input, repo }) {
      const r = await repo.byId(input.courseId);
      if (!r || r.version < 1) throw notFound();
      const snap = (await repo.snapshot(r.id, r.version)) as CourseContent;
      return {
        courseId: r.id,
        title: snap.course.title,
        version: r.version,
        sequential: snap.course.sequential,
        modules: snap.modules.map((m) => ({
          id: m.id,
          title: m.title,
          requires: m.requires,
          lessons: m.lessons.map((l) => ({
            id: l.id,
            title: l.title,
            type: l.content.type,
            completeAtPercent: l.content.type === 'video' ? l.content.completeAtPercent : null,
            assessment:
              l.content.type === 'quiz'
                ? { kind: 'quiz' as const, assessmentId: l.content.quizId, passPercent: l.content.passPercent }
                : l.content.type === 'assignment'
                  ? { kind: 'assignment' as const, assessmentId: l.content.assignmentId, passPercent: l.content.passPercent }
                  : null,
          })),
        })),
      };
    },
    async searchDocument({ input, repo }) {
      const r = await repo.byId(input.courseId);
      if (!r) throw notFound();
      const c = toCourse(r);
      const draft = { title: c.title, summary: c.summary, language: c.language, category: c.category, tags: c.tags, updatedAt: c.updatedAt };
      const base = { courseId: c.id, status: c.status, visibility: c.visibility, ownerId: c.ownerId, draft };
      // Archived or never published: nothing published to index (archived courses leave the index).
      if (r.version < 1 || c.status === 'archived') return { ...base, published: null };
      const snap = (await repo.snapshot(r.id, r.version)) as Omit<CourseContent, 'course'> & { course: Course };
      const p = snap.course;
      // Like the catalogue: public only if public when published and still public now (the stricter of the two).
      const strictness = { public: 0, unlisted: 1, private: 2 } as const;
      const visibility = strictness[p.visibility] > strictness[c.visibility] ? p.visibility : c.visibility;
      return {
        ...base,
        visibility,
        published: {
          version: r.version,
          publishedAt: publishedAtOf(p),
          course: {
            title: p.title,
            summary: p.summary,
            description: p.description,
            category: p.category,
            tags: p.tags,
            language: p.language,
            level: p.level,
            durationMinutes: p.durationMinutes,
          },
          modules: snap.modules.map((m) => ({
            id: m.id,
            title: m.title,
            lessons: m.lessons.map((l) => ({
              id: l.id,
              title: l.title,
              type: l.content.type,
              markdown: l.content.type === 'markdown' ? l.content.body : null,
            })),
          })),
        },
      };
    },
    async lessonCourse({ input, repo }) {
      const l = await repo.lesson(input.lessonId);
      if (!l) throw new DomainError('NOT_FOUND', 'No such lesson');
      return { courseId: l.course_id };
    },
    async roleOf({ input, repo }) {
      const found = await repo.withRole(input.courseId, input.userId);
      if (!found) return { exists: false, role: null, visible: false };
      const visible = coursePermissionsOf(found.role).has('course:view-drafts') || learnerMaySee(found.row, found.role);
      return { exists: true, role: found.role ?? null, visible };
    },
    async privacyExport({ input, repo }) {
      return { data: await repo.exportUser(input.userId) };
    },
  },
});
