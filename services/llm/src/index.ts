export { llmService } from './llm.service.js';
export { llmEnv } from './config.js';
