import { randomUUID } from 'node:crypto';
import {
  courseEvents,
  coursePermissionsOf,
  courseRolePermissions,
  courses,
  DomainError,
  privacyEvents,
  privacyExportContract,
  userEvents,
  usersInternal,
  type CoursePermission,
  type CourseRole,
} from '@lms/contracts';
import { addToOutbox, consumer, decodeCursor, defineService, encodeCursor, keysetPage, type Caller } from '@lms/runtime';
import type { Kysely, Transaction } from 'kysely';
import { CoursesRepository, toCourse, type CoursesDB } from './courses.repository.js';
import * as m0 from './migrations/20261124000000_courses.js';
import * as m1 from './migrations/20261124210000_members.js';

const notFound = () => new DomainError('COURSE_NOT_FOUND', 'No such course');
const everything = new Set(Object.values(courseRolePermissions).flat()) as Set<CoursePermission>;

/**
 * The caller's standing in one course: its row, their course role and what it lets them do.
 * Admins (courses:read-all) may do everything. A draft the caller may not see does not exist for them.
 */
async function access(repo: CoursesRepository, courseId: string, caller: Caller, admin: boolean, forUpdate = false) {
  const row = await repo.byId(courseId, forUpdate);
  if (!row) throw notFound();
  const role = await repo.roleIn(courseId, caller.userId);
  const perms = admin ? everything : coursePermissionsOf(role);
  if (row.status !== 'published' && !perms.has('course:view-drafts')) throw notFound();
  return { row, role, perms };
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

/** Courses, their publishing workflow and their course-scoped roles. */
export const coursesService = defineService({
  name: 'courses',
  contracts: { ...courses, ...privacyExportContract('courses') },
  migrations: { '20261124000000_courses': m0, '20261124210000_members': m1 },
  repository: (db: Kysely<CoursesDB>) => new CoursesRepository(db),
  consumers: [
    consumer({
      name: 'user-deleted',
      event: userEvents.deleted,
      handle: async (p, _env, trx: Transaction<CoursesDB>) => {
        await new CoursesRepository(trx).eraseUser(p.userId);
        await addToOutbox(trx, privacyEvents.erased, { requestId: p.requestId, userId: p.userId, service: 'courses' }, { key: p.userId });
      },
    }),
  ],
  handlers: {
    async create({ input, caller, tx }) {
      return tx(async (trx) => toCourse(await new CoursesRepository(trx).create({ id: randomUUID(), ...input, ownerId: caller!.userId })));
    },
    async get({ input, caller, can, repo }) {
      return toCourse((await access(repo, input.courseId, caller!, can('courses:read-all'))).row);
    },
    async list({ input, caller, can, repo }) {
      const rows = await repo.list({
        limit: input.limit,
        after: input.cursor ? decodeCursor(input.cursor) : undefined,
        status: input.status,
        category: input.category,
        ownerId: input.mine ? caller!.userId : undefined,
        visibleTo: can('courses:read-all') ? undefined : caller!.userId,
      });
      return keysetPage(rows, input.limit, toCourse, (c) => encodeCursor(c.createdAt, c.id));
    },
    async update({ input, caller, can, tx }) {
      const { courseId, ...patch } = input;
      return tx(async (trx) => {
        const repo = new CoursesRepository(trx);
        const { perms } = await access(repo, courseId, caller!, can('courses:read-all'), true);
        must(perms, 'course:edit', 'change it');
        return toCourse(await repo.update(courseId, patch));
      });
    },
    async publish({ input, caller, can, tx }) {
      return tx(async (trx, emit) => {
        const repo = new CoursesRepository(trx);
        const { row, perms } = await access(repo, input.courseId, caller!, can('courses:read-all'), true);
        must(perms, 'course:publish', 'publish it');
        if (row.status === 'published') throw new DomainError('COURSE_ALREADY_PUBLISHED', 'The course is already published');
        const course = toCourse(await repo.publish(input.courseId));
        await emit(
          courseEvents.published,
          { courseId: course.id, title: course.title, category: course.category, ownerId: course.ownerId, publishedAt: course.publishedAt! },
          course.id,
        );
        return course;
      });
    },
    async members({ input, caller, can, repo }) {
      const { perms } = await access(repo, input.courseId, caller!, can('courses:read-all'));
      must(perms, 'course:members:read', 'see its members');
      const rows = await repo.members({ courseId: input.courseId, role: input.role, limit: input.limit, after: input.cursor ? decodeCursor(input.cursor) : undefined });
      return keysetPage(rows, input.limit, toMember, (m) => encodeCursor(m.addedAt, m.userId));
    },
    async addMember({ input, caller, can, repo, call, tx }) {
      const { perms } = await access(repo, input.courseId, caller!, can('courses:read-all'));
      mayManage(perms, input.role);
      mayManage(perms, await repo.roleIn(input.courseId, input.userId));
      const user = await call(usersInternal.byId, { id: input.userId });
      if (user.status === 'erased') throw new DomainError('USER_NOT_FOUND', 'No such user');
      return tx(async (trx, emit) => {
        const m = await new CoursesRepository(trx).putMember({ courseId: input.courseId, userId: input.userId, role: input.role, by: caller!.userId });
        await emit(courseEvents.memberChanged, { courseId: input.courseId, userId: input.userId, role: input.role, by: caller!.userId }, input.courseId);
        return toMember(m);
      });
    },
    async removeMember({ input, caller, can, repo, tx }) {
      const { perms } = await access(repo, input.courseId, caller!, can('courses:read-all'));
      const current = await repo.roleIn(input.courseId, input.userId);
      if (!current) {
        must(perms, 'course:members:manage', 'manage members');
        return { removed: false };
      }
      mayManage(perms, current);
      return tx(async (trx, emit) => {
        const removed = await new CoursesRepository(trx).removeMember(input.courseId, input.userId);
        if (removed) await emit(courseEvents.memberChanged, { courseId: input.courseId, userId: input.userId, role: null, by: caller!.userId }, input.courseId);
        return { removed };
      });
    },
    async privacyExport({ input, repo }) {
      return { data: await repo.exportUser(input.userId) };
    },
  },
});
