import { declareEnv, env } from '@lms/runtime';
import type { z } from 'zod';

/** The enrollments service's environment (parsed once when the node starts). */
export const enrollmentsEnv = declareEnv('enrollments', {
  ENROLLMENT_SAGA_POLL_MS: env
    .int()
    .min(1)
    .default(1000)
    .meta({ description: 'How often an enrollments node looks for due enrollment sagas (resumed after a crash, retries)' }),
  ENROLLMENT_SAGA_MAX_ATTEMPTS: env
    .int()
    .min(1)
    .default(5)
    .meta({ description: 'Tries of an enrollment saga step (with backoff) before the saga fails and gives its seat back' }),
  ENROLLMENT_PAYMENT_TIMEOUT_MS: env
    .int()
    .min(1)
    .default(10_000)
    .meta({ description: 'How long the payment step waits for the payment provider; a timeout is a failed try' }),
});
export type EnrollmentsConfig = z.output<typeof enrollmentsEnv>;
