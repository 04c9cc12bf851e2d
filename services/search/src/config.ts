import { declareEnv, env } from '@lms/runtime';
import type { z } from 'zod';

/** What the search service reads from the environment, parsed once when the node starts. */
export const searchEnv = declareEnv('search', {
  SEARCH_POLL_MS: env.int().min(10).default(1000).meta({ description: 'How often courses still to (re)index are looked for (ms)' }),
});
export type SearchEnv = z.output<typeof searchEnv>;
