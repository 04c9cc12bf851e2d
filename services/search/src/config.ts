import { declareEnv, env } from '@lms/runtime';
import { z } from 'zod';

/** What the search service reads from the environment, parsed once when the node starts. */
export const searchEnv = declareEnv('search', {
  SEARCH_POLL_MS: env.int().min(10).default(1000).meta({ description: 'How often courses still to (re)index are looked for (ms)' }),
  SEARCH_EMBEDDER: z.enum(['local', 'ollama', 'off']).default('local').meta({
    description:
      'Embeddings for semantic and hybrid search: `local` (the Universal Sentence Encoder lite on this CPU, from an npm package), `ollama` (a server speaking Ollama’s /api/embed), `off` (lexical only)',
  }),
  SEARCH_OLLAMA_URL: z.url().optional().meta({ description: 'Base URL of the Ollama-protocol server, with SEARCH_EMBEDDER=ollama' }),
  SEARCH_EMBED_MODEL: z.string().min(1).default('nomic-embed-text').meta({ description: 'Embedding model asked of that server' }),
});
export type SearchEnv = z.output<typeof searchEnv>;
