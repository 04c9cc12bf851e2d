import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CircuitBreaker, checkQuota, LanePicker, OllamaClient, OllamaError, parseRoutes } from '../src/index.ts';
import { startOllamaDouble, type OllamaDouble } from './ollama-double.ts';

describe('OllamaClient against the Ollama test double', () => {
  let ollama: OllamaDouble;
  let client: OllamaClient;
  beforeAll(async () => {
    ollama = await startOllamaDouble();
    client = new OllamaClient({ baseUrl: ollama.url, timeoutMs: 5_000 });
  });
  afterAll(() => ollama.close());

  it('streams a chat token by token and reports the token counts', async () => {
    const tokens: string[] = [];
    const done = await client.chat('chat-model', [{ role: 'user', content: 'hello there world' }], (t) => tokens.push(t));
    expect(tokens.join('')).toBe('echo: hello there world');
    expect(tokens.length).toBe(4);
    expect(done).toEqual({ tokensIn: 3, tokensOut: 4 });
  });

  it('lists models and checks presence (name or name:latest)', async () => {
    expect(await client.hasModel('chat-model')).toBe(true);
    expect(await client.hasModel('absent')).toBe(false);
  });

  it('a missing model is a model-missing error', async () => {
    const err = await client.chat('absent', [{ role: 'user', content: 'x' }], () => undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OllamaError);
    expect((err as OllamaError).kind).toBe('model-missing');
  });

  it('embeds through OllamaEmbedder (normalised vectors, in order)', async () => {
    const [a, b] = await client.embed('embed-model', ['aaaa', 'bc']);
    expect(a?.length).toBe(8);
    expect(Math.hypot(...(a ?? []))).toBeCloseTo(1, 5);
    expect(b?.[1]).toBe(0);
  });

  it('a stream broken midway is unreachable (the worker hands the job back)', async () => {
    const err = await client.chat('fail-midway', [{ role: 'user', content: 'a b c d e' }], () => undefined).catch((e: unknown) => e);
    expect((err as OllamaError).kind).toBe('unreachable');
  });

  it('aborting a slow stream closes it on the server side', async () => {
    ollama.tokenDelayMs = 50;
    const ac = new AbortController();
    const seen: string[] = [];
    const before = ollama.cancelled;
    const run = client.chat(
      'chat-model',
      [{ role: 'user', content: 'one two three four five six seven' }],
      (t) => {
        seen.push(t);
        if (seen.length === 2) ac.abort();
      },
      ac.signal,
    );
    const err = await run.catch((e: unknown) => e);
    expect((err as OllamaError).kind).toBe('aborted');
    await expect.poll(() => ollama.cancelled).toBe(before + 1);
    ollama.tokenDelayMs = 0;
  });

  it('down is unreachable; up again works', async () => {
    await ollama.down();
    const err = await client.models().catch((e: unknown) => e);
    expect((err as OllamaError).kind).toBe('unreachable');
    await ollama.up();
    expect(await client.hasModel('chat-model')).toBe(true);
  });
});

describe('CircuitBreaker', () => {
  it('opens after the threshold, lets one trial through after openMs, closes on success', () => {
    let now = 0;
    const b = new CircuitBreaker(2, 1000, () => now);
    b.failure();
    expect(b.allow()).toBe(true);
    b.failure();
    expect(b.state).toBe('open');
    expect(b.allow()).toBe(false);
    expect(b.retryAfterMs()).toBe(1000);
    now = 1000;
    expect(b.allow()).toBe(true);
    expect(b.allow()).toBe(false); // one trial at a time
    b.failure();
    expect(b.state).toBe('open');
    now = 2000;
    expect(b.allow()).toBe(true);
    b.success();
    expect(b.state).toBe('closed');
  });
});

describe('LanePicker', () => {
  it('serves interactive first but never starves batch', () => {
    const p = new LanePicker(3);
    const picks = Array.from({ length: 8 }, () => p.pick({ interactive: 10, batch: 10 }));
    expect(picks).toEqual(['interactive', 'interactive', 'interactive', 'batch', 'interactive', 'interactive', 'interactive', 'batch']);
    expect(p.pick({ interactive: 0, batch: 1 })).toBe('batch');
    expect(p.pick({ interactive: 0, batch: 0 })).toBeUndefined();
  });
});

describe('checkQuota', () => {
  const limits = { requestsPerMinute: 2, tokensPerDay: 100 };
  const now = Date.UTC(2026, 11, 2, 23, 59, 30);
  it('refuses past requests per minute with the seconds left in the window', () => {
    expect(checkQuota(limits, { recentRequests: 1, windowStartMs: now - 10_000, tokensToday: 0 }, now)).toBeUndefined();
    expect(checkQuota(limits, { recentRequests: 2, windowStartMs: now - 10_000, tokensToday: 0 }, now)).toEqual({ code: 'LLM_RATE_LIMITED', retryAfterS: 50 });
  });
  it('refuses past the daily tokens until midnight UTC', () => {
    expect(checkQuota(limits, { recentRequests: 0, windowStartMs: now, tokensToday: 100 }, now)).toEqual({
      code: 'LLM_DAILY_TOKENS_EXHAUSTED',
      retryAfterS: 30,
    });
  });
});

describe('parseRoutes', () => {
  it('reads model and fallback per task; refuses unknown or missing tasks', () => {
    const r = parseRoutes('chat=a|b, summarise=c, embed=e');
    expect(r.chat).toEqual({ model: 'a', fallback: 'b' });
    expect(r.summarise.fallback).toBeUndefined();
    expect(() => parseRoutes('chat=a,summarise=c')).toThrow(/embed/);
    expect(() => parseRoutes('chat=a,summarise=c,embed=e,grade=x')).toThrow(/grade/);
  });
});
