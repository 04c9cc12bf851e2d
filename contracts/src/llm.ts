import { z } from 'zod';
import { domain, query, mutation } from './core.js';

/** The tasks a model is routed by (LLM_MODELS); each has a model and an optional fallback. */
export const llmTask = z.enum(['chat', 'summarise', 'embed']);
/** Interactive work (a learner waits for it) is served before batch work, which is never starved. */
export const llmLane = z.enum(['interactive', 'batch']);

export const llmMessage = z.object({
  role: z.enum(['system', 'user', 'assistant']),
  content: z.string().max(32_000),
});
export type LlmMessage = z.infer<typeof llmMessage>;

export const llmCompletion = z.object({
  text: z.string(),
  /** The model that answered: the task's model, or its fallback when the first was missing. */
  model: z.string(),
  tokensIn: z.number().int().nonnegative(),
  tokensOut: z.number().int().nonnegative(),
  latencyMs: z.number().int().nonnegative(),
});

export const llmWorkerHealth = z.object({
  ollama: z.enum(['up', 'down']),
  breaker: z.enum(['closed', 'open', 'half-open']),
  models: z.array(z.string()),
  running: z.number().int(),
  waiting: z.object({ interactive: z.number().int(), batch: z.number().int() }),
});

/**
 * The worker beside Ollama: only the llm gateway service calls it (internal), at the concurrency the Ollama server
 * allows, interactive lane first. Errors: LLM_UNAVAILABLE (Ollama down or the breaker open: try again after
 * `details.retryAfterSeconds`), LLM_MODEL_MISSING (neither the model nor its fallback is on the server).
 */
export const llmWorkerInternal = domain('llm-worker', {
  chat: mutation({
    input: z.object({
      model: z.string().min(1),
      fallback: z.string().min(1).optional(),
      lane: llmLane,
      messages: z.array(llmMessage).min(1).max(200),
    }),
    output: llmCompletion,
    permission: 'internal',
    summary: 'Runs one chat on Ollama (queued by lane) and answers the whole text with its token counts',
    errors: ['LLM_UNAVAILABLE', 'LLM_MODEL_MISSING'],
  }),
  embed: mutation({
    input: z.object({
      model: z.string().min(1),
      fallback: z.string().min(1).optional(),
      lane: llmLane,
      texts: z.array(z.string().max(32_000)).min(1).max(256),
    }),
    output: z.object({ model: z.string(), vectors: z.array(z.array(z.number())), latencyMs: z.number().int().nonnegative() }),
    permission: 'internal',
    summary: 'Embeds texts with Ollama (L2-normalised vectors, in order)',
    errors: ['LLM_UNAVAILABLE', 'LLM_MODEL_MISSING'],
  }),
  status: query({
    input: z.object({}),
    output: llmWorkerHealth,
    permission: 'internal',
    summary: "The worker's view of its Ollama: reachable, breaker state, models present, work running and waiting",
  }),
});
