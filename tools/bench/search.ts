/**
 * Search relevance and latency (issue 16), `pnpm bench --only search [--seconds 10] [--rate 100]`:
 * 1. One LMS node (gateway, auth, users, courses, search) on a fresh database; the relevance corpus (search/corpus.ts,
 *    65 courses with modules and lessons) created and published through the REST API, as an instructor would.
 * 2. Waits until every course is found by its title in each mode (the index is fed by events, so it lags the publish).
 * 3. Relevance: each of search/queries.ts's judged queries through GET /api/v1/search?q=…&mode=lexical|semantic|hybrid
 *    &limit=20, and the two ILIKE baselines (search/ilike.ts) straight in SQL over the same published courses in the same
 *    run; nDCG@10 and recall@20 (search/metrics.ts), overall and per query kind.
 * 4. Latency at a fixed rate (--rate per second for --seconds) through the gateway, as a signed-in learner: searches
 *    (the judged queries in turn, hybrid) and suggestions (prefixes of them); p50/p95/p99 and errors.
 * The response shape the search service answers is read in one place, `readHits`.
 */
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { args, benchStack, f, freePort, machine, root, SECONDS, start, table } from './common.ts';
import { buildCorpus, type CorpusCourse } from './search/corpus.ts';
import { ilikeSearch, type IlikeVariant } from './search/ilike.ts';
import { coursesRanking, percentile, scoreRun, type RunScore } from './search/metrics.ts';
import { QUERIES } from './search/queries.ts';
import { fuseRrf, semanticIndex } from './search/semantic.ts';
import { UseLiteEmbedder } from '@lms/embeddings';
import { SERVICES as REGISTRY } from '../services.ts';
import { http as req, waitFor } from '../test/support.ts';

export const SEARCH_MODES = ['lexical', 'semantic', 'hybrid'] as const;
export type SearchMode = (typeof SEARCH_MODES)[number];
/** Without a search service in the registry (a branch before it), the bench seeds and runs only the ILIKE baselines. */
const HAS_SEARCH = 'search' in REGISTRY;
const SERVICES = HAS_SEARCH ? 'gateway,auth,users,courses,search' : 'gateway,auth,users,courses';

export interface SearchHit {
  id: string;
  kind: 'course' | 'module' | 'lesson' | 'file';
  courseId: string;
  title: string;
  snippet: string;
}

/**
 * The hits of a GET /api/v1/search answer, as this bench assumes the service answers:
 * `{ hits: [{ id, kind, courseId, title, snippet }], facets, nextCursor, mode, didYouMean? }`. Adapt here if it differs.
 */
export function readHits(body: unknown): SearchHit[] {
  const hits = typeof body === 'object' && body !== null && 'hits' in body ? body.hits : undefined;
  if (!Array.isArray(hits)) throw new Error(`search answered without a hits array: ${JSON.stringify(body).slice(0, 200)}`);
  return hits.map((h: unknown, i): SearchHit => {
    const o = (typeof h === 'object' && h !== null ? h : {}) as Record<string, unknown>;
    if (typeof o.courseId !== 'string') throw new Error(`search hit ${i} has no courseId: ${JSON.stringify(h).slice(0, 200)}`);
    return {
      id: typeof o.id === 'string' ? o.id : '',
      kind: (o.kind as SearchHit['kind'] | undefined) ?? 'course',
      courseId: o.courseId,
      title: typeof o.title === 'string' ? o.title : '',
      snippet: typeof o.snippet === 'string' ? o.snippet : '',
    };
  });
}

/** One GET against the gateway: its status, parsed body and time in ms (a refused connection is status 0). */
async function timedGet(base: string, url: string, token: string): Promise<{ status: number; body: unknown; ms: number }> {
  const t = performance.now();
  try {
    const res = await fetch(`${base}${url}`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(15_000) });
    const text = await res.text();
    const ms = performance.now() - t;
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, body, ms };
  } catch {
    return { status: 0, body: undefined, ms: performance.now() - t };
  }
}

const searchUrl = (q: string, mode: SearchMode, limit = 20) => `/api/v1/search?${new URLSearchParams({ q, mode, limit: String(limit) }).toString()}`;
const suggestUrl = (q: string) => `/api/v1/search/suggest?${new URLSearchParams({ q }).toString()}`;

/** Runs `fn` over `items`, `n` at a time. */
async function pool<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      for (let i = next++; i < items.length; i = next++) {
        const item = items[i];
        if (item !== undefined) await fn(item);
      }
    }),
  );
}

/** Creates a course with its modules and lessons through the REST API and publishes it; returns its id. */
async function createCourse(base: string, token: string, c: CorpusCourse): Promise<string> {
  const ok = (r: { status: number; body: unknown }, what: string) => {
    if (r.status !== 201 && r.status !== 200) throw new Error(`${what}: HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
    return r.body as { id: string };
  };
  const { id } = ok(
    await req(
      base,
      'POST',
      '/api/v1/courses',
      {
        title: c.title,
        summary: c.summary,
        description: c.description,
        category: c.category,
        categories: [c.category],
        tags: c.tags,
        language: c.language,
        level: c.level,
        durationMinutes: c.durationMinutes,
        visibility: 'public',
      },
      token,
    ),
    `create ${c.key}`,
  );
  for (const m of c.modules) {
    const mod = ok(await req(base, 'POST', `/api/v1/courses/${id}/modules`, { title: m.title, summary: m.summary }, token), `module ${m.key}`);
    for (const l of m.lessons) {
      ok(
        await req(
          base,
          'POST',
          `/api/v1/modules/${mod.id}/lessons`,
          { title: l.title, durationMinutes: 15, content: { type: 'markdown', body: l.body } },
          token,
        ),
        `lesson ${l.key}`,
      );
    }
  }
  ok(await req(base, 'POST', `/api/v1/courses/${id}/publish`, undefined, token), `publish ${c.key}`);
  return id;
}

/** Requests at a fixed rate (one every 1000/rate ms, not waiting for answers) for `seconds`; their times and failures. */
async function fixedRate(rate: number, seconds: number, op: (i: number) => Promise<{ status: number; ms: number }>) {
  const ms: number[] = [];
  let errors = 0;
  const inflight: Array<Promise<void>> = [];
  const t0 = performance.now();
  const n = Math.max(1, Math.round(rate * seconds));
  for (let i = 0; i < n; i++) {
    const wait = t0 + (i * 1000) / rate - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    inflight.push(
      op(i).then((r) => {
        if (r.status === 200) ms.push(r.ms);
        else errors++;
      }),
    );
  }
  await Promise.all(inflight);
  return { ms, errors, seconds: (performance.now() - t0) / 1000 };
}

export async function searchBench(): Promise<string> {
  const rate = Number(args.rate);
  const corpus = buildCorpus();
  const { pg: dbInfo, env, teardown } = await benchStack(SERVICES.replace('gateway,', ''));
  const db = new pg.Client({ connectionString: dbInfo.url });
  const out: string[] = [];
  try {
    const port = await freePort();
    start(['tools/cli.ts', 'node', '--services', SERVICES], { ...env, PORT: String(port), NODE_ID: 'bench-search' });
    const base = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${base}/health/ready`).catch(() => undefined))?.status === 200 || undefined, 90_000, 250);
    await db.connect();
    // The first account is the administrator (it writes the courses); a learner searches.
    const admin = (
      await req(base, 'POST', '/api/v1/auth/register', { email: 'bench-search-admin@example.com', password: 'search bench password', displayName: 'Admin' })
    ).body as { accessToken: string };
    const learner = (
      await req(base, 'POST', '/api/v1/auth/register', { email: 'bench-search-learner@example.com', password: 'search bench password', displayName: 'Learner' })
    ).body as { accessToken: string };

    // 1. Seed through the API.
    const seeded = performance.now();
    const keyOfCourseId = new Map<string, string>();
    const idOfKey = new Map<string, string>();
    await pool(corpus, 4, async (c) => {
      const id = await createCourse(base, admin.accessToken, c);
      keyOfCourseId.set(id, c.key);
      idOfKey.set(c.key, id);
    });
    const seedSeconds = (performance.now() - seeded) / 1000;
    const lessons = corpus.reduce((n, c) => n + c.modules.reduce((m, mod) => m + mod.lessons.length, 0), 0);
    console.log(`seeded ${corpus.length} courses, ${lessons} lessons through the API in ${f(seedSeconds)} s`);

    // 2. Until each course is found by its title in every mode.
    const indexedAt: Record<string, number> = {};
    const modes = HAS_SEARCH ? SEARCH_MODES : [];
    if (!HAS_SEARCH) console.error('search bench: no search service in tools/services.ts; only the ILIKE baselines run');
    for (const mode of modes) {
      const missing = new Set(corpus.map((c) => c.key));
      await waitFor(
        async () => {
          await pool([...missing], 4, async (key) => {
            const c = corpus.find((x) => x.key === key);
            if (!c) return;
            const r = await timedGet(base, searchUrl(c.title, mode, 5), learner.accessToken);
            if (r.status === 200 && readHits(r.body).some((h) => h.courseId === idOfKey.get(key))) missing.delete(key);
          });
          return missing.size === 0;
        },
        120_000,
        500,
      ).catch(() =>
        console.error(`search bench: ${missing.size} courses still not found by title in ${mode} mode after 120 s: ${[...missing].slice(0, 5).join(', ')}…`),
      );
      indexedAt[mode] = (performance.now() - seeded) / 1000 - seedSeconds;
    }

    // 3. Relevance.
    const courseIds = [...keyOfCourseId.keys()];
    const scores = new Map<string, RunScore>();
    const methodMs = new Map<string, number[]>();
    for (const mode of modes) {
      const rankings = new Map<string, string[]>();
      const ms: number[] = [];
      for (const query of QUERIES) {
        const r = await timedGet(base, searchUrl(query.q, mode), learner.accessToken);
        if (r.status !== 200) throw new Error(`search ${mode} "${query.q}": HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
        ms.push(r.ms);
        rankings.set(query.id, coursesRanking(readHits(r.body), keyOfCourseId));
      }
      scores.set(mode, scoreRun(QUERIES, rankings));
      methodMs.set(mode, ms);
    }
    const sql = (text: string, params: unknown[]) => db.query(text, params);
    for (const variant of ['phrase', 'words'] as IlikeVariant[]) {
      const rankings = new Map<string, string[]>();
      const ms: number[] = [];
      for (const query of QUERIES) {
        const t = performance.now();
        const ids = await ilikeSearch(sql, variant, query.q, courseIds, 20);
        ms.push(performance.now() - t);
        rankings.set(
          query.id,
          coursesRanking(
            ids.map((courseId) => ({ courseId })),
            keyOfCourseId,
          ),
        );
      }
      scores.set(`ILIKE ${variant}`, scoreRun(QUERIES, rankings));
      methodMs.set(`ILIKE ${variant}`, ms);
    }
    // References without the service: the embedded model alone in this process, and its RRF with ILIKE words.
    const embedStarted = performance.now();
    const rank = await semanticIndex(new UseLiteEmbedder(), corpus);
    console.log(`embedded the corpus in this process in ${f((performance.now() - embedStarted) / 1000)} s`);
    const reference = new Map<string, string[]>();
    const fused = new Map<string, string[]>();
    const referenceMs: number[] = [];
    for (const query of QUERIES) {
      const t = performance.now();
      const semantic = await rank(query.q);
      referenceMs.push(performance.now() - t);
      reference.set(query.id, semantic);
      const words = coursesRanking(
        (await ilikeSearch(sql, 'words', query.q, courseIds, 20)).map((courseId) => ({ courseId })),
        keyOfCourseId,
      );
      fused.set(query.id, fuseRrf([words, semantic]));
    }
    scores.set('use-lite-512 in process (reference)', scoreRun(QUERIES, reference));
    methodMs.set('use-lite-512 in process (reference)', referenceMs);
    scores.set('RRF(ILIKE words, use-lite-512) (reference)', scoreRun(QUERIES, fused));
    const kinds = [...new Set(QUERIES.map((q) => q.kind))];
    out.push(
      table(
        `Relevance: ${QUERIES.length} judged queries over ${corpus.length} courses (${lessons} lessons), nDCG@10 / recall@20`,
        ['method', 'nDCG@10', 'recall@20', ...kinds.map((k) => `nDCG@10 ${k} (${QUERIES.filter((q) => q.kind === k).length})`), 'p50 ms (sequential)'],
        [...scores].map(([name, s]) => [
          name,
          f(s.ndcg10, 3),
          f(s.recall20, 3),
          ...kinds.map((k) => f(s.byKind[k]?.ndcg10 ?? NaN, 3)),
          f(percentile(methodMs.get(name) ?? [], 50), 1),
        ]),
      ),
    );
    const lexical = scores.get('lexical')?.ndcg10 ?? NaN;
    const semantic = scores.get('semantic')?.ndcg10 ?? NaN;
    const hybrid = scores.get('hybrid')?.ndcg10 ?? NaN;
    const best = Math.max(lexical, semantic);
    const verdict = !HAS_SEARCH
      ? 'No search service on this branch: the modes were not measured.'
      : `Hybrid nDCG@10 ${f(hybrid, 3)} against the best single method's ${f(best, 3)} (${lexical >= semantic ? 'lexical' : 'semantic'}): ${hybrid > best ? 'better' : 'not better'} by ${f(hybrid - best, 3)} (${f(((hybrid - best) / best) * 100, 1)} %).`;
    console.log(verdict);
    out.push(verdict, '');

    if (!HAS_SEARCH) return out.join('\n');
    // 4. Latency at a fixed rate.
    const searches = await fixedRate(rate, SECONDS, (i) =>
      timedGet(base, searchUrl(QUERIES[i % QUERIES.length]?.q ?? 'python', 'hybrid'), learner.accessToken),
    );
    const prefixes = QUERIES.flatMap((q) => [q.q.slice(0, 3), q.q.slice(0, 5)]);
    const suggests = await fixedRate(rate, SECONDS, (i) => timedGet(base, suggestUrl(prefixes[i % prefixes.length] ?? 'pyt'), learner.accessToken));
    const latencyRow = (name: string, s: { ms: number[]; errors: number; seconds: number }) => [
      name,
      s.ms.length + s.errors,
      f((s.ms.length + s.errors) / s.seconds, 0),
      f(percentile(s.ms, 50), 1),
      f(percentile(s.ms, 95), 1),
      f(percentile(s.ms, 99), 1),
      s.errors,
    ];
    out.push(
      table(
        `Latency through the gateway at ${rate}/s for ${SECONDS} s (a learner; searches in hybrid mode, limit 20)`,
        ['operation', 'requests', 'per s', 'p50 ms', 'p95 ms', 'p99 ms', 'errors'],
        [latencyRow('GET /api/v1/search', searches), latencyRow('GET /api/v1/search/suggest', suggests)],
      ),
    );
    out.push(
      `Seeding through the API took ${f(seedSeconds)} s; every course was found by its title ${SEARCH_MODES.map((m) => `${m} ${f(indexedAt[m] ?? NaN)} s`).join(', ')} after the last publish (polled every 0.5 s).`,
      '',
    );
    return out.join('\n');
  } finally {
    await db.end().catch(() => undefined);
    await teardown();
  }
}

/** Writes docs/benchmarks-search.md. */
export function writeSearchDoc(part: string, when: string): void {
  fs.writeFileSync(
    path.join(root, 'docs/benchmarks-search.md'),
    `# Search benchmark\n\nLatest \`pnpm bench --only search --seconds ${SECONDS} --rate ${args.rate}\` (${when}, ${machine()}). One LMS node (${SERVICES})\nwith PostgreSQL, NATS and the bench on the same machine; the corpus and judgements are tools/bench/search/, seeded through the\nREST API; the ILIKE baselines run in SQL over the same published courses in the same run.\n\n${part}\n`,
  );
}
