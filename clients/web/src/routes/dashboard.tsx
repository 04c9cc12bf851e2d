// The learner's dashboard: each course with its progress and the next lesson.
import type { EnrollmentStatus } from '@lms/contracts';
import { useQuery } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { Label, ProgressBar } from 'react-aria-components';
import { api } from '../api.ts';
import { useI18n, type MessageKey } from '../i18n.ts';
import { ErrorMessage, Loading, PageTitle } from '../ui.tsx';

const statusKey: Record<EnrollmentStatus, MessageKey> = {
  active: 'statusActive',
  completed: 'statusCompleted',
  pending: 'statusPending',
  waitlisted: 'statusWaitlisted',
  dropped: 'statusDropped',
  failed: 'statusFailed',
};

export function Progress({ percent, label }: { percent: number; label: string }) {
  return (
    <ProgressBar className="progress" value={percent} minValue={0} maxValue={100}>
      {({ percentage, valueText }) => (
        <>
          <div className="progress-label">
            <Label>{label}</Label>
            <span>{valueText}</span>
          </div>
          <div className="progress-track" aria-hidden="true">
            <div className="progress-fill" style={{ width: `${percentage ?? 0}%` }} />
          </div>
        </>
      )}
    </ProgressBar>
  );
}

export function Dashboard() {
  const { t } = useI18n();
  const dashboard = useQuery({ queryKey: ['dashboard'], queryFn: () => api.enrollments.dashboard.query({}) });
  return (
    <>
      <PageTitle>{t('dashboardTitle')}</PageTitle>
      {dashboard.isPending ? <Loading /> : null}
      {dashboard.isError ? <ErrorMessage error={dashboard.error} /> : null}
      {dashboard.data?.courses.length === 0 ? (
        <p>
          {t('dashboardEmpty')} <Link to="/">{t('dashboardBrowse')}</Link>
        </p>
      ) : null}
      <ul className="cards">
        {dashboard.data?.courses.map((c) => (
          <li key={c.courseId} className="card">
            <h2>
              <Link to="/courses/$courseId" params={{ courseId: c.courseId }}>
                {c.title}
              </Link>
            </h2>
            <p className="muted">{t(statusKey[c.status])}</p>
            <Progress percent={c.percent} label={t('progressLabel')} />
            {c.nextLesson ? (
              <p>
                <Link to="/learn/$courseId" params={{ courseId: c.courseId }} search={{ lesson: c.nextLesson.id }} className="btn btn-primary">
                  {t('dashboardResume')}
                </Link>{' '}
                <span className="muted">{t('dashboardNext', { title: c.nextLesson.title })}</span>
              </p>
            ) : null}
          </li>
        ))}
      </ul>
    </>
  );
}
