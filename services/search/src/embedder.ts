/**
 * Turns texts into vectors. The same shape as `@lms/embeddings`' Embedder (a CPU model in embedded mode, Ollama's
 * /api/embed in mesh mode); declared here so that the search service depends on the shape, not on a model. Without
 * one the service is lexical only and says so (`mode: 'lexical'` in every answer).
 */
export interface Embedder {
  /** Recorded with every vector: a vector is compared only with vectors of the same model. */
  readonly model: string;
  readonly dimensions: number;
  embed(texts: readonly string[]): Promise<Float32Array[]>;
}
