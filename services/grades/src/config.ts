import { declareEnv, env } from '@lms/runtime';

/** The gradebook's environment (parsed once when the node starts). */
export const gradesEnv = declareEnv('grades', {
  GRADES_IMPORT_MAX_ROWS: env.int().min(1).default(10_000).meta({ description: 'Most data rows a gradebook CSV import may hold' }),
});
