import { questionDraft } from '@lms/contracts';
import { bodyIssues } from './check.js';
import type { Imported } from './types.js';

/** An imported question checked like an authored one: the draft schema (defaults filled), then the body's own rules. Throws Error with a readable message. */
export function importedQuestion(raw: Record<string, unknown>, category: string | null): Imported['questions'][number] {
  const parsed = questionDraft.safeParse(raw);
  if (!parsed.success) throw new Error(parsed.error.issues.map((i) => `${i.path.join('.') || '(question)'}: ${i.message}`).join('; '));
  const issues = bodyIssues(parsed.data.body);
  if (issues.length > 0) throw new Error(issues.map((i) => `${i.path}: ${i.message}`).join('; '));
  return { draft: parsed.data, category };
}
