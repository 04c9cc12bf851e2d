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
