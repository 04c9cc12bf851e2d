import { declareEnv, env } from '@lms/runtime';
import type { z } from 'zod';

/** The attempts service's environment (parsed once when the node starts). */
export const attemptsEnv = declareEnv('attempts', {
  ATTEMPTS_DEADLINE_POLL_MS: env
    .int()
    .min(50)
    .default(500)
    .meta({ description: 'How often an attempts node looks for attempts past their deadline to submit (besides a timer per deadline)' }),
  ATTEMPTS_QUIZ_CACHE_MS: env
    .int()
    .min(0)
    .default(5000)
    .meta({ description: 'How long a quiz definition (from assessments) is cached per node; a published change shows up within this' }),
});
export type AttemptsConfig = z.output<typeof attemptsEnv>;
