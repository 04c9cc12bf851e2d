// Teaching: the courses the person owns (courses.list with `mine`), each with its draft/published state, and a form
// that creates a draft course (courses.create) and opens its editor.
import { useInfiniteQuery, useMutation, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate } from '@tanstack/react-router';
import { Form } from 'react-aria-components';
import { api } from '../api.ts';
import { Button, ErrorMessage, Field, Loading, PageTitle } from '../ui.tsx';
import { formValue } from './signin.tsx';
import { useTeachI18n } from './teach-i18n.ts';
import { SnapshotState } from './teach-ui.tsx';

const PAGE_SIZE = 20;

export function Teaching() {
  const { tt } = useTeachI18n();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const courses = useInfiniteQuery({
    queryKey: ['teach', 'list'],
    queryFn: ({ pageParam }) => api.courses.list.query({ mine: true, limit: PAGE_SIZE, cursor: pageParam }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  });
  const create = useMutation({
    mutationFn: (v: { title: string; category: string }) => api.courses.create.mutate(v),
    onSuccess: async (c) => {
      queryClient.setQueryData(['teach', 'course', c.id], c);
      await queryClient.invalidateQueries({ queryKey: ['teach', 'list'] });
      await navigate({ to: '/teach/$courseId', params: { courseId: c.id } });
    },
  });
  const items = courses.data?.pages.flatMap((p) => p.items) ?? [];

  return (
    <>
      <PageTitle>{tt('teachTitle')}</PageTitle>
      <p className="muted">{tt('teachIntro')}</p>
      <section className="teach-section" aria-labelledby="create-course">
        <h2 id="create-course">{tt('teachCreateTitle')}</h2>
        <Form
          onSubmit={(e) => {
            e.preventDefault();
            const f = e.currentTarget;
            create.mutate({ title: formValue(f, 'title'), category: formValue(f, 'category') });
          }}
        >
          <Field label={tt('teachCourseTitle')} name="title" isRequired minLength={3} maxLength={200} />
          <Field label={tt('teachCategory')} name="category" isRequired maxLength={60} description={tt('teachCategoryHint')} />
          <ErrorMessage error={create.error ?? undefined} />
          <Button type="submit" isPending={create.isPending}>
            {tt('teachCreate')}
          </Button>
        </Form>
      </section>
      <section className="teach-section" aria-labelledby="my-courses">
        <h2 id="my-courses">{tt('teachTitle')}</h2>
        {courses.isError ? (
          <ErrorMessage error={courses.error} />
        ) : courses.isPending ? (
          <Loading />
        ) : items.length === 0 ? (
          <p>{tt('teachEmpty')}</p>
        ) : (
          <ul className="cards">
            {items.map((c) => (
              <li key={c.id} className="card">
                <h3>
                  <Link to="/teach/$courseId" params={{ courseId: c.id }}>
                    {c.title}
                  </Link>
                </h3>
                <SnapshotState course={c} />
                <p className="row">
                  <Link to="/teach/$courseId/people" params={{ courseId: c.id }} aria-label={`${tt('teachRoster')}: ${c.title}`}>
                    {tt('teachRoster')}
                  </Link>
                </p>
              </li>
            ))}
          </ul>
        )}
        {courses.hasNextPage ? (
          <Button variant="secondary" isPending={courses.isFetchingNextPage} onPress={() => void courses.fetchNextPage()}>
            {tt('teachMore')}
          </Button>
        ) : null}
      </section>
    </>
  );
}
