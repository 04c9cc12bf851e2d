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

/**
 * Query vectors for searches: the same query again (a popular search, the next page) comes from a small LRU cache,
 * and the queries that arrive while the model is busy are embedded together, as one batch, when it is free. The CPU
 * model embeds ~60 queries/s one by one on this machine and ~250/s in batches of 32: without batching, 80 searches/s
 * queued behind each other without end.
 */
export class QueryEmbeddings {
  private readonly cache = new Map<string, Float32Array>();
  private waiting = new Map<string, Array<{ resolve: (v: Float32Array) => void; reject: (e: unknown) => void }>>();
  private running = false;

  constructor(
    readonly embedder: Embedder,
    private readonly cacheSize = 2000,
  ) {}

  embed(query: string): Promise<Float32Array> {
    const cached = this.cache.get(query);
    if (cached) {
      this.cache.delete(query);
      this.cache.set(query, cached);
      return Promise.resolve(cached);
    }
    return new Promise((resolve, reject) => {
      const list = this.waiting.get(query);
      if (list) list.push({ resolve, reject });
      else this.waiting.set(query, [{ resolve, reject }]);
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.waiting.size) {
        const batch = this.waiting;
        this.waiting = new Map();
        const texts = [...batch.keys()];
        try {
          const vectors = await this.embedder.embed(texts);
          texts.forEach((text, i) => {
            const v = vectors[i];
            if (!v) throw new Error(`${this.embedder.model} returned ${vectors.length} vectors for ${texts.length} queries`);
            this.remember(text, v);
            for (const w of batch.get(text) ?? []) w.resolve(v);
          });
        } catch (err) {
          for (const list of batch.values()) for (const w of list) w.reject(err);
        }
      }
    } finally {
      this.running = false;
    }
  }

  private remember(text: string, v: Float32Array): void {
    this.cache.set(text, v);
    if (this.cache.size > this.cacheSize) {
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
  }
}
