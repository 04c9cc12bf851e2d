import { z } from 'zod';
import { domain, event, isoDate, mutation, query } from './core.js';

/** What a hit is: a course, one of its modules, a chunk of a lesson (one heading's section) or a file's text. */
export const searchDocType = z.enum(['course', 'module', 'lesson', 'file']);
export type SearchDocType = z.infer<typeof searchDocType>;
export const searchMode = z.enum(['lexical', 'semantic', 'hybrid']);
export type SearchMode = z.infer<typeof searchMode>;
export const searchSort = z.enum(['relevance', 'newest', 'popularity']);

/** The longest query the engine takes; longer is `SEARCH_QUERY_TOO_LONG` (400), not a validation error. */
export const SEARCH_QUERY_MAX = 200;

/** A comma-separated list in a query string, or an array over tRPC. */
const tagList = z
  .union([z.array(z.string().max(40)).max(10), z.string().max(440)])
  .transform((v) => (typeof v === 'string' ? v.split(',') : v).map((t) => t.trim().toLowerCase()).filter(Boolean))
  .pipe(z.array(z.string().max(40)).max(10));

export const searchInput = z.object({
  q: z
    .string()
    .max(2000)
    .default('')
    .meta({ description: `Words to find (at most ${SEARCH_QUERY_MAX} characters); empty: browse by filters` }),
  type: searchDocType.optional(),
  category: z.string().max(60).optional(),
  level: z.enum(['beginner', 'intermediate', 'advanced', 'all']).optional(),
  language: z.string().max(20).optional(),
  tags: tagList.optional().meta({ description: 'Comma-separated; every tag must match' }),
  sort: searchSort.default('relevance'),
  mode: searchMode.default('hybrid').meta({ description: 'hybrid: lexical and semantic ranks fused (RRF, k=60); lexical when no embedder is configured' }),
  cursor: z.string().max(200).optional().meta({ description: 'Opaque cursor from the previous page' }),
  limit: z.coerce.number().int().min(1).max(50).default(20),
});
export type SearchInput = z.infer<typeof searchInput>;

export const searchHit = z
  .object({
    id: z.string().meta({ description: 'The indexed document' }),
    type: searchDocType,
    courseId: z.uuid(),
    moduleId: z.uuid().nullable(),
    lessonId: z.uuid().nullable(),
    title: z.string(),
    /** HTML-escaped text with the matched words wrapped in `<mark>`: safe to insert as markup. */
    snippet: z.string(),
    language: z.string(),
    category: z.string().nullable(),
    level: z.string().nullable(),
    tags: z.array(z.string()),
    publishedAt: isoDate.nullable(),
    score: z.number(),
  })
  .meta({ id: 'SearchHit' });
export type SearchHit = z.infer<typeof searchHit>;

const facet = z.array(z.object({ value: z.string(), count: z.number().int() }));
export const searchResult = z
  .object({
    hits: z.array(searchHit),
    facets: z.object({
      type: facet,
      category: facet,
      level: facet,
      language: facet,
      tags: facet,
      duration: facet.meta({ description: 'Duration buckets: <1h, 1-5h, 5-20h, >20h' }),
      instructor: facet.meta({ description: 'Course owners by id (the index keeps no names)' }),
    }),
    total: z.number().int(),
    nextCursor: z.string().nullable(),
    didYouMean: z.string().nullable().meta({ description: 'A close spelling from the index, when the query found little' }),
    mode: searchMode.meta({ description: 'The mode actually used' }),
  })
  .meta({ id: 'SearchResult' });
export type SearchResult = z.infer<typeof searchResult>;

const count = z.number().int();
export const search = domain('search', {
  /** Full-text (and, with an embedder, semantic) search over what the caller may see. */
  query: query({
    input: searchInput,
    output: searchResult,
    permission: 'public',
    rest: { method: 'GET', path: '/search' },
    summary: 'Search courses, modules, lessons and files',
    errors: ['SEARCH_QUERY_TOO_LONG', 'BAD_REQUEST'],
  }),
  /** Titles that start with what was typed (autocomplete). */
  suggest: query({
    input: z.object({ q: z.string().max(100), limit: z.coerce.number().int().min(1).max(20).default(8) }),
    output: z.object({ suggestions: z.array(z.object({ text: z.string(), type: searchDocType, courseId: z.uuid() })) }),
    permission: 'public',
    rest: { method: 'GET', path: '/search/suggest' },
    summary: 'Autocomplete titles',
  }),
  /** Records that a hit of a search was opened (click-through). */
  click: mutation({
    input: z.object({ q: z.string().max(SEARCH_QUERY_MAX), documentId: z.string().max(120), position: z.number().int().min(0).max(1000) }),
    output: z.object({ recorded: z.literal(true) }),
    permission: 'public',
    rest: { method: 'POST', path: '/search/click' },
    summary: 'Record a search result click',
  }),
  /** Top queries, queries that found nothing, and click-through (admins). */
  analytics: query({
    input: z.object({ days: z.coerce.number().int().min(1).max(365).default(30), limit: z.coerce.number().int().min(1).max(100).default(20) }),
    output: z.object({
      top: z.array(z.object({ query: z.string(), searches: count, clicks: count })),
      zeroResults: z.array(z.object({ query: z.string(), searches: count })),
      searches: count,
      clickThrough: z.number().meta({ description: 'Searches followed by a click, per search' }),
    }),
    permission: 'search:manage',
    rest: { method: 'GET', path: '/search/analytics' },
    summary: 'Search analytics',
  }),
  /** Replaces the synonyms of a term (both ways: each word of the set finds the others). Empty removes the set. */
  setSynonyms: mutation({
    input: z.object({
      term: z.string().trim().toLowerCase().min(1).max(60),
      synonyms: z.array(z.string().trim().toLowerCase().min(1).max(60)).max(20),
    }),
    output: z.object({ term: z.string(), synonyms: z.array(z.string()) }),
    permission: 'search:manage',
    rest: { method: 'PUT', path: '/search/synonyms' },
    summary: 'Set the synonyms of a term',
  }),
  /** Every synonym set of the installation. */
  listSynonyms: query({
    input: z.object({}),
    output: z.object({ items: z.array(z.object({ term: z.string(), synonyms: z.array(z.string()) })) }),
    permission: 'search:manage',
    rest: { method: 'GET', path: '/search/synonyms' },
    summary: 'List synonyms',
  }),
});

/** Service-to-service and operator (`pnpm lms search reindex`): not published at the edge. */
export const searchInternal = domain('search', {
  /**
   * Rebuilds the index into shadow tables, one course at a time from courses' published snapshots, while the live
   * index keeps serving; then swaps them in one transaction. Answers when done.
   */
  reindex: mutation({
    input: z.object({}),
    output: z.object({ courses: z.number().int(), documents: z.number().int(), ms: z.number() }),
    permission: 'internal',
    summary: 'Rebuild the search index',
  }),
  /** Progress of a running rebuild (courses done of total), for the CLI's progress bar. */
  reindexStatus: query({
    input: z.object({}),
    output: z.object({ running: z.boolean(), done: z.number().int(), total: z.number().int() }),
    permission: 'internal',
    summary: 'Progress of a search rebuild',
  }),
});

export const searchEvents = {
  performed: event({
    subject: 'lms.search.performed.v1',
    stream: 'LMS_SEARCH',
    version: 1,
    summary: 'A search ran (for analytics): no personal data beyond the user id',
    payload: z.object({
      searchId: z.uuid(),
      query: z.string(),
      filters: z.record(z.string(), z.string()),
      results: z.number().int(),
      latencyMs: z.number(),
      mode: searchMode,
      userId: z.uuid().nullable(),
      at: isoDate,
    }),
  }),
};
