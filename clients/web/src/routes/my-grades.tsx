// The learner's own grades in a course (grades.myGrades): released grades only, each with its feedback, and the
// course total with its letter.
import type { CourseContent } from '@lms/contracts';
import { useQuery } from '@tanstack/react-query';
import { getRouteApi, Link } from '@tanstack/react-router';
import { api } from '../api.ts';
import './assess.css';
import { ErrorMessage, Loading, PageTitle } from '../ui.tsx';
import { useAssessI18n } from './assess-i18n.ts';

const route = getRouteApi('/learn/$courseId/grades');
const round = (n: number) => Math.round(n * 10) / 10;

export function MyGrades() {
  const { t } = useAssessI18n();
  const { courseId } = route.useParams();
  const content = useQuery<CourseContent>({ queryKey: ['content', courseId], queryFn: () => api.courses.content.query({ courseId }) });
  const grades = useQuery({ queryKey: ['myGrades', courseId], queryFn: () => api.grades.myGrades.query({ courseId }) });
  if (grades.isError) return <ErrorMessage error={grades.error} />;
  if (!grades.data) return <Loading />;
  const g = grades.data;
  const title = content.data ? `${t('gradesTitle')}: ${content.data.course.title}` : t('gradesTitle');
  return (
    <div className="assess">
      <PageTitle>{title}</PageTitle>
      {g.grades.length === 0 ? (
        <p>{t('gradesNone')}</p>
      ) : (
        <div className="table-wrap">
          <table className="grades">
            <thead>
              <tr>
                <th scope="col">{t('gradesItem')}</th>
                <th scope="col">{t('gradesScore')}</th>
                <th scope="col">{t('gradesFeedback')}</th>
              </tr>
            </thead>
            <tbody>
              {g.grades.map((row) => (
                <tr key={row.itemId}>
                  <th scope="row">{row.title}</th>
                  <td>
                    {row.points === null ? (
                      <span className="muted">{t('gradesNotGraded')}</span>
                    ) : (
                      <>
                        {round(row.points)} / {row.maxPoints}
                        {row.percent !== null ? ` (${round(row.percent)} %)` : ''}
                      </>
                    )}
                  </td>
                  <td>{row.feedback ?? ''}</td>
                </tr>
              ))}
            </tbody>
            <tfoot>
              <tr>
                <th scope="row">{t('gradesTotal')}</th>
                <td colSpan={2}>
                  {g.percent !== null ? `${round(g.percent)} %` : '—'}
                  {g.letter ? ` (${g.letter})` : ''}
                </td>
              </tr>
            </tfoot>
          </table>
        </div>
      )}
      <p>
        <Link to="/learn/$courseId" params={{ courseId }} search={{}}>
          {t('quizBackToCourse')}
        </Link>
      </p>
    </div>
  );
}
