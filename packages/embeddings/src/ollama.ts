import { type Embedder } from './types.ts';
import { l2Normalise } from './vectors.ts';

export interface OllamaOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:11434` (the llm service's, in mesh mode); a trailing / is ignored. */
  baseUrl: string;
  /** The embedding model as the server names it, e.g. `nomic-embed-text`. */
  model: string;
  /** The vectors' length when known ahead; otherwise learnt from the first answer (`dimensions` is 0 until then). */
  dimensions?: number;
  /** How long one request may take, connection included (default 30 s: a model's first call loads it). */
  timeoutMs?: number;
  /** Texts per request (default 64). */
  batchSize?: number;
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
}

/** A failed call to the embedding server: which server and model, what went wrong, and the HTTP status if one came. */
export class EmbeddingServerError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'EmbeddingServerError';
  }
}

/**
 * Embeddings from a server speaking Ollama's protocol: `POST {baseUrl}/api/embed` with `{ model, input: [texts] }`
 * answers `{ embeddings: [[…], …] }`, one vector per text in order. Vectors are L2-normalised here (Ollama already
 * normalises, other servers speaking the protocol may not).
 */
export class OllamaEmbedder implements Embedder {
  readonly model: string;
  private dims: number;
  private readonly url: string;
  private readonly timeoutMs: number;
  private readonly batchSize: number;
  private readonly fetchImpl: typeof fetch;

  constructor(options: OllamaOptions) {
    if (!options.model) throw new Error('OllamaEmbedder: no model named');
    let base: URL;
    try {
      base = new URL(options.baseUrl);
    } catch {
      throw new Error(`OllamaEmbedder: ${JSON.stringify(options.baseUrl)} is not a URL`);
    }
    this.url = `${base.href.replace(/\/+$/, '')}/api/embed`;
    this.model = options.model;
    this.dims = options.dimensions ?? 0;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.batchSize = Math.max(1, options.batchSize ?? 64);
    this.fetchImpl = options.fetch ?? fetch;
  }

  /** The vectors' length: configured, or learnt from the first answer (0 before it). */
  get dimensions(): number {
    return this.dims;
  }

  /** Asks the server once (one short text) so that `dimensions` is known, e.g. before an index's column is created. */
  async discover(): Promise<number> {
    if (this.dims === 0) await this.embed(['dimensions']);
    return this.dims;
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (let i = 0; i < texts.length; i += this.batchSize) out.push(...(await this.request(texts.slice(i, i + this.batchSize))));
    return out;
  }

  private async request(input: string[]): Promise<Float32Array[]> {
    const what = `embedding server ${this.url} (model ${this.model})`;
    let res: Response;
    try {
      res = await this.fetchImpl(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ model: this.model, input }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      const reason = timedOut ? `no answer within ${this.timeoutMs} ms` : `unreachable: ${describe(err)}`;
      throw new EmbeddingServerError(`${what}: ${reason}`, undefined, { cause: err });
    }
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      throw new EmbeddingServerError(`${what}: the answer broke off (HTTP ${res.status}): ${describe(err)}`, res.status, { cause: err });
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (!res.ok) {
      const detail = isRecord(body) && typeof body.error === 'string' ? body.error : text.slice(0, 200);
      throw new EmbeddingServerError(`${what}: HTTP ${res.status}${detail ? `: ${detail}` : ''}`, res.status);
    }
    const rows = isRecord(body) ? body.embeddings : undefined;
    if (!Array.isArray(rows)) throw new EmbeddingServerError(`${what}: the answer has no embeddings array: ${text.slice(0, 200)}`, res.status);
    if (rows.length !== input.length) throw new EmbeddingServerError(`${what}: ${rows.length} vectors for ${input.length} texts`, res.status);
    return rows.map((row: unknown, i) => {
      if (!Array.isArray(row) || row.length === 0 || !row.every((x) => typeof x === 'number' && Number.isFinite(x))) {
        throw new EmbeddingServerError(`${what}: vector ${i} is not a list of numbers`, res.status);
      }
      if (this.dims === 0) this.dims = row.length;
      else if (row.length !== this.dims) throw new EmbeddingServerError(`${what}: a vector of ${row.length} dimensions, expected ${this.dims}`, res.status);
      return l2Normalise(Float32Array.from(row as number[]));
    });
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // fetch's own message is "fetch failed"; the reason (ECONNREFUSED, a DNS failure) is in its cause.
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${err.message}${cause}`;
}
