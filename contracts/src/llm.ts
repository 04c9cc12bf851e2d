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

export const llmUsageRow = z.object({
  userId: z.uuid(),
  courseId: z.uuid().nullable(),
  model: z.string(),
  task: llmTask,
  requests: z.number().int(),
  tokensIn: z.number().int(),
  tokensOut: z.number().int(),
  /** Mean latency of the requests in the row, in ms. */
  latencyMs: z.number().int(),
});

/**
 * The AI gateway: quotas per user (requests per minute, tokens per day; 429 with Retry-After), routing by task to a
 * configured model with a fallback, usage recorded per user, course and model.
 */
export const llm = domain('llm', {
  complete: mutation({
    input: z.object({
      task: z.enum(['chat', 'summarise']),
      /** The course the request is about: usage is counted against it, and the caller must be in it. */
      courseId: z.uuid().optional(),
      messages: z.array(llmMessage).min(1).max(200),
    }),
    output: llmCompletion,
    permission: 'authenticated',
    rest: { method: 'POST', path: '/llm/complete' },
    summary: 'Answers a chat or summary request with the model routed for its task (whole text; not streamed)',
    errors: ['AI_DISABLED', 'LLM_RATE_LIMITED', 'LLM_DAILY_TOKENS_EXHAUSTED', 'LLM_UNAVAILABLE', 'LLM_MODEL_MISSING', 'NOT_FOUND'],
  }),
  usage: query({
    input: z.object({ days: z.number().int().min(1).max(366).default(30) }),
    output: z.object({ rows: z.array(llmUsageRow) }),
    permission: 'users:manage',
    rest: { method: 'GET', path: '/llm/usage' },
    summary: 'AI usage per user, course, model and task over the last `days` days (admins)',
  }),
});
