import { describe, expect, it } from 'vitest';
import { QueryEmbeddings, type Embedder } from '../src/embedder.js';

/** Counts the model calls and their sizes; each text becomes a one-number vector of its length. */
class CountingEmbedder implements Embedder {
  readonly model = 'counting';
  readonly dimensions = 1;
  calls: string[][] = [];
  failNext = false;
  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    this.calls.push([...texts]);
    await new Promise((r) => setTimeout(r, 5));
    if (this.failNext) {
      this.failNext = false;
      throw new Error('model failed');
    }
    return texts.map((t) => Float32Array.of(t.length));
  }
}

describe('query embeddings', () => {
  it('embeds the queries that wait on a busy model together, once each', async () => {
    const model = new CountingEmbedder();
    const q = new QueryEmbeddings(model);
    const first = q.embed('a');
    const rest = Promise.all(['bb', 'ccc', 'bb', 'dddd'].map((t) => q.embed(t)));
    expect((await first)[0]).toBe(1);
    expect((await rest).map((v) => v[0])).toEqual([2, 3, 2, 4]);
    expect(model.calls).toEqual([['a'], ['bb', 'ccc', 'dddd']]);
  });

  it('answers a repeated query from its cache, evicting the least recently used', async () => {
    const model = new CountingEmbedder();
    const q = new QueryEmbeddings(model, 2);
    await q.embed('x');
    await q.embed('y');
    await q.embed('x');
    await q.embed('z');
    expect(model.calls.length).toBe(3);
    await q.embed('x');
    expect(model.calls.length).toBe(3);
    await q.embed('y');
    expect(model.calls.length).toBe(4);
  });

  it('fails the waiting queries of a failed call, and the next call works', async () => {
    const model = new CountingEmbedder();
    const q = new QueryEmbeddings(model);
    model.failNext = true;
    await expect(q.embed('x')).rejects.toThrow('model failed');
    expect((await q.embed('x'))[0]).toBe(1);
  });
});
