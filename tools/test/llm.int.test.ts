/**
 * The AI path end to end in one embedded node: REST → llm (quotas, routing, usage) → llm-worker → a TEST DOUBLE OF
 * OLLAMA (packages/llm-kit/test/ollama-double.ts: Ollama's HTTP protocol, deterministic replies — no model runs here,
 * so this says nothing of answer quality). Ollama down → a clean 503 with a code, then up → answers again; quota
 * exceeded → 429 with Retry-After.
 */
import { gatewayPort } from '@lms/gateway';
import { startNode, type LmsNode } from '@lms/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOllamaDouble, type OllamaDouble } from '../../packages/llm-kit/test/ollama-double.ts';
import { SERVICES } from '../services.ts';
import { defined, http } from './support.ts';

let node: LmsNode;
let base: string;
let ollama: OllamaDouble;
let admin: string;
let learner: string;
const ask = (content: string) => ({ task: 'chat', messages: [{ role: 'user', content }] });
const saved: Record<string, string | undefined> = {};
const ENV = {
  LLM_MODELS: 'chat=absent-model|chat-model,summarise=chat-model,embed=embed-model',
  LLM_REQUESTS_PER_MINUTE: '3',
  LLM_WORKER_BREAKER_FAILURES: '1',
  LLM_WORKER_BREAKER_OPEN_MS: '300',
};

beforeAll(async () => {
  ollama = await startOllamaDouble();
  for (const [k, v] of Object.entries({ ...ENV, OLLAMA_URL: ollama.url })) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  const names = ['gateway', 'auth', 'users', 'courses', 'llm', 'llm-worker'];
  node = await startNode(
    names.map((n) => defined(SERVICES[n], n)),
    { mode: 'embedded', dataDir: 'memory://', port: 0, databaseUrl: undefined },
  );
  base = `http://127.0.0.1:${gatewayPort(node.broker)}`;
  const reg = async (email: string) =>
    (await http(base, 'POST', '/api/v1/auth/register', { email, password: 'llm test password', displayName: 'L' })).body.accessToken as string;
  admin = await reg('admin@llm.test');
  learner = await reg('learner@llm.test');
});

afterAll(async () => {
  await node?.stop();
  await ollama?.close();
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

describe('llm.complete through the gateway, a worker and the Ollama test double', () => {
  it('answers a chat with the fallback model (the routed one is missing) and records usage', async () => {
    const r = await http(base, 'POST', '/api/v1/llm/complete', ask('hello tutor'), learner);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ text: 'echo: hello tutor', model: 'chat-model', tokensIn: 2, tokensOut: 3 });
    const usage = await http(base, 'GET', '/api/v1/llm/usage', undefined, admin);
    expect(usage.status).toBe(200);
    expect(usage.body.rows).toEqual([expect.objectContaining({ model: 'chat-model', task: 'chat', requests: 1, tokensIn: 2, tokensOut: 3 })]);
    expect((await http(base, 'GET', '/api/v1/llm/usage', undefined, learner)).status).toBe(403);
  });

  it('Ollama down: 503 LLM_UNAVAILABLE with Retry-After; up again: it answers', async () => {
    await ollama.down();
    try {
      const r = await http(base, 'POST', '/api/v1/llm/complete', ask('anyone'), admin);
      expect(r.status).toBe(503);
      expect(r.body.error.code).toBe('LLM_UNAVAILABLE');
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    } finally {
      await ollama.up();
    }
    const back = await (async () => {
      for (let i = 0; i < 50; i++) {
        const r = await http(base, 'POST', '/api/v1/llm/complete', ask('back'), admin);
        if (r.status === 200) return r;
        await new Promise((res) => setTimeout(res, 100));
      }
      throw new Error('never answered after Ollama came back');
    })();
    expect(back.body.text).toBe('echo: back');
  });

  it('past the requests per minute: 429 LLM_RATE_LIMITED with Retry-After', async () => {
    // The learner made 1 request; the limit is 3.
    for (let i = 0; i < 2; i++) expect((await http(base, 'POST', '/api/v1/llm/complete', ask(`q${i}`), learner)).status).toBe(200);
    const r = await http(base, 'POST', '/api/v1/llm/complete', ask('one too many'), learner);
    expect(r.status).toBe(429);
    expect(r.body.error.code).toBe('LLM_RATE_LIMITED');
    const after = Number(r.headers.get('retry-after'));
    expect(after).toBeGreaterThanOrEqual(1);
    expect(after).toBeLessThanOrEqual(60);
  });
});
