// /search?q=: the search service's hits (labelled course / module / lesson / file) with highlighted snippets, facet
// filters and sort in the URL, "did you mean", cursor pages, and a click recorded (search.click) when a hit is opened.
import type { SearchHit, SearchResult } from '@lms/contracts';
import { useInfiniteQuery } from '@tanstack/react-query';
import { getRouteApi, Link } from '@tanstack/react-router';
import type { ReactNode } from 'react';
import { api } from '../api.ts';
import { courseLevels } from '../search.ts';
import { snippetParts } from '../snippet.ts';
import { docTypeKey } from '../search-box.tsx';
import { Button, ErrorMessage, Loading, PageTitle } from '../ui.tsx';
import { levelKey } from './catalogue.tsx';
import { useSearchI18n, type SearchI18n } from './search-i18n.ts';

const route = getRouteApi('/search');
const PAGE_SIZE = 20;
const docTypeKeys = ['course', 'module', 'lesson', 'file'] as const;

/** The snippet as React text and `<mark>` elements (snippet.ts checks it): nothing is inserted as HTML. */
const snippetNodes = (snippet: string): ReactNode[] => snippetParts(snippet).map((p, i) => (p.mark ? <mark key={i}>{p.text}</mark> : p.text));

/** Where a hit opens: a lesson in the player, anything else on its course's page. */
function HitLink({ hit, onOpen, children }: { hit: SearchHit; onOpen: () => void; children: ReactNode }) {
  return hit.lessonId ? (
    <Link to="/learn/$courseId" params={{ courseId: hit.courseId }} search={{ lesson: hit.lessonId }} onClick={onOpen}>
      {children}
    </Link>
  ) : (
    <Link to="/courses/$courseId" params={{ courseId: hit.courseId }} onClick={onOpen}>
      {children}
    </Link>
  );
}

type FacetName = 'type' | 'category' | 'level' | 'language' | 'tags';
const FACETS: Array<{ name: FacetName; legend: 'facetType' | 'facetCategory' | 'facetLevel' | 'facetLanguage' | 'facetTags' }> = [
  { name: 'type', legend: 'facetType' },
  { name: 'category', legend: 'facetCategory' },
  { name: 'level', legend: 'facetLevel' },
  { name: 'language', legend: 'facetLanguage' },
  { name: 'tags', legend: 'facetTags' },
];

function facetLabel(i18n: SearchI18n, name: FacetName, value: string): ReactNode {
  if (name === 'type' && Object.hasOwn(docTypeKey, value)) return i18n.t(docTypeKey[value as keyof typeof docTypeKey]);
  const level = courseLevels.find((l) => l === value);
  if (name === 'level' && level) return i18n.t(levelKey[level]);
  if (name === 'language') return <span lang={value}>{value.toUpperCase()}</span>;
  return value;
}

export function SearchPage() {
  const i18n = useSearchI18n();
  const { t } = i18n;
  const search = route.useSearch();
  const navigate = route.useNavigate();
  const q = search.q ?? '';
  const tags = search.tags ? search.tags.split(',').filter(Boolean) : [];

  const results = useInfiniteQuery({
    queryKey: ['search', search],
    queryFn: ({ pageParam }) =>
      api.search.query.query({
        q,
        type: search.type,
        category: search.category,
        level: search.level,
        language: search.language,
        tags: tags.length ? tags : undefined,
        sort: search.sort ?? 'relevance',
        cursor: pageParam,
        limit: PAGE_SIZE,
      }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  });
  const first: SearchResult | undefined = results.data?.pages[0];
  const hits = results.data?.pages.flatMap((p) => p.hits) ?? [];

  const setSearch = (patch: Partial<typeof search>) => void navigate({ search: (s) => ({ ...s, ...patch }) });
  const isChecked = (name: FacetName, value: string) => (name === 'tags' ? tags.includes(value) : search[name] === value);
  const toggle = (name: FacetName, value: string, on: boolean) => {
    if (name === 'tags') {
      const next = on ? [...tags, value] : tags.filter((x) => x !== value);
      setSearch({ tags: next.length ? next.join(',') : undefined });
    } else if (name === 'type') setSearch({ type: on ? docTypeKeys.find((x) => x === value) : undefined });
    else if (name === 'level') setSearch({ level: on ? courseLevels.find((x) => x === value) : undefined });
    else setSearch({ [name]: on ? value : undefined });
  };
  const filtered = !!(search.type || search.category || search.level || search.language || tags.length);

  const count = first
    ? q
      ? first.total === 1
        ? t('searchCountOne', { q })
        : t('searchCount', { n: first.total, q })
      : t('searchCountAll', { n: first.total })
    : '';

  return (
    <>
      <PageTitle>{q ? t('searchTitleFor', { q }) : t('searchTitle')}</PageTitle>
      {/* Announced when the results change (a new query, a filter). */}
      <p role="status" className="search-count">
        {results.isSuccess ? count : ''}
      </p>
      {first?.didYouMean ? (
        <p className="did-you-mean">
          {t('searchDidYouMean')}{' '}
          <Link to="/search" search={{ ...search, q: first.didYouMean }}>
            {first.didYouMean}
          </Link>
        </p>
      ) : null}

      <div className="search-layout">
        <section aria-labelledby="search-filters" className="search-filters">
          <h2 id="search-filters">{t('searchFilters')}</h2>
          <label className="field">
            <span>{t('searchSort')}</span>
            <select
              value={search.sort ?? 'relevance'}
              onChange={(e) => setSearch({ sort: e.target.value === 'newest' || e.target.value === 'popularity' ? e.target.value : undefined })}
            >
              <option value="relevance">{t('sortRelevance')}</option>
              <option value="newest">{t('sortNewestFirst')}</option>
              <option value="popularity">{t('sortPopularity')}</option>
            </select>
          </label>
          {first
            ? FACETS.map(({ name, legend }) => {
                const values = first.facets[name];
                if (!values.length) return null;
                return (
                  <fieldset key={name} className="facet">
                    <legend>{t(legend)}</legend>
                    {values.map((f) => (
                      <label key={f.value} className="check">
                        <input type="checkbox" checked={isChecked(name, f.value)} onChange={(e) => toggle(name, f.value, e.target.checked)} />
                        <span>
                          {facetLabel(i18n, name, f.value)} <span className="muted">({f.count})</span>
                        </span>
                      </label>
                    ))}
                  </fieldset>
                );
              })
            : null}
          {filtered ? (
            <Link to="/search" search={{ q: search.q, sort: search.sort }}>
              {t('searchClearFilters')}
            </Link>
          ) : null}
        </section>

        <div className="search-results">
          {results.isPending ? <Loading /> : null}
          {results.isError ? <ErrorMessage error={results.error} /> : null}
          {results.isSuccess && hits.length === 0 ? <p>{q ? t('searchNone', { q }) : t('searchNoneAll')}</p> : null}
          <ol className="hits">
            {hits.map((hit, i) => (
              <li key={hit.id} className="hit">
                <p className="badge hit-type">{t(docTypeKey[hit.type])}</p>
                <h2>
                  <HitLink
                    hit={hit}
                    onOpen={() => void api.search.click.mutate({ q: q.slice(0, 200), documentId: hit.id, position: i }).catch(() => undefined)}
                  >
                    {hit.title}
                  </HitLink>
                </h2>
                {hit.snippet ? <p className="snippet">{snippetNodes(hit.snippet)}</p> : null}
              </li>
            ))}
          </ol>
          {results.hasNextPage ? (
            <Button variant="secondary" isPending={results.isFetchingNextPage} onPress={() => void results.fetchNextPage()}>
              {t('searchMore')}
            </Button>
          ) : null}
        </div>
      </div>
    </>
  );
}
