// `pnpm tsx packages/embeddings/test/measure.ts`: the embedded model's load time and throughput on this machine, for
// query-sized texts (a few words) and passage-sized ones (a lesson paragraph, ~80 words).
import { UseLiteEmbedder } from '../src/index.ts';

const PARAGRAPH =
  'A sourdough starter is a living culture of wild yeast and lactic acid bacteria. Feed it equal weights of flour and water ' +
  'every day, keep it at room temperature, and use it when it has doubled in size and smells pleasantly sour. In this lesson ' +
  'we mix the dough, let it rest for the autolyse, add the salt, and then fold it every thirty minutes during bulk fermentation.';

async function rate(embedder: UseLiteEmbedder, texts: string[], batch: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < texts.length; i += batch) await embedder.embed(texts.slice(i, i + batch));
  return texts.length / ((performance.now() - started) / 1000);
}

const embedder = new UseLiteEmbedder();
let t = performance.now();
await embedder.warm();
const loadMs = performance.now() - t;
t = performance.now();
await embedder.embed(['first call']);
const firstMs = performance.now() - t;
const queries = Array.from({ length: 128 }, (_, i) => `how to learn topic number ${i}`);
const passages = Array.from({ length: 64 }, (_, i) => `${PARAGRAPH} (${i})`);
console.log(`model ${embedder.model}, ${embedder.dimensions} dimensions`);
console.log(`load ${loadMs.toFixed(0)} ms, first call ${firstMs.toFixed(0)} ms`);
for (const batch of [1, 32]) {
  console.log(
    `batch ${batch}: queries ${(await rate(embedder, queries, batch)).toFixed(0)} texts/s, passages ${(await rate(embedder, passages, batch)).toFixed(0)} texts/s`,
  );
}
