// The public catalogue (anonymous too): search, level, language and sort as courses.catalog allows, in cursor pages.
import type { Course } from '@lms/contracts';
import { useInfiniteQuery, useQueryClient } from '@tanstack/react-query';
import { getRouteApi, Link } from '@tanstack/react-router';
import { useEffect, useState } from 'react';
import { Form, Input, Label, SearchField } from 'react-aria-components';
import { api } from '../api.ts';
import { useI18n, type MessageKey } from '../i18n.ts';
import { courseLevels, type CourseLevel } from '../search.ts';
import { Button, ErrorMessage, Loading, PageTitle } from '../ui.tsx';

const route = getRouteApi('/');
const PAGE_SIZE = 12;

export const levelKey: Record<CourseLevel, MessageKey> = {
  beginner: 'levelBeginner',
  intermediate: 'levelIntermediate',
  advanced: 'levelAdvanced',
  all: 'levelAll',
};

export function CourseFacts({ course }: { course: Pick<Course, 'level' | 'durationMinutes' | 'language'> }) {
  const { t } = useI18n();
  return (
    <p className="facts muted">
      <span>{t(levelKey[course.level])}</span>
      {course.durationMinutes ? <span>{t('minutes', { n: course.durationMinutes })}</span> : null}
      <span lang={course.language}>{course.language.toUpperCase()}</span>
    </p>
  );
}

export function Catalogue() {
  const { t } = useI18n();
  const search = route.useSearch();
  const navigate = route.useNavigate();
  const queryClient = useQueryClient();
  const [q, setQ] = useState(search.q ?? '');
  useEffect(() => setQ(search.q ?? ''), [search.q]);

  const courses = useInfiniteQuery({
    queryKey: ['catalog', search],
    queryFn: ({ pageParam }) =>
      api.courses.catalog.query({
        q: search.q,
        level: search.level,
        language: search.language,
        sort: search.sort ?? 'newest',
        cursor: pageParam,
        limit: PAGE_SIZE,
      }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  });
  const items = courses.data?.pages.flatMap((p) => p.items) ?? [];
  // The course page shows what the catalogue already knows at once (and, signed out, only that: courses.get needs a session).
  useEffect(() => {
    for (const c of items) if (!queryClient.getQueryData(['course', c.id])) queryClient.setQueryData(['course', c.id], c);
  }, [items, queryClient]);

  const setFilter = (patch: Partial<typeof search>) => void navigate({ search: (s) => ({ ...s, ...patch }) });

  return (
    <>
      <PageTitle>{t('catalogueTitle')}</PageTitle>
      <Form
        className="filters"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setFilter({ q: q.trim() || undefined });
        }}
      >
        <SearchField className="field" value={q} onChange={setQ} onClear={() => setFilter({ q: undefined })}>
          <Label>{t('catalogueSearch')}</Label>
          <Input />
        </SearchField>
        <label className="field">
          <span>{t('catalogueLevel')}</span>
          <select value={search.level ?? ''} onChange={(e) => setFilter({ level: courseLevels.find((l) => l === e.target.value) })}>
            <option value="">{t('anyLevel')}</option>
            {courseLevels.map((l) => (
              <option key={l} value={l}>
                {t(levelKey[l])}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>{t('catalogueLanguage')}</span>
          <select value={search.language ?? ''} onChange={(e) => setFilter({ language: e.target.value || undefined })}>
            <option value="">{t('anyLanguage')}</option>
            <option value="en" lang="en">
              English
            </option>
            <option value="fr" lang="fr">
              Français
            </option>
          </select>
        </label>
        <label className="field">
          <span>{t('catalogueSort')}</span>
          <select value={search.sort ?? 'newest'} onChange={(e) => setFilter({ sort: e.target.value === 'title' ? 'title' : undefined })}>
            <option value="newest">{t('sortNewest')}</option>
            <option value="title">{t('sortTitle')}</option>
          </select>
        </label>
        <Button type="submit" variant="secondary">
          {t('catalogueSearch')}
        </Button>
      </Form>

      {courses.isPending ? <Loading /> : null}
      {courses.isError ? <ErrorMessage error={courses.error} /> : null}
      {courses.isSuccess && items.length === 0 ? <p>{t('noCourses')}</p> : null}
      <ul className="cards">
        {items.map((c) => (
          <li key={c.id} className="card">
            <h2>
              <Link to="/courses/$courseId" params={{ courseId: c.id }}>
                {c.title}
              </Link>
            </h2>
            {c.summary ? <p>{c.summary}</p> : null}
            <CourseFacts course={c} />
          </li>
        ))}
      </ul>
      {courses.hasNextPage ? (
        <Button variant="secondary" isPending={courses.isFetchingNextPage} onPress={() => void courses.fetchNextPage()}>
          {t('loadMore')}
        </Button>
      ) : null}
    </>
  );
}
