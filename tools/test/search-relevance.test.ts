import { courses } from '@lms/contracts';
import { describe, expect, it } from 'vitest';
import { buildCorpus } from '../bench/search/corpus.ts';
import { containsPattern, queryWords } from '../bench/search/ilike.ts';
import { coursesRanking, dedupe, ndcgAt, percentile, recallAt, scoreRun } from '../bench/search/metrics.ts';
import { QUERIES } from '../bench/search/queries.ts';
import { courseTexts, fuseRrf, semanticIndex } from '../bench/search/semantic.ts';

describe('search relevance metrics', () => {
  const judged = { a: 3, b: 2, c: 1 };

  it('nDCG@10 is 1 for the ideal ranking and falls as relevant documents move down or out', () => {
    expect(ndcgAt(['a', 'b', 'c'], judged)).toBeCloseTo(1, 10);
    expect(ndcgAt(['a', 'b', 'c', 'x', 'y'], judged)).toBeCloseTo(1, 10);
    // Worked by hand: DCG(b, a, c) = 3/1 + 7/log2(3) + 1/2; ideal = 7 + 3/log2(3) + 1/2.
    const swapped = (3 + 7 / Math.log2(3) + 0.5) / (7 + 3 / Math.log2(3) + 0.5);
    expect(ndcgAt(['b', 'a', 'c'], judged)).toBeCloseTo(swapped, 10);
    expect(ndcgAt(['x', 'a', 'b', 'c'], judged)).toBeLessThan(1);
    expect(ndcgAt(['x', 'y'], judged)).toBe(0);
    expect(ndcgAt([], judged)).toBe(0);
    // Only the first k count.
    const eleventh = [...Array.from({ length: 10 }, (_, i) => `x${i}`), 'a'];
    expect(ndcgAt(eleventh, judged, 10)).toBe(0);
    // A repeated key counts once, where it first appears.
    expect(ndcgAt(['a', 'a', 'b', 'c'], judged)).toBeCloseTo(1, 10);
    expect(ndcgAt(['a'], {})).toBe(0);
  });

  it('recall@20 is the share of relevant documents in the first 20', () => {
    expect(recallAt(['a', 'x', 'c'], judged)).toBeCloseTo(2 / 3, 10);
    expect(recallAt(['a', 'b', 'c'], judged)).toBe(1);
    expect(recallAt([...Array.from({ length: 20 }, (_, i) => `x${i}`), 'a'], judged)).toBe(0);
    expect(recallAt(['a'], { a: 0, b: 1 })).toBe(0);
    expect(recallAt(['a'], {})).toBe(0);
  });

  it('collapses hits of any kind to their course, first hit kept, unknown courses keeping their rank', () => {
    const keys = new Map([
      ['id-a', 'a'],
      ['id-b', 'b'],
    ]);
    const hits = [{ courseId: 'id-b' }, { courseId: 'id-zz' }, { courseId: 'id-b' }, { courseId: 'id-a' }];
    expect(coursesRanking(hits, keys)).toEqual(['b', 'unknown:id-zz', 'a']);
    expect(dedupe(['a', 'b', 'a'])).toEqual(['a', 'b']);
  });

  it('scores a run per query, on average and per kind', () => {
    const queries: Array<{ id: string; kind: string; judgements: Record<string, number> }> = [
      { id: 'q1', kind: 'exact', judgements: { a: 3 } },
      { id: 'q2', kind: 'exact', judgements: { b: 3 } },
      { id: 'q3', kind: 'french', judgements: { c: 2, d: 1 } },
    ];
    const run = scoreRun(
      queries,
      new Map([
        ['q1', ['a']],
        ['q2', ['x']],
        ['q3', ['c']],
      ]),
    );
    expect(run.perQuery.map((s) => s.ndcg10)).toEqual([1, 0, expect.any(Number)]);
    expect(run.byKind.exact).toEqual({ ndcg10: 0.5, recall20: 0.5, queries: 2 });
    expect(run.byKind.french?.recall20).toBe(0.5);
    expect(run.recall20).toBeCloseTo((1 + 0 + 0.5) / 3, 10);
  });

  it('percentiles by nearest rank', () => {
    const sample = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(sample, 50)).toBe(50);
    expect(percentile(sample, 95)).toBe(95);
    expect(percentile(sample, 99)).toBe(99);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });
});

describe('search relevance set', () => {
  const corpus = buildCorpus();

  it('is at least 60 courses, some in French, each with modules of lessons of a few paragraphs', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(60);
    expect(corpus.filter((c) => c.language === 'fr').length).toBeGreaterThanOrEqual(10);
    expect(new Set(corpus.map((c) => c.key)).size).toBe(corpus.length);
    expect(new Set(corpus.map((c) => c.category)).size).toBeGreaterThanOrEqual(15);
    for (const c of corpus) {
      expect(c.modules.length, c.key).toBeGreaterThanOrEqual(2);
      for (const m of c.modules) {
        expect(m.lessons.length, m.key).toBeGreaterThanOrEqual(2);
        for (const l of m.lessons) expect(l.body.split('\n\n').length, l.key).toBeGreaterThanOrEqual(4);
      }
    }
  });

  it('comes out the same on every run', () => {
    expect(JSON.stringify(buildCorpus())).toBe(JSON.stringify(corpus));
  });

  it('is valid input for the REST API (course, module and lesson creation contracts)', () => {
    for (const c of corpus) {
      const { key: _k, modules, ...fields } = c;
      expect(courses.create.input.safeParse({ ...fields, visibility: 'public' }).error, c.key).toBeUndefined();
      for (const m of modules) {
        const courseId = '00000000-0000-4000-8000-000000000000';
        expect(courses.createModule.input.safeParse({ courseId, title: m.title, summary: m.summary }).error, m.key).toBeUndefined();
        for (const l of m.lessons) {
          const lesson = { moduleId: courseId, title: l.title, durationMinutes: 15, content: { type: 'markdown', body: l.body } };
          expect(courses.createLesson.input.safeParse(lesson).error, l.key).toBeUndefined();
        }
      }
    }
  });

  it('has at least 50 queries of every kind, judged only on documents that exist', () => {
    expect(QUERIES.length).toBeGreaterThanOrEqual(50);
    expect(new Set(QUERIES.map((q) => q.id)).size).toBe(QUERIES.length);
    const kinds = new Map<string, number>();
    for (const q of QUERIES) kinds.set(q.kind, (kinds.get(q.kind) ?? 0) + 1);
    for (const kind of ['exact', 'content', 'misspelling', 'synonym', 'paraphrase', 'french']) expect(kinds.get(kind) ?? 0, kind).toBeGreaterThanOrEqual(8);
    const keys = new Set(corpus.map((c) => c.key));
    for (const q of QUERIES) {
      const grades = Object.entries(q.judgements);
      expect(grades.length, q.id).toBeGreaterThan(0);
      expect(Math.max(...grades.map(([, g]) => g)), q.id).toBe(3);
      for (const [key] of grades) expect(keys.has(key), `${q.id}: ${key}`).toBe(true);
    }
  });
});

describe('ILIKE baseline helpers', () => {
  it('escapes LIKE wildcards and splits queries into words', () => {
    expect(containsPattern('50%_off\\')).toBe('%50\\%\\_off\\\\%');
    expect(queryWords('How do I bake BREAD, bread?')).toEqual(['how', 'bake', 'bread']);
    expect(queryWords('impôt sur les sociétés')).toEqual(['impôt', 'sur', 'les', 'sociétés']);
  });
});

describe('semantic and hybrid references', () => {
  it('fuses rankings by reciprocal rank', () => {
    // a: 1/61 + 1/62; b: 1/62 + 1/61; c: 1/63; d: 1/61. a and b tie and sort by key.
    expect(
      fuseRrf([
        ['a', 'b', 'c'],
        ['d', 'a', 'b'],
      ]),
    ).toEqual(['a', 'b', 'd', 'c']);
    expect(fuseRrf([['a', 'b']], 60, 1)).toEqual(['a']);
    expect(fuseRrf([])).toEqual([]);
  });

  it('ranks courses by the best cosine of their texts with the query', async () => {
    // A test double of an embedder (not a model): one dimension per topic word, so the ranking logic can be checked exactly.
    const topics = ['bread', 'python', 'tax'];
    const fake = {
      model: 'topic-words-test-double',
      dimensions: topics.length,
      embed: async (texts: readonly string[]) =>
        texts.map((t) => {
          const v = Float32Array.from(topics.map((w) => (t.toLowerCase().includes(w) ? 1 : 0)));
          const n = Math.hypot(...v) || 1;
          return v.map((x) => x / n);
        }),
    };
    const corpus = buildCorpus().filter((c) => ['sourdough', 'python-intro', 'tax-law'].includes(c.key));
    const sourdough = corpus.find((c) => c.key === 'sourdough');
    if (!sourdough) throw new Error('no sourdough course');
    expect(courseTexts(sourdough)).toHaveLength(1 + 2 + 4);
    const rank = await semanticIndex(fake, corpus);
    expect((await rank('python'))[0]).toBe('python-intro');
    expect((await rank('tax'))[0]).toBe('tax-law');
    expect(await rank('bread', 1)).toEqual(['sourdough']);
  });
});
