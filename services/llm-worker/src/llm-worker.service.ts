import { llmWorkerInternal } from '@lms/contracts';
import { defineService } from '@lms/runtime';
import { llmWorkerEnv } from './config.js';
import { LlmWorker } from './worker.js';

/**
 * The worker beside Ollama (a GPU node: `lms node --services llm-worker` with OLLAMA_URL). It keeps no tables: the llm
 * service owns quotas and usage; this one only runs requests, by lane, at the concurrency Ollama allows.
 */
export const llmWorkerService = defineService({
  name: 'llm-worker',
  schema: 'llm_worker',
  env: llmWorkerEnv,
  contracts: llmWorkerInternal,
  deps: (s) =>
    new LlmWorker(
      {
        ollamaUrl: s.config.OLLAMA_URL,
        concurrency: s.config.LLM_WORKER_CONCURRENCY,
        maxWaiting: s.config.LLM_WORKER_MAX_WAITING,
        batchEvery: s.config.LLM_WORKER_BATCH_EVERY,
        timeoutMs: s.config.LLM_WORKER_TIMEOUT_MS,
        breakerFailures: s.config.LLM_WORKER_BREAKER_FAILURES,
        breakerOpenMs: s.config.LLM_WORKER_BREAKER_OPEN_MS,
        keepAlive: s.config.LLM_KEEP_ALIVE,
      },
      s.logger,
    ),
  started: async (worker) => worker.start(),
  stopped: async (worker) => worker.stop(),
  handlers: {
    async chat({ input, deps }) {
      return deps.chat(input.lane, input.model, input.fallback, input.messages);
    },
    async embed({ input, deps }) {
      return deps.embed(input.lane, input.model, input.fallback, input.texts);
    },
    async status({ deps }) {
      const { up, models } = await deps.models();
      return { ollama: up ? ('up' as const) : ('down' as const), breaker: deps.breaker.state, models, running: deps.running, waiting: deps.waiting };
    },
  },
});
