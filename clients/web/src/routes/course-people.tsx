// A course's people: its members and their course roles (courses.members / addMember / removeMember), its learners
// with their progress (enrollments.roster), and bulk enrolment from a CSV file or pasted emails
// (enrollments.bulkEnrol) with the report of every row.
import type { CourseContent } from '@lms/contracts';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { getRouteApi, Link } from '@tanstack/react-router';
import { useState } from 'react';
import { Form } from 'react-aria-components';
import { api } from '../api.ts';
import { Button, ErrorMessage, Field, Loading, PageTitle } from '../ui.tsx';
import { formValue } from './signin.tsx';
import { useTeachI18n, type TeachKey } from './teach-i18n.ts';
import { AreaField, SelectField } from './teach-ui.tsx';

const route = getRouteApi('/teach/$courseId/people');
type Role = Awaited<ReturnType<typeof api.courses.members.query>>['items'][number]['role'];
type BulkResult = Awaited<ReturnType<typeof api.enrollments.bulkEnrol.mutate>>;
type Outcome = BulkResult['rows'][number]['outcome'];

const roleKeys: Record<Role, TeachKey> = { owner: 'roleOwner', instructor: 'roleInstructor', ta: 'roleTa', learner: 'roleLearner' };
const addableRoles = ['instructor', 'ta', 'learner'] as const;
const outcomeKey = (o: Outcome) => `outcome_${o}` as TeachKey;

function Members({ courseId }: { courseId: string }) {
  const { tt } = useTeachI18n();
  const queryClient = useQueryClient();
  const members = useQuery({ queryKey: ['teach', 'members', courseId], queryFn: () => api.courses.members.query({ courseId, limit: 100 }) });
  const [formKey, setFormKey] = useState(0);
  const [done, setDone] = useState('');
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['teach', 'members', courseId] });
  const add = useMutation({
    mutationFn: (v: { userId: string; role: (typeof addableRoles)[number] }) => api.courses.addMember.mutate({ courseId, ...v }),
    onMutate: () => setDone(''),
    onSuccess: async () => {
      await refresh();
      setFormKey((k) => k + 1);
      setDone(tt('memberAdded'));
    },
  });
  const remove = useMutation({
    mutationFn: (userId: string) => api.courses.removeMember.mutate({ courseId, userId }),
    onMutate: () => setDone(''),
    onSuccess: async () => {
      await refresh();
      setDone(tt('memberRemoved'));
    },
  });
  return (
    <section className="teach-section">
      <h2 id="members">{tt('membersTitle')}</h2>
      {members.isError ? (
        <ErrorMessage error={members.error} />
      ) : !members.data ? (
        <Loading />
      ) : (
        <div className="table-wrap" role="region" aria-labelledby="members" tabIndex={0}>
          <table>
            <thead>
              <tr>
                <th scope="col">{tt('memberName')}</th>
                <th scope="col">{tt('memberEmail')}</th>
                <th scope="col">{tt('memberRole')}</th>
                <th scope="col">{tt('memberActions')}</th>
              </tr>
            </thead>
            <tbody>
              {members.data.items.map((m) => (
                <tr key={m.userId}>
                  <td>{m.displayName ?? tt('unknownName')}</td>
                  <td>{m.email ?? ''}</td>
                  <td>{tt(roleKeys[m.role])}</td>
                  <td>
                    {m.role === 'owner' ? null : (
                      <Button
                        variant="secondary"
                        isPending={remove.isPending}
                        aria-label={tt('removeNamed', { name: m.displayName ?? m.userId })}
                        onPress={() => remove.mutate(m.userId)}
                      >
                        {tt('removeMember')}
                      </Button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {remove.isError ? <ErrorMessage error={remove.error} /> : null}
      <h3>{tt('addMemberTitle')}</h3>
      <Form
        key={formKey}
        className="row"
        onSubmit={(e) => {
          e.preventDefault();
          const f = e.currentTarget;
          const role = addableRoles.find((r) => r === formValue(f, 'role')) ?? 'ta';
          add.mutate({ userId: formValue(f, 'userId').trim(), role });
        }}
      >
        <Field label={tt('userId')} name="userId" isRequired description={tt('userIdHint')} />
        <SelectField label={tt('memberRole')} name="role" defaultValue="ta" options={addableRoles.map((r) => ({ value: r, label: tt(roleKeys[r]) }))} />
        <Button type="submit" isPending={add.isPending}>
          {tt('addMember')}
        </Button>
      </Form>
      <p role="status" className="save-state">
        {done ? <span className="done">✓ {done}</span> : null}
      </p>
      {add.isError ? <ErrorMessage error={add.error} /> : null}
    </section>
  );
}

function Learners({ courseId }: { courseId: string }) {
  const { t, tt } = useTeachI18n();
  const roster = useQuery({ queryKey: ['teach', 'roster', courseId], queryFn: () => api.enrollments.roster.query({ courseId, limit: 100 }) });
  const statusKey = {
    active: 'statusActive',
    completed: 'statusCompleted',
    pending: 'statusPending',
    waitlisted: 'statusWaitlisted',
    dropped: 'statusDropped',
    failed: 'statusFailed',
  } as const;
  return (
    <section className="teach-section">
      <h2 id="learners">{tt('learnersTitle')}</h2>
      {roster.isError ? (
        <ErrorMessage error={roster.error} />
      ) : !roster.data ? (
        <Loading />
      ) : roster.data.items.length === 0 ? (
        <p>{tt('learnersEmpty')}</p>
      ) : (
        <div className="table-wrap" role="region" aria-labelledby="learners" tabIndex={0}>
          <table>
            <thead>
              <tr>
                <th scope="col">{tt('memberName')}</th>
                <th scope="col">{tt('memberEmail')}</th>
                <th scope="col">{tt('learnerStatus')}</th>
                <th scope="col">{tt('learnerProgress')}</th>
              </tr>
            </thead>
            <tbody>
              {roster.data.items.map((r) => (
                <tr key={r.enrollmentId}>
                  <td>{r.displayName ?? tt('unknownName')}</td>
                  <td>{r.email ?? ''}</td>
                  <td>{t(statusKey[r.status])}</td>
                  <td>{Math.round(r.percent)} %</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function BulkEnrol({ courseId }: { courseId: string }) {
  const { tt, errorMessage } = useTeachI18n();
  const queryClient = useQueryClient();
  const [csv, setCsv] = useState('');
  const bulk = useMutation({
    mutationFn: () => api.enrollments.bulkEnrol.mutate({ courseId, csv }),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['teach', 'roster', courseId] }),
  });
  const report = bulk.data;
  return (
    <section className="teach-section">
      <h2 id="bulk">{tt('bulkTitle')}</h2>
      <Form
        onSubmit={(e) => {
          e.preventDefault();
          bulk.mutate();
        }}
      >
        <label className="field">
          <span>{tt('bulkFile')}</span>
          <input
            type="file"
            accept=".csv,text/csv,text/plain"
            onChange={(e) => {
              const file = e.target.files?.[0];
              if (file) void file.text().then(setCsv);
            }}
          />
        </label>
        <AreaField label={tt('bulkText')} name="csv" value={csv} onChange={setCsv} isRequired rows={6} description={tt('bulkHint')} />
        <Button type="submit" isPending={bulk.isPending}>
          {tt('bulkSubmit')}
        </Button>
      </Form>
      {bulk.isError ? <ErrorMessage error={bulk.error} /> : null}
      <div role="status">
        {report ? (
          <>
            <h3>{tt('bulkReport')}</h3>
            <p>
              {tt('bulkSummary', {
                enrolled: report.summary.enrolled,
                waitlisted: report.summary.waitlisted,
                already: report.summary.already_enrolled,
                unknown: report.summary.unknown_user,
                invalid: report.summary.invalid,
                failed: report.summary.failed,
              })}
            </p>
          </>
        ) : null}
      </div>
      {report ? (
        <div className="table-wrap" role="region" aria-label={tt('bulkReport')} tabIndex={0}>
          <table>
            <thead>
              <tr>
                <th scope="col">{tt('bulkLine')}</th>
                <th scope="col">{tt('memberEmail')}</th>
                <th scope="col">{tt('bulkOutcome')}</th>
                <th scope="col">{tt('bulkMessage')}</th>
              </tr>
            </thead>
            <tbody>
              {report.rows.map((r) => (
                <tr key={r.line}>
                  <td>{r.line}</td>
                  <td>{r.email}</td>
                  <td>{tt(outcomeKey(r.outcome))}</td>
                  {/* The server's message is English: an error code is shown translated, other details only for failures. */}
                  <td>{errorMessage(r.message ?? undefined) ?? (r.outcome === 'failed' ? r.message : '')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

export function CoursePeople() {
  const { tt } = useTeachI18n();
  const { courseId } = route.useParams();
  // The editor's cached working copy when it was opened first; the course's title otherwise.
  const content = useQuery<CourseContent>({
    queryKey: ['teach', 'content', courseId],
    queryFn: () => api.courses.content.query({ courseId, version: 'draft' }),
  });
  if (content.isError) return <ErrorMessage error={content.error} />;
  if (!content.data) return <Loading />;
  return (
    <>
      <p className="row">
        <Link to="/teach">{tt('teachBack')}</Link>
        <Link to="/teach/$courseId" params={{ courseId }} search={{}}>
          {tt('editorTitle', { title: content.data.course.title })}
        </Link>
      </p>
      <PageTitle>{tt('rosterTitle', { title: content.data.course.title })}</PageTitle>
      <Members courseId={courseId} />
      <Learners courseId={courseId} />
      <BulkEnrol courseId={courseId} />
    </>
  );
}
