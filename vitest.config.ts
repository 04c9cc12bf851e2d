import { defineConfig } from 'vitest/config';

/**
 * Two tiers, run as two projects (`pnpm test` runs them one after the other and prints each one's wall time,
 * tools/test-tiers.ts):
 * - `unit`: every `*.test.ts` that is not `*.int.test.ts` — no servers, no database; the whole tier stays under 30 s.
 * - `int`: every `*.int.test.ts` (services' own and tools/test's end-to-end and mesh tests), on the local
 *   PostgreSQL, NATS and Redis.
 * `vitest run --project unit` (or `int`) runs one tier; `vitest run <file>` still runs a single file.
 */
const shared = {
  // Integration tests share the local PostgreSQL, NATS and Redis; on 2 cores one file at a time is fastest.
  fileParallelism: false,
  pool: 'forks' as const,
  testTimeout: 30_000,
  hookTimeout: 60_000,
  // No load balancer waits on a test's gateway: it closes at once on stop (tools/test/rolling-restart.int.test.ts sets its own).
  // Search nodes started by tests are lexical unless a test passes its embedder (the real CPU model costs a second to
  // load and seconds per course to embed, in every LMS a test starts): services/search/test/semantic.int.test.ts runs it.
  env: { NODE_ENV: 'test', LOG_LEVEL: 'warn', SHUTDOWN_GRACE_MS: '0', SEARCH_EMBEDDER: 'off' },
};

export default defineConfig({
  test: {
    ...shared,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['{contracts,clients,packages/*,services/*,tools}/test/**/*.test.ts'],
          exclude: ['**/*.int.test.ts', '**/node_modules/**'],
        },
      },
      {
        extends: true,
        test: {
          name: 'int',
          include: ['{contracts,clients,packages/*,services/*,tools}/test/**/*.int.test.ts'],
        },
      },
    ],
  },
});
