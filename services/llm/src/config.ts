import { declareEnv, env } from '@lms/runtime';

/** The llm service's environment: the AI switch, quotas and routes. */
export const llmEnv = declareEnv('llm', {
  LLM_ENABLED: env.bool().default(true).meta({ description: 'AI features on for this installation; `false`: every AI request answers AI_DISABLED' }),
  LLM_MODELS: env
    .string()
    .default('chat=llama3.2|qwen2.5:0.5b,summarise=llama3.2|qwen2.5:0.5b,embed=nomic-embed-text')
    .meta({ description: 'Model per task, with an optional fallback after `|`: `chat=…,summarise=…,embed=…`' }),
  LLM_REQUESTS_PER_MINUTE: env.int().min(1).default(20).meta({ description: 'AI requests one user may make per minute (then 429 LLM_RATE_LIMITED)' }),
  LLM_TOKENS_PER_DAY: env
    .int()
    .min(1)
    .default(200_000)
    .meta({ description: 'AI tokens (in + out) one user may use per UTC day (then 429 LLM_DAILY_TOKENS_EXHAUSTED)' }),
});
