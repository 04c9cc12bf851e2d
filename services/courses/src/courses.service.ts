import { randomUUID } from 'node:crypto';
import { courseEvents, courses, DomainError } from '@lms/contracts';
import { decodeCursor, defineService, encodeCursor, keysetPage, type Caller } from '@lms/runtime';
import type { Kysely } from 'kysely';
import { CoursesRepository, toCourse, type CoursesDB } from './courses.repository.js';

import * as m0 from './migrations/20261124000000_courses.js';

const notFound = () => new DomainError('COURSE_NOT_FOUND', 'No such course');

function canSee(c: { status: string; owner_id: string }, caller: Caller, readAll: boolean) {
  return c.status === 'published' || c.owner_id === caller.userId || readAll;
}

/** Courses and their publishing workflow. */
export const coursesService = defineService({
  name: 'courses',
  contracts: courses,
  migrations: { '20261124000000_courses': m0 },
  repository: (db: Kysely<CoursesDB>) => new CoursesRepository(db),
  handlers: {
    async create({ input, caller, repo }) {
      return toCourse(await repo.create({ id: randomUUID(), ...input, ownerId: caller!.userId }));
    },
    async get({ input, caller, can, repo }) {
      const row = await repo.byId(input.courseId);
      // A draft the caller may not see does not exist for them.
      if (!row || !canSee(row, caller!, can('courses:read-all'))) throw notFound();
      return toCourse(row);
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
        const row = await repo.byId(courseId, true);
        if (!row || !canSee(row, caller!, can('courses:read-all'))) throw notFound();
        if (row.owner_id !== caller!.userId && !can('courses:read-all')) throw new DomainError('FORBIDDEN', 'Only the owner or an admin can change this course');
        return toCourse(await repo.update(courseId, patch));
      });
    },
    async publish({ input, caller, can, tx }) {
      return tx(async (trx, emit) => {
        const repo = new CoursesRepository(trx);
        const row = await repo.byId(input.courseId, true);
        if (!row || !canSee(row, caller!, can('courses:read-all'))) throw notFound();
        if (row.owner_id !== caller!.userId && !can('courses:read-all')) throw new DomainError('FORBIDDEN', 'Only the owner or an admin can publish this course');
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
  },
});
