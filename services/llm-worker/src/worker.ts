import { DomainError } from '@lms/contracts';
import { CircuitBreaker, LanePicker, OllamaClient, OllamaError, type ChatMessage, type Lane } from '@lms/llm-kit';
import type { Logger } from '@lms/runtime';

export interface WorkerSettings {
  ollamaUrl: string | undefined;
  concurrency: number;
  maxWaiting: number;
  batchEvery: number;
  timeoutMs: number;
  breakerFailures: number;
  breakerOpenMs: number;
  keepAlive: string;
}

interface Job {
  run: () => Promise<void>;
  refuse: (err: Error) => void;
}

/**
 * Runs requests on one Ollama server: at most `concurrency` at once, the rest waiting in two lanes (interactive before
 * batch; LanePicker lets one batch request through every `batchEvery` so batch is never starved). Ollama failing
 * (unreachable, a stream broken off) counts against a circuit breaker; while it is open, requests are refused at once
 * with LLM_UNAVAILABLE and the seconds until the next trial, so the caller hands them back rather than piling up here.
 */
export class LlmWorker {
  readonly ollama: OllamaClient | undefined;
  readonly breaker: CircuitBreaker;
  private readonly lanes: Record<Lane, Job[]> = { interactive: [], batch: [] };
  private readonly picker: LanePicker;
  running = 0;

  constructor(
    private readonly s: WorkerSettings,
    private readonly log: Logger,
  ) {
    this.ollama = s.ollamaUrl ? new OllamaClient({ baseUrl: s.ollamaUrl, timeoutMs: s.timeoutMs, keepAlive: s.keepAlive }) : undefined;
    this.breaker = new CircuitBreaker(s.breakerFailures, s.breakerOpenMs);
    this.picker = new LanePicker(s.batchEvery);
  }

  get waiting(): Record<Lane, number> {
    return { interactive: this.lanes.interactive.length, batch: this.lanes.batch.length };
  }

  /** Checks the server and logs which models it has (a missing model is reported per request, not fatal here). */
  async start(): Promise<void> {
    if (!this.ollama) {
      this.log.warn('OLLAMA_URL is not set: the llm worker refuses every request (LLM_UNAVAILABLE)');
      return;
    }
    try {
      this.log.info({ models: await this.ollama.models() }, 'Ollama answers');
    } catch (err) {
      this.log.warn({ err: String(err) }, 'Ollama does not answer yet: requests are refused until it does');
    }
  }

  async models(): Promise<{ up: boolean; models: string[] }> {
    if (!this.ollama) return { up: false, models: [] };
    try {
      return { up: true, models: await this.ollama.models() };
    } catch {
      return { up: false, models: [] };
    }
  }

  async chat(
    lane: Lane,
    model: string,
    fallback: string | undefined,
    messages: ChatMessage[],
    onToken: (t: string) => void = () => undefined,
    signal?: AbortSignal,
  ) {
    return this.queued(lane, async (ollama) => {
      const started = performance.now();
      let text = '';
      const withModel = (m: string) =>
        ollama.chat(
          m,
          messages,
          (t) => {
            text += t;
            onToken(t);
          },
          signal,
        );
      const { used, result } = await this.withFallback(model, fallback, withModel);
      return { text, model: used, ...result, latencyMs: Math.round(performance.now() - started) };
    });
  }

  async embed(lane: Lane, model: string, fallback: string | undefined, texts: string[]) {
    return this.queued(lane, async (ollama) => {
      const started = performance.now();
      const { used, result } = await this.withFallback(model, fallback, (m) => ollama.embed(m, texts));
      return { model: used, vectors: result, latencyMs: Math.round(performance.now() - started) };
    });
  }

  /** The model, or its fallback when the server has not got the first. */
  private async withFallback<T>(model: string, fallback: string | undefined, run: (m: string) => Promise<T>): Promise<{ used: string; result: T }> {
    try {
      return { used: model, result: await run(model) };
    } catch (err) {
      if (!(err instanceof OllamaError && err.kind === 'model-missing')) throw err;
      if (!fallback) throw new DomainError('LLM_MODEL_MISSING', `the model server has no model "${model}"`, { model });
      this.log.warn({ model, fallback }, 'model missing on the server: using its fallback');
      try {
        return { used: fallback, result: await run(fallback) };
      } catch (err2) {
        if (err2 instanceof OllamaError && err2.kind === 'model-missing') {
          throw new DomainError('LLM_MODEL_MISSING', `the model server has neither "${model}" nor its fallback "${fallback}"`, { model, fallback });
        }
        throw err2;
      }
    }
  }

  private unavailable(why: string): DomainError {
    const retryAfterSeconds = Math.max(1, Math.ceil(this.breaker.retryAfterMs() / 1000));
    return new DomainError('LLM_UNAVAILABLE', `the model server is unavailable: ${why}`, { retryAfterSeconds });
  }

  /** Waits for a slot (by lane), runs `work` on Ollama, and feeds the breaker with how Ollama did. */
  private queued<T>(lane: Lane, work: (ollama: OllamaClient) => Promise<T>): Promise<T> {
    const ollama = this.ollama;
    if (!ollama) return Promise.reject(this.unavailable('no OLLAMA_URL on this worker'));
    if (this.breaker.state === 'open') return Promise.reject(this.unavailable('the circuit is open after repeated failures'));
    if (this.lanes.interactive.length + this.lanes.batch.length >= this.s.maxWaiting) return Promise.reject(this.unavailable('the worker queue is full'));
    return new Promise<T>((resolve, reject) => {
      this.lanes[lane].push({
        refuse: reject,
        run: async () => {
          if (!this.breaker.allow()) {
            reject(this.unavailable('the circuit is open after repeated failures'));
            return;
          }
          try {
            const out = await work(ollama);
            this.breaker.success();
            resolve(out);
          } catch (err) {
            if (err instanceof OllamaError && err.kind === 'unreachable') {
              this.breaker.failure();
              this.log.warn({ err: err.message, breaker: this.breaker.state }, 'Ollama failed');
              reject(this.unavailable(err.message));
            } else if (err instanceof OllamaError && err.kind === 'aborted') {
              this.breaker.success();
              reject(new DomainError('LLM_UNAVAILABLE', 'the request was cancelled', { cancelled: true }));
            } else if (err instanceof OllamaError) {
              // The server answered (an error of its own): it is up, the request failed.
              this.breaker.success();
              reject(new DomainError('LLM_UNAVAILABLE', err.message, { retryAfterSeconds: 1 }));
            } else reject(err instanceof Error ? err : new Error(String(err)));
          }
        },
      });
      this.pump();
    });
  }

  private pump(): void {
    while (this.running < this.s.concurrency) {
      const lane = this.picker.pick(this.waiting);
      if (!lane) return;
      const job = this.lanes[lane].shift();
      if (!job) return;
      this.running += 1;
      void job.run().finally(() => {
        this.running -= 1;
        this.pump();
      });
    }
  }

  /** Refuses what is still waiting (a stopping node): callers get LLM_UNAVAILABLE and try another worker. */
  stop(): void {
    for (const lane of ['interactive', 'batch'] as const) {
      for (const job of this.lanes[lane].splice(0)) job.refuse(this.unavailable('the worker is stopping'));
    }
  }
}
