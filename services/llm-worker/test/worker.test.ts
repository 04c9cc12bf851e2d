import { DomainError } from '@lms/contracts';
import type { Logger } from '@lms/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOllamaDouble, type OllamaDouble } from '../../../packages/llm-kit/test/ollama-double.ts';
import { embeddedServiceNames } from '../../../tools/service-loaders.ts';
import { LlmWorker, type WorkerSettings } from '../src/worker.ts';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined } as unknown as Logger;
const settings = (url: string | undefined, over: Partial<WorkerSettings> = {}): WorkerSettings => ({
  ollamaUrl: url,
  concurrency: 1,
  maxWaiting: 100,
  batchEvery: 3,
  timeoutMs: 5_000,
  breakerFailures: 2,
  breakerOpenMs: 200,
  keepAlive: '1m',
  ...over,
});
const ask = (content: string) => [{ role: 'user' as const, content }];
const codeOf = (err: unknown) => (err instanceof DomainError ? err.code : String(err));

describe('LlmWorker against the Ollama test double', () => {
  let ollama: OllamaDouble;
  beforeAll(async () => {
    ollama = await startOllamaDouble();
  });
  afterAll(() => ollama.close());

  it('streams a chat and answers the text, the model and the token counts', async () => {
    const w = new LlmWorker(settings(ollama.url), quiet);
    const tokens: string[] = [];
    const out = await w.chat('interactive', 'chat-model', undefined, ask('hi there'), (t) => tokens.push(t));
    expect(out).toMatchObject({ text: 'echo: hi there', model: 'chat-model', tokensIn: 2, tokensOut: 3 });
    expect(tokens).toEqual(['echo: ', 'hi ', 'there']);
  });

  it('uses the fallback when the model is missing, and says LLM_MODEL_MISSING when both are', async () => {
    const w = new LlmWorker(settings(ollama.url), quiet);
    expect((await w.chat('interactive', 'absent', 'chat-model', ask('x'))).model).toBe('chat-model');
    expect(codeOf(await w.chat('interactive', 'absent', 'gone', ask('x')).catch((e: unknown) => e))).toBe('LLM_MODEL_MISSING');
    expect((await w.embed('batch', 'absent', 'embed-model', ['abc'])).vectors[0]?.length).toBe(8);
  });

  it('serves the interactive lane before a batch backlog, and batch is not starved', async () => {
    const w = new LlmWorker(settings(ollama.url), quiet);
    ollama.order.length = 0;
    ollama.tokenDelayMs = 5;
    const blocker = w.chat('batch', 'chat-model', undefined, ask('first'));
    const batch = Array.from({ length: 6 }, (_, i) => w.chat('batch', 'chat-model', undefined, ask(`batch${i}`)));
    const chats = Array.from({ length: 4 }, (_, i) => w.chat('interactive', 'chat-model', undefined, ask(`chat${i}`)));
    await Promise.all([blocker, ...batch, ...chats]);
    ollama.tokenDelayMs = 0;
    // The one in hand finishes; then 3 interactive, 1 batch (batchEvery = 3), the last interactive, the rest of batch.
    expect(ollama.order).toEqual(['first', 'chat0', 'chat1', 'chat2', 'batch0', 'chat3', 'batch1', 'batch2', 'batch3', 'batch4', 'batch5']);
  });

  it('Ollama down: LLM_UNAVAILABLE with retryAfterSeconds, the breaker opens; up again: it works', async () => {
    const w = new LlmWorker(settings(ollama.url), quiet);
    await ollama.down();
    try {
      for (let i = 0; i < 2; i++) {
        const err = await w.chat('interactive', 'chat-model', undefined, ask('x')).catch((e: unknown) => e);
        expect(codeOf(err)).toBe('LLM_UNAVAILABLE');
        expect((err as DomainError).details?.retryAfterSeconds).toBeGreaterThanOrEqual(1);
      }
      expect(w.breaker.state).toBe('open');
      // Open: refused at once, Ollama not even asked.
      expect(codeOf(await w.chat('interactive', 'chat-model', undefined, ask('x')).catch((e: unknown) => e))).toBe('LLM_UNAVAILABLE');
    } finally {
      await ollama.up();
    }
    await expect.poll(() => w.breaker.state, { timeout: 2_000 }).toBe('half-open');
    expect((await w.chat('interactive', 'chat-model', undefined, ask('back'))).text).toBe('echo: back');
    expect(w.breaker.state).toBe('closed');
  });

  it('without OLLAMA_URL every request is LLM_UNAVAILABLE', async () => {
    const w = new LlmWorker(settings(undefined), quiet);
    expect(codeOf(await w.chat('interactive', 'm', undefined, ask('x')).catch((e: unknown) => e))).toBe('LLM_UNAVAILABLE');
    expect(await w.models()).toEqual({ up: false, models: [] });
  });

  it('a cancelled chat stops the stream on the server', async () => {
    const w = new LlmWorker(settings(ollama.url), quiet);
    ollama.tokenDelayMs = 30;
    const before = ollama.cancelled;
    const ac = new AbortController();
    const run = w.chat('interactive', 'chat-model', undefined, ask('a b c d e f g h'), () => ac.abort(), ac.signal);
    expect(codeOf(await run.catch((e: unknown) => e))).toBe('LLM_UNAVAILABLE');
    await expect.poll(() => ollama.cancelled).toBe(before + 1);
    ollama.tokenDelayMs = 0;
  });

  it('a stopping worker refuses what is waiting', async () => {
    const w = new LlmWorker(settings(ollama.url), quiet);
    ollama.tokenDelayMs = 20;
    const running = w.chat('interactive', 'chat-model', undefined, ask('one two three'));
    const waiting = w.chat('batch', 'chat-model', undefined, ask('later'));
    w.stop();
    expect(codeOf(await waiting.catch((e: unknown) => e))).toBe('LLM_UNAVAILABLE');
    await running;
    ollama.tokenDelayMs = 0;
  });
});

describe('embedded mode (`lms start`)', () => {
  it('runs the llm worker only when OLLAMA_URL is set', () => {
    expect(embeddedServiceNames({}).split(',')).not.toContain('llm-worker');
    expect(embeddedServiceNames({}).split(',')).toContain('gateway');
    expect(embeddedServiceNames({ OLLAMA_URL: 'http://127.0.0.1:11434' }).split(',')).toContain('llm-worker');
  });
});
