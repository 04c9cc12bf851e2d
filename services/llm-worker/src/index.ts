export { llmWorkerService } from './llm-worker.service.js';
export { llmWorkerEnv } from './config.js';
export { LlmWorker } from './worker.js';
