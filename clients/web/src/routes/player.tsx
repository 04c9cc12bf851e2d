// The course player: the module outline with what is locked and done, the lesson, "mark as complete" and the next
// lesson. Markdown is rendered by react-markdown into React elements: raw HTML in a lesson is dropped (never injected)
// and link URLs other than http(s), mailto and relative ones are removed.
import type { CourseContent, Lesson } from '@lms/contracts';
import { errorCode } from '@lms/client';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { getRouteApi, Link } from '@tanstack/react-router';
import { useEffect, useRef } from 'react';
import { api } from '../api.ts';
import { useI18n } from '../i18n.ts';
import { LessonMarkdown } from '../markdown.tsx';
import { Button, ErrorMessage, Loading, PageTitle } from '../ui.tsx';
import { Progress } from './dashboard.tsx';

const route = getRouteApi('/learn/$courseId');

function LessonBody({ lesson, courseId }: { lesson: Lesson; courseId: string }) {
  const { t } = useI18n();
  const c = lesson.content;
  switch (c.type) {
    case 'markdown':
      return <LessonMarkdown body={c.body} />;
    case 'link':
      return (
        <p>
          <a href={c.url} rel="noopener noreferrer" target="_blank">
            {t('playerOpenLink')}
          </a>
        </p>
      );
    case 'quiz':
      return (
        <p>
          <Link to="/learn/$courseId/quiz/$quizId" params={{ courseId, quizId: c.quizId }} className="btn btn-primary">
            {t('playerTakeQuiz')}
          </Link>
        </p>
      );
    default:
      return <p className="notice">{t('playerUnsupported')}</p>;
  }
}

export function Player() {
  const { t } = useI18n();
  const { courseId } = route.useParams();
  const search = route.useSearch();
  const queryClient = useQueryClient();
  const content = useQuery<CourseContent>({ queryKey: ['content', courseId], queryFn: () => api.courses.content.query({ courseId }) });
  const progress = useQuery({ queryKey: ['progress', courseId], queryFn: () => api.enrollments.progress.query({ courseId }) });
  const complete = useMutation({
    mutationFn: (lessonId: string) => api.enrollments.completeLesson.mutate({ lessonId, courseId }),
    onSuccess: async (p) => {
      queryClient.setQueryData(['progress', courseId], p);
      await queryClient.invalidateQueries({ queryKey: ['dashboard'] });
    },
  });
  const lessonHeading = useRef<HTMLHeadingElement>(null);
  const firstLesson = useRef(true);

  const lessons = content.data?.modules.flatMap((m) => m.lessons) ?? [];
  const state = new Map(progress.data?.modules.flatMap((m) => m.lessons.map((l) => [l.id, l] as const)) ?? []);
  const currentId = search.lesson ?? progress.data?.nextLesson?.id ?? lessons[0]?.id;
  const current = lessons.find((l) => l.id === currentId);
  const index = current ? lessons.indexOf(current) : -1;
  const next = index >= 0 ? lessons.slice(index + 1).find((l) => state.get(l.id)?.unlocked !== false) : undefined;

  // Without ?lesson= the player opens the next lesson to do; the address then names it, so that completing it (which
  // changes what is next) does not swap the lesson under the person.
  const navigate = route.useNavigate();
  useEffect(() => {
    if (!search.lesson && current) void navigate({ search: { lesson: current.id }, replace: true });
  }, [search.lesson, current, navigate]);

  // Moving between lessons stays on this route: move focus to the new lesson's heading (not on the first render).
  useEffect(() => {
    if (firstLesson.current) {
      firstLesson.current = false;
      return;
    }
    lessonHeading.current?.focus();
    complete.reset();
  }, [currentId]);

  if (content.isError) return <ErrorMessage error={content.error} />;
  if (progress.isError && errorCode(progress.error) === 'NOT_FOUND')
    return (
      <>
        <PageTitle>{content.data?.course.title ?? t('playerOutline')}</PageTitle>
        <p>{t('playerNotEnrolled')}</p>
        <Link to="/courses/$courseId" params={{ courseId }} className="btn btn-primary">
          {t('courseEnrol')}
        </Link>
      </>
    );
  if (progress.isError) return <ErrorMessage error={progress.error} />;
  if (!content.data || !progress.data) return <Loading />;

  const p = progress.data;
  const lessonState = current ? state.get(current.id) : undefined;
  return (
    <div className="player">
      <div className="player-head">
        <PageTitle>{content.data.course.title}</PageTitle>
        <Progress percent={p.percent} label={t('progressLabel')} />
        <Link to="/learn/$courseId/grades" params={{ courseId }}>
          {t('playerGrades')}
        </Link>
      </div>
      <nav className="outline" aria-label={t('playerOutline')}>
        {content.data.modules.map((m) => {
          const ms = p.modules.find((x) => x.id === m.id);
          return (
            <section key={m.id}>
              <h2>
                {m.title}
                {ms && !ms.unlocked ? <span className="badge"> ({t('playerLocked')})</span> : null}
              </h2>
              <ol>
                {m.lessons.map((l) => {
                  const ls = state.get(l.id);
                  const locked = ls ? !ls.unlocked : false;
                  return (
                    <li key={l.id} className={locked ? 'locked' : undefined}>
                      {locked ? (
                        <span>
                          {l.title} <span className="badge">({t('playerLocked')})</span>
                        </span>
                      ) : (
                        <Link
                          to="/learn/$courseId"
                          params={{ courseId }}
                          search={{ lesson: l.id }}
                          aria-current={l.id === current?.id ? 'page' : undefined}
                          activeOptions={{ includeSearch: true }}
                        >
                          {l.title}
                          {ls?.complete ? <span className="badge"> ✓ {t('playerDone')}</span> : null}
                        </Link>
                      )}
                    </li>
                  );
                })}
              </ol>
            </section>
          );
        })}
      </nav>
      <article className="lesson" aria-labelledby="lesson-title">
        {!current ? (
          <p>{p.completedAt ? t('playerAllDone') : t('playerPickLesson')}</p>
        ) : (
          <>
            <h2 id="lesson-title" ref={lessonHeading} tabIndex={-1}>
              {current.title}
            </h2>
            {lessonState && !lessonState.unlocked ? <p className="notice">{t('playerLockedBody')}</p> : <LessonBody lesson={current} courseId={courseId} />}
            <div className="lesson-actions" aria-live="polite">
              {lessonState?.complete ? (
                <p className="done" role="status">
                  ✓ {t('playerCompleted')}
                </p>
              ) : lessonState?.unlocked ? (
                <Button isPending={complete.isPending} onPress={() => complete.mutate(current.id)}>
                  {t('playerMarkComplete')}
                </Button>
              ) : null}
              {next ? (
                <Link to="/learn/$courseId" params={{ courseId }} search={{ lesson: next.id }} className="btn btn-secondary">
                  {t('playerNext')}: {next.title}
                </Link>
              ) : p.completedAt ? (
                <p>{t('playerAllDone')}</p>
              ) : null}
            </div>
            {complete.isError ? <ErrorMessage error={complete.error} /> : null}
          </>
        )}
      </article>
    </div>
  );
}
