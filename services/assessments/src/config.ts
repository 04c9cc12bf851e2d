import { declareEnv, env } from '@lms/runtime';
import type { z } from 'zod';

/** The assessments service's environment (parsed once when the node starts). */
export const assessmentsEnv = declareEnv('assessments', {
  ASSESSMENTS_IMPORT_MAX_QUESTIONS: env
    .int()
    .min(1)
    .default(2000)
    .meta({ description: 'Most questions one GIFT/QTI import creates (the rest are reported as errors)' }),
});
export type AssessmentsConfig = z.output<typeof assessmentsEnv>;
