import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{contracts,clients,services/*,tools}/test/**/*.test.ts'],
    // Integration tests share the local PostgreSQL, NATS and Redis; on 2 cores one file at a time is fastest.
    fileParallelism: false,
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    env: { NODE_ENV: 'test', LOG_LEVEL: 'warn' },
  },
});
