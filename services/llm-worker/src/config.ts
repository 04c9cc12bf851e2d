import { declareEnv, env } from '@lms/runtime';

/** The llm worker's environment: where its Ollama is and how hard it may be driven. */
export const llmWorkerEnv = declareEnv('llm-worker', {
  OLLAMA_URL: env
    .url()
    .optional()
    .meta({ description: 'Ollama server the llm worker drives (e.g. `http://ollama:11434`); embedded mode starts the worker only when it is set' }),
  LLM_WORKER_CONCURRENCY: env.int().min(1).default(2).meta({ description: 'Requests the llm worker sends Ollama at once (its OLLAMA_NUM_PARALLEL)' }),
  LLM_WORKER_MAX_WAITING: env
    .int()
    .min(1)
    .default(1000)
    .meta({ description: 'Requests the llm worker holds waiting; past it a request is refused (LLM_UNAVAILABLE)' }),
  LLM_WORKER_BATCH_EVERY: env.int().min(1).default(4).meta({ description: 'Interactive requests served in a row before one waiting batch request' }),
  LLM_WORKER_TIMEOUT_MS: env
    .int()
    .min(1)
    .default(120_000)
    .meta({ description: 'How long Ollama may take to start answering one request (a cold model loads first)' }),
  LLM_WORKER_BREAKER_FAILURES: env.int().min(1).default(3).meta({ description: 'Ollama failures in a row that open the llm worker circuit breaker' }),
  LLM_WORKER_BREAKER_OPEN_MS: env.int().min(1).default(5_000).meta({ description: 'How long the open circuit refuses before one trial request' }),
  LLM_KEEP_ALIVE: env.string().default('5m').meta({ description: 'How long Ollama keeps a model loaded after a request (its keep_alive)' }),
});
