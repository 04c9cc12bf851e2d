import {
  courseEvents,
  DomainError,
  enrollmentEvents,
  erasureReceipts,
  privacyExportContract,
  search,
  SEARCH_QUERY_MAX,
  searchEvents,
  searchInternal,
  userEvents,
  type SearchHit,
  type SearchMode,
  type SearchResult,
} from '@lms/contracts';
import { createEmbedder } from '@lms/embeddings';
import { ConfigError, consumerOf, defineService, invalidCursor } from '@lms/runtime';
import type { Kysely, Selectable } from 'kysely';
import { randomUUID } from 'node:crypto';
import { searchEnv, type SearchEnv } from './config.js';
import { decodeCursor, encodeCursor, fuse, highlight, termsOf } from './domain/text.js';
import { QueryEmbeddings, type Embedder } from './embedder.js';
import { IndexerWorker } from './indexer.worker.js';
import { Reindexer } from './reindexer.js';
import * as m0 from './migrations/20261202120000_search.js';
import { SearchRepository, type FacetRow, type Filters, type SearchDB, type TermGroups, type Viewer } from './search.repository.js';

interface SearchDeps {
  indexer: IndexerWorker;
  reindexer: Reindexer;
  queries: QueryEmbeddings | undefined;
}

const on = consumerOf<SearchDB, SearchRepository, SearchDeps>();

/** How many candidates each ranking contributes to a fused (hybrid) list. */
const FUSE_DEPTH = 200;
/** Fewer hits than this and a corrected spelling is offered. */
const FEW = 3;

type Doc = Selectable<SearchDB['documents']>;

function toHit(d: Doc, score: number, terms: readonly string[]): SearchHit {
  const text = d.content || d.summary || d.title;
  return {
    id: d.id,
    type: d.type as SearchHit['type'],
    courseId: d.course_id,
    moduleId: d.module_id,
    lessonId: d.lesson_id,
    title: d.title,
    snippet: highlight(text, terms),
    language: d.language,
    category: d.category,
    level: d.level,
    tags: d.tags,
    publishedAt: d.published_at ? new Date(d.published_at).toISOString() : null,
    score,
  };
}

function facetsOf(rows: readonly FacetRow[]): SearchResult['facets'] {
  const out: SearchResult['facets'] = { type: [], category: [], level: [], language: [], tags: [], duration: [], instructor: [] };
  for (const r of rows) {
    if (r.value === null || !(r.facet in out)) continue;
    out[r.facet as keyof SearchResult['facets']].push({ value: r.value, count: r.count });
  }
  for (const list of Object.values(out)) list.sort((a, b) => b.count - a.count || a.value.localeCompare(b.value));
  return out;
}

/**
 * The search service, with an optional embedder: without one (or where the index has no vector columns) semantic
 * and hybrid searches run lexically and say `mode: 'lexical'`.
 */
export function searchServiceWith(opts: { embedder?: Embedder } = {}) {
  return defineService({
    name: 'search',
    env: searchEnv,
    contracts: { ...search, ...searchInternal, ...privacyExportContract('search') },
    migrations: { '20261202120000_search': m0 },
    repository: (db: Kysely<SearchDB>) => new SearchRepository(db),
    deps: (s): SearchDeps => {
      const embedder = opts.embedder ?? embedderFor(s.config);
      const indexer = new IndexerWorker(s, embedder);
      return { indexer, reindexer: new Reindexer(s, indexer), queries: embedder && new QueryEmbeddings(embedder) };
    },
    started: async ({ indexer }) => indexer.start(),
    stopped: async ({ indexer }) => indexer.stop(),
    consumers: [
      // Every change that can change what is indexed of a course queues the course; the indexer reads it from
      // courses. Queueing is idempotent: a redelivery queues the same course again and the same documents come out.
      on({
        name: 'courses-published',
        event: courseEvents.published,
        handle: async ({ payload, repo, afterCommit, deps }) => {
          await repo.queue(payload.courseId);
          afterCommit(() => deps.indexer.kick());
        },
      }),
      on({
        name: 'courses-status',
        event: courseEvents.statusChanged,
        handle: async ({ payload, repo, afterCommit, deps }) => {
          await repo.queue(payload.courseId);
          afterCommit(() => deps.indexer.kick());
        },
      }),
      on({
        name: 'courses-content',
        event: courseEvents.contentUpdated,
        // Only course metadata changes a draft's document; a published course changes in the index when it is published.
        handle: async ({ payload, repo, afterCommit, deps }) => {
          if (payload.kind !== 'course') return;
          await repo.queue(payload.courseId);
          afterCommit(() => deps.indexer.kick());
        },
      }),
      on({
        name: 'courses-members',
        event: courseEvents.memberChanged,
        handle: async ({ payload: p, repo }) => {
          if (p.role === null) await repo.removeMember(p.courseId, p.userId);
          else await repo.putMember(p.courseId, p.userId, p.role);
        },
      }),
      on({
        name: 'enrollments-created',
        event: enrollmentEvents.created,
        handle: async ({ payload: p, repo }) => repo.putMember(p.courseId, p.userId, 'learner'),
      }),
      on({
        name: 'enrollments-changed',
        event: enrollmentEvents.changed,
        handle: async ({ payload: p, repo }) => {
          if (p.status === 'dropped' || p.status === 'failed') await repo.removeMember(p.courseId, p.userId, 'learner');
          else await repo.putMember(p.courseId, p.userId, 'learner');
        },
      }),
      // Erasure: memberships go, searches and clicks stay without the user's id; the index holds no names.
      on({
        name: 'user-deleted',
        event: userEvents.deleted,
        handle: async ({ payload: p, repo, emit, logger }) => {
          const erased = await repo.erasePerson(p.userId);
          logger.info({ requestId: p.requestId, userId: p.userId, ...erased }, 'search: user erased');
          await emit(erasureReceipts.search, { requestId: p.requestId, userId: p.userId, service: 'search' }, p.userId);
        },
      }),
    ],
    handlers: {
      async query({ input, caller, can, repo, deps, uow }) {
        const started = performance.now();
        if (input.q.length > SEARCH_QUERY_MAX)
          throw new DomainError('SEARCH_QUERY_TOO_LONG', `A search query has at most ${SEARCH_QUERY_MAX} characters`, { max: SEARCH_QUERY_MAX });
        const offset = input.cursor === undefined ? 0 : decodeCursor(input.cursor);
        if (offset === undefined) throw invalidCursor();
        const viewer: Viewer = { userId: caller?.userId ?? null, readAll: caller !== undefined && can('courses:read-all') };
        const filters: Filters = { type: input.type, category: input.category, level: input.level, language: input.language, tags: input.tags };

        // Each word with its synonyms and, for a word the index does not know, its closest spelling.
        const terms = termsOf(input.q);
        const [spelling, synonyms] = await Promise.all([repo.spelling(terms), repo.synonymsOf(terms)]);
        const groups: TermGroups = terms.map((t) => {
          const close = spelling.get(t);
          return [...new Set([t, ...(close ? [close] : []), ...(synonyms.get(t) ?? [])])];
        });
        const marks = groups.flat();

        const vectors = deps.queries !== undefined && input.q.trim() !== '' && (await repo.hasVectors());
        const mode: SearchMode = input.mode !== 'lexical' && input.sort === 'relevance' && vectors ? input.mode : 'lexical';
        let hits: SearchHit[];
        let total: number;
        if (mode === 'lexical') {
          const rows = await repo.lexical({ viewer, groups, filters, sort: input.sort, offset, limit: input.limit });
          total = rows[0]?.total ?? (offset > 0 ? offset : 0);
          hits = rows.map((r) => toHit(r, Number(r.rank), marks));
        } else {
          const queries = deps.queries;
          if (!queries) throw new Error('unreachable: semantic mode without an embedder');
          const vector = await queries.embed(input.q);
          const [semantic, lexical] = await Promise.all([
            repo.semantic({ viewer, vector, model: queries.embedder.model, filters, limit: FUSE_DEPTH }),
            mode === 'hybrid' ? repo.lexical({ viewer, groups, filters, sort: 'relevance', offset: 0, limit: FUSE_DEPTH }) : undefined,
          ]);
          const lists = [semantic];
          if (lexical) lists.push(lexical.map((r) => r.id));
          const fused = [...fuse(lists)].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
          total = fused.length;
          const page = fused.slice(offset, offset + input.limit);
          const rows = new Map(
            (
              await repo.documentsById(
                viewer,
                page.map(([id]) => id),
              )
            ).map((d) => [d.id, d]),
          );
          hits = page.flatMap(([id, score]) => {
            const d = rows.get(id);
            return d ? [toHit(d, score, marks)] : [];
          });
        }
        const facets = facetsOf(await repo.facets({ viewer, groups, filters }));
        const corrected = terms.map((t) => spelling.get(t) ?? t).join(' ');
        const didYouMean = total < FEW && terms.length > 0 && corrected !== terms.join(' ') ? corrected : null;
        const nextCursor = offset + input.limit < total ? encodeCursor(offset + input.limit) : null;

        const latencyMs = Math.round((performance.now() - started) * 100) / 100;
        const shown: Record<string, string> = {};
        for (const [k, v] of Object.entries({ ...filters, sort: input.sort, mode: input.mode }))
          if (v !== undefined) shown[k] = Array.isArray(v) ? v.join(',') : v;
        // Analytics: the first page of each search only (the next pages are the same search).
        if (offset === 0) {
          const performed = {
            searchId: randomUUID(),
            query: input.q.trim().toLowerCase(),
            filters: shown,
            results: total,
            latencyMs,
            mode,
            userId: viewer.userId,
          };
          await uow(async ({ repo: r, emit }) => {
            await r.recordSearch({ id: performed.searchId, ...performed });
            await emit(searchEvents.performed, { ...performed, at: new Date().toISOString() }, performed.searchId);
          });
        }
        return { hits, facets, total, nextCursor, didYouMean, mode };
      },
      async suggest({ input, caller, can, repo }) {
        const prefix = termsOf(input.q).join(' ');
        if (prefix.length === 0) return { suggestions: [] };
        const viewer: Viewer = { userId: caller?.userId ?? null, readAll: caller !== undefined && can('courses:read-all') };
        const rows = await repo.suggest(viewer, prefix, input.limit);
        return { suggestions: rows.map((r) => ({ text: r.title, type: r.type as SearchHit['type'], courseId: r.course_id })) };
      },
      async click({ input, caller, uow }) {
        await uow(({ repo }) =>
          repo.recordClick({ query: input.q.trim().toLowerCase(), documentId: input.documentId, position: input.position, userId: caller?.userId ?? null }),
        );
        return { recorded: true as const };
      },
      async analytics({ input, repo }) {
        const a = await repo.analytics(input.days, input.limit);
        return { top: a.top, zeroResults: a.zeroResults, searches: a.searches, clickThrough: a.searches ? a.clicked / a.searches : 0 };
      },
      async setSynonyms({ input, uow }) {
        const synonyms = [...new Set(input.synonyms.filter((s) => s !== input.term))];
        await uow(({ repo }) => repo.setSynonyms(input.term, synonyms));
        return { term: input.term, synonyms };
      },
      async listSynonyms({ repo }) {
        return { items: await repo.listSynonyms() };
      },
      async reindex({ deps }) {
        return deps.reindexer.run();
      },
      async reindexStatus({ deps }) {
        return deps.reindexer.status();
      },
      async privacyExport({ input, repo }) {
        const p = await repo.personal(input.userId);
        return {
          data: {
            memberships: p.memberships.map((m) => ({ courseId: m.course_id, role: m.role })),
            searches: p.searches.map((s) => ({ at: new Date(s.at).toISOString(), query: s.query, results: s.results })),
          },
        };
      },
    },
    dependencies: ['courses'],
  });
}

/**
 * The embedder the configuration names: the CPU model in this process (`local`, the default: loaded on first use),
 * an Ollama-protocol server, or none (`off`: every search is lexical and says so).
 */
export function embedderFor(config: SearchEnv): Embedder | undefined {
  switch (config.SEARCH_EMBEDDER) {
    case 'off':
      return undefined;
    case 'local':
      return createEmbedder({ provider: 'local' });
    case 'ollama':
      if (!config.SEARCH_OLLAMA_URL) throw new ConfigError(['SEARCH_OLLAMA_URL: required when SEARCH_EMBEDDER=ollama']);
      return createEmbedder({ provider: 'ollama', baseUrl: config.SEARCH_OLLAMA_URL, model: config.SEARCH_EMBED_MODEL });
  }
}

/** The service as the registry runs it: its embedder is the one SEARCH_EMBEDDER names. */
export const searchService = searchServiceWith();
