/**
 * Turns texts into vectors for semantic search. `model` names the model (and its version) so that an index can record
 * which model made each vector and re-embed when it changes; `dimensions` is the length of every vector it returns
 * (0 until known, for a remote model whose size is learnt from its first answer). `embed` returns one L2-normalised
 * Float32Array per text, in the same order.
 */
export interface Embedder {
  readonly model: string;
  readonly dimensions: number;
  embed(texts: readonly string[]): Promise<Float32Array[]>;
}
