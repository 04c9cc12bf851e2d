/**
 * References for the search service's semantic and hybrid modes, computed in the bench process without the service:
 * - `semanticRankings`: the embedder alone, every course, module and lesson of the corpus embedded as one text each
 *   (lessons cut at the embedder's own limit), a course scoring the best cosine of its texts with the query;
 * - `fuseRrf`: reciprocal rank fusion of several rankings (score Σ 1/(k + rank)), the simplest hybrid.
 * They tell what the model and a plain fusion reach on this corpus, so the service's figures can be read against them.
 */
import { type Embedder } from '@lms/embeddings';
import { type CorpusCourse } from './corpus.ts';

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] ?? 0) * (b[i] ?? 0);
  return s;
}

/** The texts embedded for a course: the course itself, each module, each lesson (its key is the course's). */
export function courseTexts(c: CorpusCourse): string[] {
  return [
    `${c.title}. ${c.summary} ${c.tags.join(', ')}`,
    ...c.modules.map((m) => `${m.title}. ${m.summary}`),
    ...c.modules.flatMap((m) => m.lessons.map((l) => `${l.title}. ${l.body.replace(/[#*]/g, '')}`)),
  ];
}

/** Embeds the corpus once; returns the function that ranks course keys for a query (best first, at most `limit`). */
export async function semanticIndex(embedder: Embedder, corpus: readonly CorpusCourse[]): Promise<(q: string, limit?: number) => Promise<string[]>> {
  const owners: string[] = [];
  const texts: string[] = [];
  for (const c of corpus) {
    for (const t of courseTexts(c)) {
      owners.push(c.key);
      texts.push(t);
    }
  }
  const vectors = await embedder.embed(texts);
  return async (q, limit = 20) => {
    const [qv] = await embedder.embed([q]);
    if (!qv) return [];
    const best = new Map<string, number>();
    vectors.forEach((v, i) => {
      const key = owners[i];
      if (key === undefined) return;
      const s = dot(qv, v);
      if (s > (best.get(key) ?? -Infinity)) best.set(key, s);
    });
    return [...best]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .slice(0, limit)
      .map(([key]) => key);
  };
}

/** Reciprocal rank fusion: each key scores Σ 1/(k + rank) over the rankings it appears in (rank from 1). */
export function fuseRrf(rankings: ReadonlyArray<readonly string[]>, k = 60, limit = 20): string[] {
  const score = new Map<string, number>();
  for (const ranking of rankings) ranking.forEach((key, i) => score.set(key, (score.get(key) ?? 0) + 1 / (k + i + 1)));
  return [...score]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, limit)
    .map(([key]) => key);
}
