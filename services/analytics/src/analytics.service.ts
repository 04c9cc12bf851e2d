import { analytics, courseEvents } from '@lms/contracts';
import { consumer, defineService } from '@lms/runtime';
import type { Kysely, Transaction } from 'kysely';
import { AnalyticsRepository, type AnalyticsDB } from './analytics.repository.js';
import * as m0 from './migrations/20261124000000_analytics.js';

/** Read models built from the event log. */
export const analyticsService = defineService({
  name: 'analytics',
  contracts: analytics,
  migrations: { '20261124000000_analytics': m0 },
  repository: (db: Kysely<AnalyticsDB>) => new AnalyticsRepository(db),
  consumers: [
    consumer({
      name: 'courses',
      event: courseEvents.published,
      // Runs in the transaction that records the event id: applied once, whatever the redeliveries.
      handle: async (payload, _event, trx: Transaction<AnalyticsDB>) => new AnalyticsRepository(trx).countPublished(payload.category),
      // A batch adds its counts per category: one statement per category instead of one per event.
      handleMany: async (events, trx: Transaction<AnalyticsDB>) => {
        const counts = new Map<string, number>();
        for (const e of events) counts.set(e.payload.category, (counts.get(e.payload.category) ?? 0) + 1);
        const repo = new AnalyticsRepository(trx);
        for (const [category, n] of counts) await repo.countPublished(category, n);
      },
      reset: (trx: Transaction<AnalyticsDB>) => new AnalyticsRepository(trx).reset(),
    }),
  ],
  handlers: {
    async publishedByCategory({ repo }) {
      const rows = await repo.publishedByCategory();
      return { categories: rows, total: rows.reduce((n, r) => n + r.published, 0) };
    },
  },
});
