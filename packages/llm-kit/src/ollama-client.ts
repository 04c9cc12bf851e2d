import { OllamaEmbedder } from '@lms/embeddings';

/** One message of a chat, as Ollama's `/api/chat` takes it. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** What a finished chat reports: Ollama's own token counts (`prompt_eval_count`, `eval_count`). */
export interface ChatDone {
  tokensIn: number;
  tokensOut: number;
}

/** A failed call to Ollama. `unreachable` (no server, no answer) is what trips the worker's circuit breaker. */
export class OllamaError extends Error {
  constructor(
    message: string,
    readonly kind: 'unreachable' | 'model-missing' | 'server' | 'aborted',
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'OllamaError';
  }
}

export interface OllamaClientOptions {
  /** e.g. `http://127.0.0.1:11434`; a trailing / is ignored. */
  baseUrl: string;
  /** How long Ollama may take to start answering (a cold model loads first). */
  timeoutMs?: number;
  /** How long Ollama may keep a model loaded after a request (its `keep_alive`). */
  keepAlive?: string;
  fetch?: typeof fetch;
}

/**
 * The few calls of Ollama's HTTP API the worker needs, over fetch: `/api/chat` streaming NDJSON, `/api/embed` (through
 * @lms/embeddings' OllamaEmbedder, so vectors are validated and normalised the same way everywhere), `/api/tags`.
 * The `ollama` npm client would do the same; fetch keeps the AbortSignal under our control (a client that disconnects
 * must stop the generation, which in Ollama means closing the response).
 */
export class OllamaClient {
  private readonly base: string;
  private readonly timeoutMs: number;
  private readonly keepAlive: string | undefined;
  private readonly fetchImpl: typeof fetch;

  constructor(opts: OllamaClientOptions) {
    this.base = new URL(opts.baseUrl).href.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.keepAlive = opts.keepAlive;
    this.fetchImpl = opts.fetch ?? fetch;
  }

  /** The names of the models the server has (`/api/tags`). */
  async models(): Promise<string[]> {
    const res = await this.post('/api/tags', undefined, AbortSignal.timeout(this.timeoutMs), 'GET');
    const body = (await res.json()) as { models?: Array<{ name?: string; model?: string }> };
    return (body.models ?? []).map((m) => m.name ?? m.model ?? '').filter(Boolean);
  }

  /** Whether the server has `model` (`llama3.2` matches `llama3.2:latest`). */
  async hasModel(model: string): Promise<boolean> {
    const names = await this.models();
    return names.some((n) => n === model || n === `${model}:latest`);
  }

  /**
   * Streams a chat's tokens to `onToken` as they come and resolves with the token counts. `signal` aborting (the
   * client went away) closes the response, which is how Ollama is told to stop generating.
   */
  async chat(model: string, messages: ChatMessage[], onToken: (t: string) => void, signal?: AbortSignal): Promise<ChatDone> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const both = signal ? AbortSignal.any([signal, timeout]) : timeout;
    const res = await this.post('/api/chat', { model, messages, stream: true, ...(this.keepAlive ? { keep_alive: this.keepAlive } : {}) }, both);
    if (!res.body) throw new OllamaError(`${this.base}/api/chat: an empty answer`, 'server', res.status);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (!line) continue;
          const chunk = JSON.parse(line) as { message?: { content?: string }; done?: boolean; error?: string; prompt_eval_count?: number; eval_count?: number };
          if (chunk.error) throw new OllamaError(`${this.base}/api/chat (model ${model}): ${chunk.error}`, 'server', res.status);
          if (chunk.message?.content) onToken(chunk.message.content);
          if (chunk.done) return { tokensIn: chunk.prompt_eval_count ?? 0, tokensOut: chunk.eval_count ?? 0 };
        }
      }
    } catch (err) {
      if (err instanceof OllamaError) throw err;
      if (signal?.aborted) throw new OllamaError(`${this.base}/api/chat: cancelled`, 'aborted', undefined, { cause: err });
      throw new OllamaError(`${this.base}/api/chat (model ${model}): the stream broke off: ${describe(err)}`, 'unreachable', res.status, { cause: err });
    } finally {
      await reader.cancel().catch(() => undefined);
    }
    throw new OllamaError(`${this.base}/api/chat (model ${model}): the stream ended without done`, 'unreachable', res.status);
  }

  /** Vectors for `texts` from `model`, and the token count Ollama reports is not needed: embeddings are billed by text. */
  async embed(model: string, texts: string[]): Promise<number[][]> {
    const embedder = new OllamaEmbedder({ baseUrl: this.base, model, timeoutMs: this.timeoutMs, fetch: this.fetchImpl });
    try {
      return (await embedder.embed(texts)).map((v) => Array.from(v));
    } catch (err) {
      const status = (err as { status?: number }).status;
      const kind = status === 404 ? 'model-missing' : status === undefined ? 'unreachable' : 'server';
      throw new OllamaError(describe(err), kind, status, { cause: err });
    }
  }

  private async post(path: string, body: unknown, signal: AbortSignal, method = 'POST'): Promise<Response> {
    let res: Response;
    try {
      res = await this.fetchImpl(`${this.base}${path}`, {
        method,
        headers: { 'content-type': 'application/json', accept: 'application/x-ndjson, application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
    } catch (err) {
      const aborted = err instanceof Error && err.name === 'AbortError';
      throw new OllamaError(`${this.base}${path}: ${aborted ? 'cancelled' : `unreachable: ${describe(err)}`}`, aborted ? 'aborted' : 'unreachable', undefined, {
        cause: err,
      });
    }
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      let detail = text.slice(0, 200);
      try {
        detail = (JSON.parse(text) as { error?: string }).error ?? detail;
      } catch {
        /* not JSON: keep the text */
      }
      const kind = res.status === 404 ? 'model-missing' : 'server';
      throw new OllamaError(`${this.base}${path}: HTTP ${res.status}: ${detail}`, kind, res.status);
    }
    return res;
  }
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${err.message}${cause}`;
}
