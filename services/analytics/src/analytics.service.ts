import { analytics, courseEvents, enrollmentEvents } from '@lms/contracts';
import { consumer, defineService } from '@lms/runtime';
import type { Kysely, Transaction } from 'kysely';
import { AnalyticsRepository, type AnalyticsDB } from './analytics.repository.js';
import * as m0 from './migrations/20261124000000_analytics.js';
import * as m1 from './migrations/20261124230000_enrollments.js';

/** Read models built from the event log. */
export const analyticsService = defineService({
  name: 'analytics',
  contracts: analytics,
  migrations: { '20261124000000_analytics': m0, '20261124230000_enrollments': m1 },
  repository: (db: Kysely<AnalyticsDB>) => new AnalyticsRepository(db),
  consumers: [
    consumer({
      name: 'courses',
      event: courseEvents.published,
      // Runs in the transaction that records the event id: applied once, whatever the redeliveries.
      // A course counts once, at its first publication (later versions republish it).
      handle: async ({ payload: payload, event: _event, trx }) => {
        if (payload.version === 1) await new AnalyticsRepository(trx).countPublished(payload.category);
      },
      // A batch adds its counts per category: one statement per category instead of one per event.
      handleMany: async (events, { trx }) => {
        const counts = new Map<string, number>();
        for (const e of events) if (e.payload.version === 1) counts.set(e.payload.category, (counts.get(e.payload.category) ?? 0) + 1);
        const repo = new AnalyticsRepository(trx);
        for (const [category, n] of counts) await repo.countPublished(category, n);
      },
      reset: ({ trx }) => new AnalyticsRepository(trx).reset(),
    }),
    consumer({
      name: 'enrollments',
      event: enrollmentEvents.created,
      handle: async ({ payload: p, event: _event, trx }) => new AnalyticsRepository(trx).countEnrollment(p.courseId, p.promotedFromWaitlist),
      reset: ({ trx }) => new AnalyticsRepository(trx).resetEnrollments(),
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
