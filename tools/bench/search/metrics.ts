/**
 * Ranking metrics for the search relevance bench (tools/bench/search.ts), with graded judgements (0–3):
 * - nDCG@k: discounted cumulative gain of the first k results (gain 2^grade − 1, discount log2(rank + 1)), divided by
 *   that of the ideal ranking of all judged documents; 1 is perfect, 0 is nothing relevant in the first k.
 * - recall@k: the share of the documents judged relevant (grade ≥ 1) that appear in the first k results.
 * Rankings are lists of document keys, best first; a key appearing twice counts once, where it first appears.
 */
export type Judgements = Readonly<Record<string, number>>;

function gain(grade: number): number {
  return 2 ** grade - 1;
}

function dcg(grades: readonly number[]): number {
  return grades.reduce((sum, g, i) => sum + gain(g) / Math.log2(i + 2), 0);
}

/** The ranking with repeated keys removed (first occurrence kept). */
export function dedupe(ranking: readonly string[]): string[] {
  return [...new Set(ranking)];
}

export function ndcgAt(ranking: readonly string[], judgements: Judgements, k = 10): number {
  const ideal = dcg(
    Object.values(judgements)
      .filter((g) => g > 0)
      .sort((a, b) => b - a)
      .slice(0, k),
  );
  if (ideal === 0) return 0;
  return (
    dcg(
      dedupe(ranking)
        .slice(0, k)
        .map((key) => judgements[key] ?? 0),
    ) / ideal
  );
}

export function recallAt(ranking: readonly string[], judgements: Judgements, k = 20): number {
  const relevant = Object.keys(judgements).filter((key) => (judgements[key] ?? 0) > 0);
  if (relevant.length === 0) return 0;
  const top = new Set(dedupe(ranking).slice(0, k));
  return relevant.filter((key) => top.has(key)).length / relevant.length;
}

/**
 * Hits (whatever their kind: course, module, lesson, file) to a ranking of course keys: each hit counts for its course,
 * where the course first appears. A course the corpus does not know (another course in the same database) keeps its
 * rank as an unjudged key, so it still pushes relevant results down as it would for a user.
 */
export function coursesRanking(hits: ReadonlyArray<{ courseId: string }>, keyOfCourseId: ReadonlyMap<string, string>): string[] {
  return dedupe(hits.map((h) => keyOfCourseId.get(h.courseId) ?? `unknown:${h.courseId}`));
}

export interface QueryScore {
  id: string;
  kind: string;
  ndcg10: number;
  recall20: number;
}

export interface RunScore {
  ndcg10: number;
  recall20: number;
  /** Means per query kind (exact, misspelling, …). */
  byKind: Record<string, { ndcg10: number; recall20: number; queries: number }>;
  perQuery: QueryScore[];
}

function mean(xs: readonly number[]): number {
  return xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Scores one method over the query set: `rankings` holds each query's ranking of course keys, by query id. */
export function scoreRun(
  queries: ReadonlyArray<{ id: string; kind: string; judgements: Judgements }>,
  rankings: ReadonlyMap<string, readonly string[]>,
): RunScore {
  const perQuery = queries.map((query): QueryScore => {
    const ranking = rankings.get(query.id) ?? [];
    return { id: query.id, kind: query.kind, ndcg10: ndcgAt(ranking, query.judgements, 10), recall20: recallAt(ranking, query.judgements, 20) };
  });
  const byKind: RunScore['byKind'] = {};
  for (const kind of new Set(perQuery.map((s) => s.kind))) {
    const of = perQuery.filter((s) => s.kind === kind);
    byKind[kind] = { ndcg10: mean(of.map((s) => s.ndcg10)), recall20: mean(of.map((s) => s.recall20)), queries: of.length };
  }
  return { ndcg10: mean(perQuery.map((s) => s.ndcg10)), recall20: mean(perQuery.map((s) => s.recall20)), byKind, perQuery };
}

/** Nearest-rank percentile of a sample (p in 0–100); NaN for an empty one. */
export function percentile(sample: readonly number[], p: number): number {
  if (sample.length === 0) return Number.NaN;
  const sorted = [...sample].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? Number.NaN;
}
