export const LLM_TASKS = ['chat', 'summarise', 'embed'] as const;
export type LlmTask = (typeof LLM_TASKS)[number];

export interface Route {
  model: string;
  fallback: string | undefined;
}

/**
 * Parses `LLM_MODELS`-style routes: `chat=llama3.2|qwen2.5:0.5b,summarise=llama3.2,embed=nomic-embed-text` (model, then
 * an optional fallback after `|`). Every task must have a model; an unknown task is refused so a typo is found at start.
 */
export function parseRoutes(spec: string): Record<LlmTask, Route> {
  const out: Partial<Record<LlmTask, Route>> = {};
  for (const part of spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [task, models] = part.split('=').map((s) => s.trim());
    if (!task || !models || !(LLM_TASKS as readonly string[]).includes(task))
      throw new Error(`LLM routes: "${part}" is not <task>=<model>[|<fallback>] with a task among ${LLM_TASKS.join(', ')}`);
    const [model, fallback] = models.split('|').map((s) => s.trim());
    if (!model) throw new Error(`LLM routes: "${part}" names no model`);
    out[task as LlmTask] = { model, fallback: fallback || undefined };
  }
  for (const t of LLM_TASKS) if (!out[t]) throw new Error(`LLM routes: no model for task "${t}"`);
  return out as Record<LlmTask, Route>;
}
