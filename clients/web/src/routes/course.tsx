// A course's page: what it is and enrolment. Signed out, it shows what the catalogue knew (courses.get needs a
// session: there is no public course-by-id query yet) and offers to sign in.
import type { Course, Enrollment } from '@lms/contracts';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { getRouteApi, Link, useRouterState } from '@tanstack/react-router';
import { api } from '../api.ts';
import { useI18n } from '../i18n.ts';
import { useSession } from '../session.ts';
import { Button, ErrorMessage, Loading, PageTitle } from '../ui.tsx';
import { CourseFacts } from './catalogue.tsx';

const route = getRouteApi('/courses/$courseId');

function EnrolmentState({ enrollment, courseId }: { enrollment: Enrollment; courseId: string }) {
  const { t } = useI18n();
  switch (enrollment.status) {
    case 'active':
    case 'completed':
      return (
        <div className="notice" role="status">
          <p>{t(enrollment.status === 'completed' ? 'courseCompleted' : 'courseEnrolled')}</p>
          <Link to="/learn/$courseId" params={{ courseId }} search={{}} className="btn btn-primary">
            {t('courseContinue')}
          </Link>
        </div>
      );
    case 'waitlisted':
      return (
        <p className="notice" role="status">
          {t('courseWaitlisted', { n: enrollment.waitlistPosition ?? '?' })}
        </p>
      );
    case 'pending':
      return (
        <p className="notice" role="status">
          {t('coursePending')}
        </p>
      );
    default:
      return null;
  }
}

export function CoursePage() {
  const { t } = useI18n();
  const { courseId } = route.useParams();
  const session = useSession();
  const here = useRouterState({ select: (s) => s.location.href });
  const queryClient = useQueryClient();

  const course = useQuery<Course>({
    queryKey: ['course', courseId],
    queryFn: () => api.courses.get.query({ courseId }),
    enabled: !!session,
  });
  // No "my enrollment in this course" query: the caller's enrollments, first page (enough for a first version).
  const mine = useQuery({
    queryKey: ['enrollments', 'mine'],
    queryFn: () => api.enrollments.mine.query({ limit: 100 }),
    enabled: !!session,
  });
  const enrollment = mine.data?.items.find((e) => e.courseId === courseId && e.status !== 'dropped' && e.status !== 'failed');
  const enrol = useMutation({
    mutationFn: () => api.enrollments.enrol.mutate({ courseId }),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ['enrollments'] });
      await queryClient.invalidateQueries({ queryKey: ['dashboard'] });
    },
  });

  if (!course.data) {
    if (!session)
      return (
        <>
          <PageTitle>{t('courseSignInToEnrol')}</PageTitle>
          <p>{t('courseSignInToSee')}</p>
          <Link to="/signin" search={{ redirect: here }} className="btn btn-primary">
            {t('navSignIn')}
          </Link>
        </>
      );
    if (course.isError) return <ErrorMessage error={course.error} />;
    return <Loading />;
  }
  const c = course.data;
  const shown = enrol.data ?? enrollment;
  return (
    <article className="course">
      <p>
        <Link to="/" search={{}}>
          {t('courseBack')}
        </Link>
      </p>
      <PageTitle>{c.title}</PageTitle>
      {c.summary ? <p className="lead">{c.summary}</p> : null}
      <CourseFacts course={c} />
      {c.description ? <div className="description">{c.description}</div> : null}
      <section aria-live="polite">
        {!session ? (
          <Link to="/signin" search={{ redirect: here }} className="btn btn-primary">
            {t('courseSignInToEnrol')}
          </Link>
        ) : shown ? (
          <EnrolmentState enrollment={shown} courseId={courseId} />
        ) : mine.isPending ? (
          <Loading />
        ) : (
          <Button isPending={enrol.isPending} onPress={() => enrol.mutate()}>
            {enrol.isPending ? t('courseEnrolling') : t('courseEnrol')}
          </Button>
        )}
        {enrol.isError ? <ErrorMessage error={enrol.error} /> : null}
      </section>
    </article>
  );
}
