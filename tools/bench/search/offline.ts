// `pnpm tsx tools/bench/search/offline.ts`: what the embedded model alone (UseLiteEmbedder, in this process) reaches on
// the relevance set, without a database or the search service: nDCG@10 and recall@20 overall and per query kind, and
// the time to embed the corpus. The full bench (pnpm bench --only search) prints the same rows beside the service's.
import { UseLiteEmbedder } from '@lms/embeddings';
import { buildCorpus } from './corpus.ts';
import { scoreRun } from './metrics.ts';
import { QUERIES } from './queries.ts';
import { courseTexts, semanticIndex } from './semantic.ts';

const corpus = buildCorpus();
const embedder = new UseLiteEmbedder();
const t = performance.now();
const rank = await semanticIndex(embedder, corpus);
const texts = corpus.reduce((n, c) => n + courseTexts(c).length, 0);
const seconds = (performance.now() - t) / 1000;
const rankings = new Map<string, string[]>();
for (const q of QUERIES) rankings.set(q.id, await rank(q.q));
const s = scoreRun(QUERIES, rankings);
console.log(`${embedder.model}: embedded ${texts} texts in ${seconds.toFixed(1)} s (${(texts / seconds).toFixed(0)} texts/s, model load included)`);
console.log(`nDCG@10 ${s.ndcg10.toFixed(3)}, recall@20 ${s.recall20.toFixed(3)}`);
for (const [kind, k] of Object.entries(s.byKind))
  console.log(`  ${kind.padEnd(12)} nDCG@10 ${k.ndcg10.toFixed(3)}  recall@20 ${k.recall20.toFixed(3)}  (${k.queries})`);
