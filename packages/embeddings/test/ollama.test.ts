import http from 'node:http';
import { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddingServerError, OllamaEmbedder, createEmbedder } from '../src/index.ts';

/**
 * A test double of Ollama: a real HTTP server speaking its /api/embed protocol (no Ollama can run here). Each text's
 * vector is [length, vowels, 1, 0, …] unnormalised, so the client's normalising and ordering can be checked; the model
 * named `slow` never answers, `broken` answers 500 with Ollama's error body, `short` returns one vector too few.
 */
function startOllamaDouble(dimensions = 8) {
  const requests: Array<{ model: string; input: string[] }> = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/api/embed') {
        res.writeHead(404).end('404 page not found');
        return;
      }
      const body = JSON.parse(raw) as { model: string; input: string[] };
      requests.push(body);
      if (body.model === 'slow') return; // never answers
      if (body.model === 'broken') {
        res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'model "broken" not found, try pulling it first' }));
        return;
      }
      const inputs = body.model === 'short' ? body.input.slice(1) : body.input;
      const embeddings = inputs.map((t) => {
        const v = new Array<number>(dimensions).fill(0);
        v[0] = t.length;
        v[1] = (t.match(/[aeiou]/g) ?? []).length;
        v[2] = 1;
        return v;
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ model: body.model, embeddings }));
    });
  });
  return { server, requests };
}

describe('OllamaEmbedder against a test double of Ollama', () => {
  const double = startOllamaDouble();
  let base = '';
  beforeAll(async () => {
    await new Promise<void>((resolve) => double.server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(double.server.address() as AddressInfo).port}/`;
  });
  afterAll(async () => {
    double.server.closeAllConnections();
    await new Promise((resolve) => double.server.close(resolve));
  });

  it('posts {model, input} to /api/embed in batches and returns normalised vectors in order', async () => {
    const e = createEmbedder({ provider: 'ollama', baseUrl: base, model: 'nomic-embed-text', batchSize: 2 });
    expect(e.model).toBe('nomic-embed-text');
    expect(e.dimensions).toBe(0);
    double.requests.length = 0;
    const vectors = await e.embed(['abc', 'a', 'hello world', 'zz', 'e']);
    expect(double.requests.map((r) => r.input)).toEqual([['abc', 'a'], ['hello world', 'zz'], ['e']]);
    expect(double.requests[0]?.model).toBe('nomic-embed-text');
    expect(e.dimensions).toBe(8);
    expect(vectors).toHaveLength(5);
    const [first] = vectors;
    // 'abc' → [3, 1, 1, 0…] / sqrt(11)
    expect(Array.from(first ?? []).slice(0, 3)).toEqual([3, 1, 1].map((x) => Math.fround(x / Math.sqrt(11))));
    for (const v of vectors) expect(Math.hypot(...v)).toBeCloseTo(1, 5);
  });

  it('discovers the dimensions with one request, and checks them when configured', async () => {
    const e = new OllamaEmbedder({ baseUrl: base, model: 'm' });
    expect(await e.discover()).toBe(8);
    const wrong = new OllamaEmbedder({ baseUrl: base, model: 'm', dimensions: 768 });
    await expect(wrong.embed(['x'])).rejects.toThrow(/8 dimensions, expected 768/);
  });

  it("reports the server's error with its status", async () => {
    const e = new OllamaEmbedder({ baseUrl: base, model: 'broken' });
    const err: unknown = await e.embed(['x']).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(EmbeddingServerError);
    expect((err as EmbeddingServerError).status).toBe(500);
    expect((err as Error).message).toMatch(/model broken\): HTTP 500: model "broken" not found/);
  });

  it('refuses an answer with the wrong number of vectors', async () => {
    await expect(new OllamaEmbedder({ baseUrl: base, model: 'short' }).embed(['a', 'b'])).rejects.toThrow(/1 vectors for 2 texts/);
  });

  it('gives up after its timeout', async () => {
    const started = Date.now();
    await expect(new OllamaEmbedder({ baseUrl: base, model: 'slow', timeoutMs: 200 }).embed(['x'])).rejects.toThrow(/no answer within 200 ms/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('says when the server cannot be reached', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await expect(new OllamaEmbedder({ baseUrl: `http://127.0.0.1:${port}`, model: 'm' }).embed(['x'])).rejects.toThrow(/unreachable: .*ECONNREFUSED/);
    expect(() => new OllamaEmbedder({ baseUrl: 'not a url', model: 'm' })).toThrow(/is not a URL/);
  });
});
