import { analytics, assessmentEvents, courseEvents, enrollmentEvents, type EventContract } from '@lms/contracts';
import { consumer, defineService, type ConsumerDefinition } from '@lms/runtime';
import type { Kysely } from 'kysely';
import { AnalyticsRepository, type AnalyticsDB } from './analytics.repository.js';
import * as m0 from './migrations/20261124000000_analytics.js';
import * as m1 from './migrations/20261124230000_enrollments.js';
import * as m2 from './migrations/20261201100000_assessments.js';

/** A consumer of this service: its handlers get the analytics repository, typed. */
const on = <E extends EventContract>(def: ConsumerDefinition<E, AnalyticsDB, AnalyticsRepository, undefined>) => consumer(def);

/** Read models built from the event log. */
export const analyticsService = defineService({
  name: 'analytics',
  contracts: analytics,
  migrations: { '20261124000000_analytics': m0, '20261124230000_enrollments': m1, '20261201100000_assessments': m2 },
  repository: (db: Kysely<AnalyticsDB>) => new AnalyticsRepository(db),
  consumers: [
    on({
      name: 'courses',
      event: courseEvents.published,
      // Runs in the transaction that records the event id: applied once, whatever the redeliveries.
      // A course counts once, at its first publication (later versions republish it).
      handle: async ({ payload, repo }) => {
        if (payload.version === 1) await repo.countPublished(payload.category);
      },
      // A batch adds its counts per category: one statement per category instead of one per event.
      handleMany: async (events, { repo }) => {
        const counts = new Map<string, number>();
        for (const e of events) if (e.payload.version === 1) counts.set(e.payload.category, (counts.get(e.payload.category) ?? 0) + 1);
        for (const [category, n] of counts) await repo.countPublished(category, n);
      },
      reset: ({ repo }) => repo.reset(),
    }),
    on({
      name: 'enrollments',
      event: enrollmentEvents.created,
      handle: async ({ payload: p, repo }) => repo.countEnrollment(p.courseId, p.promotedFromWaitlist),
      reset: ({ repo }) => repo.resetEnrollments(),
    }),
    // Assessment activity per course (assessments_by_course): one count per consumer, each reset on its own.
    on({
      name: 'assessments-submitted',
      event: assessmentEvents.submitted,
      handle: async ({ payload: p, repo }) => repo.countAssessment(p.courseId, 'submitted'),
      reset: ({ repo }) => repo.resetAssessments('submitted'),
    }),
    on({
      name: 'assessments-graded',
      event: assessmentEvents.graded,
      handle: async ({ payload: p, repo }) => repo.countAssessment(p.courseId, 'graded'),
      reset: ({ repo }) => repo.resetAssessments('graded'),
    }),
    on({
      name: 'courses-completed',
      event: enrollmentEvents.courseCompleted,
      handle: async ({ payload: p, repo }) => repo.countAssessment(p.courseId, 'completed'),
      reset: ({ repo }) => repo.resetAssessments('completed'),
    }),
  ],
  handlers: {
    async enrollmentsByCourse({ input, repo }) {
      const rows = await repo.enrollmentsByCourse(input.limit);
      return { courses: rows.map((r) => ({ courseId: r.course_id, enrolled: r.enrolled, fromWaitlist: r.from_waitlist })) };
    },
    async publishedByCategory({ repo }) {
      const rows = await repo.publishedByCategory();
      return { categories: rows, total: rows.reduce((n, r) => n + r.published, 0) };
    },
  },
});
