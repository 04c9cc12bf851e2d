// Taking a quiz: its summary and "start" (which resumes the open attempt if there is one), the attempt (answers
// autosaved as they change, with their `seq`; a countdown from the server's deadline; one question at a time when
// the quiz says so; submit after a confirmation) and the review, which shows only what the quiz's review options let
// the server send.
import type { Attempt, QuestionResponse } from '@lms/contracts';
import { errorCode } from '@lms/client';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { getRouteApi, Link, useNavigate } from '@tanstack/react-router';
import { useCallback, useEffect, useRef, useState } from 'react';
import { api } from '../api.ts';
import './assess.css';
import { Button, ErrorMessage, Loading, PageTitle } from '../ui.tsx';
import { StepHeading, formatDateTime } from './account-ui.tsx';
import { useAssessI18n, type AssessI18n } from './assess-i18n.ts';
import { answered, QuestionInput, responseText } from './questions.tsx';

const quizRoute = getRouteApi('/learn/$courseId/quiz/$quizId');
const attemptRoute = getRouteApi('/attempts/$attemptId');
const reviewRoute = getRouteApi('/attempts/$attemptId/review');

export function QuizPage() {
  const i18n = useAssessI18n();
  const { t, locale } = i18n;
  const { courseId, quizId } = quizRoute.useParams();
  const navigate = useNavigate();
  const summary = useQuery({ queryKey: ['quizSummary', quizId], queryFn: () => api.assessments.quizSummary.query({ quizId }) });
  const start = useMutation({
    mutationFn: () => api.attempts.start.mutate({ quizId }),
    onSuccess: (a) => navigate({ to: '/attempts/$attemptId', params: { attemptId: a.id } }),
  });
  if (summary.isError) return <ErrorMessage error={summary.error} />;
  if (!summary.data) return <Loading />;
  const s = summary.data;
  return (
    <div className="assess">
      <PageTitle>{s.title}</PageTitle>
      {s.description ? <p>{s.description}</p> : null}
      <ul className="facts">
        <li>{t('quizQuestions', { n: s.questions })}</li>
        <li>{t('quizPoints', { n: s.maxPoints })}</li>
        {s.timeLimitS ? <li>{t('quizTimeLimit', { n: Math.round(s.timeLimitS / 60) })}</li> : null}
        <li>{t('quizAttempts', { n: s.attemptsAllowed ?? t('quizUnlimited') })}</li>
        {s.opensAt ? <li>{t('quizOpens', { date: formatDateTime(locale, s.opensAt) })}</li> : null}
        {s.closesAt ? <li>{t('quizCloses', { date: formatDateTime(locale, s.closesAt) })}</li> : null}
      </ul>
      {s.navigation === 'one-at-a-time' ? <p className="notice">{t('quizOneAtATime')}</p> : null}
      <div className="actions">
        <Button isPending={start.isPending} onPress={() => start.mutate()}>
          {t('quizStart')}
        </Button>
        <Link to="/learn/$courseId" params={{ courseId }} search={{}} className="btn btn-secondary">
          {t('quizBackToCourse')}
        </Link>
      </div>
      {start.isError ? <ErrorMessage error={start.error} /> : null}
    </div>
  );
}

type SaveStatus = 'idle' | 'saving' | 'saved' | 'retrying';

/**
 * Autosave: each change is kept as the slot's pending answer with the next `seq` (above the server's), and sent after
 * a short pause; a failure (offline, 5xx) is retried with backoff while the status says "Not saved — retrying". The
 * server ignores a save whose seq is not above the stored one, so a late retry never overwrites a newer answer.
 */
function useAutosave(attemptId: string, onClosed: () => void) {
  const [status, setStatus] = useState<SaveStatus>('idle');
  const [error, setError] = useState<unknown>(null);
  const pending = useRef(new Map<number, { response: QuestionResponse; seq: number }>());
  const seqs = useRef(new Map<number, number>());
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const running = useRef<Promise<boolean> | null>(null);
  const backoff = useRef(1000);

  const send = useCallback(async (): Promise<boolean> => {
    clearTimeout(timer.current);
    for (const [slot, p] of [...pending.current]) {
      try {
        await api.attempts.saveAnswer.mutate({ attemptId, slot, response: p.response, seq: p.seq });
        if (pending.current.get(slot)?.seq === p.seq) pending.current.delete(slot);
      } catch (err) {
        const code = errorCode(err);
        if (code === 'ATTEMPT_CLOSED' || code === 'NOT_FOUND') {
          pending.current.clear();
          onClosed();
          return false;
        }
        if (code === 'VALIDATION_FAILED' || code === 'QUESTION_NOT_CURRENT') {
          pending.current.delete(slot);
          setError(err);
          continue;
        }
        setStatus('retrying');
        timer.current = setTimeout(() => void flush(), backoff.current);
        backoff.current = Math.min(backoff.current * 2, 30_000);
        return false;
      }
    }
    backoff.current = 1000;
    if (pending.current.size) return send();
    setStatus('saved');
    return true;
  }, [attemptId, onClosed]);

  /** Sends what is pending now (one run at a time); true once everything is saved. */
  const flush = useCallback(async (): Promise<boolean> => {
    while (running.current) await running.current;
    if (!pending.current.size) return true;
    running.current = send().finally(() => (running.current = null));
    return running.current;
  }, [send]);

  const change = useCallback(
    (slot: number, response: QuestionResponse, serverSeq: number) => {
      const seq = Math.max(seqs.current.get(slot) ?? serverSeq, serverSeq) + 1;
      seqs.current.set(slot, seq);
      pending.current.set(slot, { response, seq });
      setError(null);
      setStatus((s) => (s === 'retrying' ? s : 'saving'));
      clearTimeout(timer.current);
      timer.current = setTimeout(() => void flush(), 600);
    },
    [flush],
  );

  useEffect(() => () => clearTimeout(timer.current), []);
  // Leaving with unsaved answers: the browser asks first.
  useEffect(() => {
    const warn = (e: BeforeUnloadEvent) => {
      if (pending.current.size) e.preventDefault();
    };
    window.addEventListener('beforeunload', warn);
    return () => window.removeEventListener('beforeunload', warn);
  }, []);
  return { status, error, change, flush };
}

const pad = (n: number) => String(n).padStart(2, '0');
function clock(ms: number) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(s / 3600);
  return h ? `${h}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}` : `${pad(Math.floor(s / 60))}:${pad(s % 60)}`;
}
const ANNOUNCE_AT_MIN = [60, 30, 15, 10, 5, 2];

/**
 * The time left until the server's deadline, counted on the server's clock (its `serverTime` when it answered, plus
 * the time since): the visible clock ticks every second (role timer: not announced), and a polite live region says
 * the minutes left at a few marks only.
 */
function Countdown({
  deadline,
  serverTime,
  receivedAt,
  onExpire,
  i18n,
}: {
  deadline: string;
  serverTime: string;
  receivedAt: number;
  onExpire: () => void;
  i18n: AssessI18n;
}) {
  const { t } = i18n;
  const offset = Date.parse(serverTime) - receivedAt;
  const left = () => Date.parse(deadline) - (Date.now() + offset);
  const [ms, setMs] = useState(left);
  const [said, setSaid] = useState('');
  const lastMark = useRef<number | null>(null);
  const expired = useRef(false);
  // The latest callback and messages, read by the interval without restarting it on every render.
  const latest = useRef({ onExpire, t });
  latest.current = { onExpire, t };
  useEffect(() => {
    const tick = () => {
      const { t } = latest.current;
      const l = left();
      setMs(l);
      const min = Math.ceil(l / 60_000);
      const mark = l <= 60_000 ? 1 : ANNOUNCE_AT_MIN.find((m) => min <= m && min > m - 1);
      if (mark !== undefined && lastMark.current !== mark && l > 0) {
        if (lastMark.current !== null || l <= 60_000) setSaid(l <= 60_000 ? t('timeLeftLastMinute') : t('timeLeftAnnounce', { n: mark }));
        lastMark.current = mark;
      } else if (lastMark.current === null) lastMark.current = -1; // opened between marks: announce from the next one
      if (l <= 0 && !expired.current) {
        expired.current = true;
        latest.current.onExpire();
      }
    };
    tick();
    const id = setInterval(tick, 1000);
    return () => clearInterval(id);
  }, [deadline, serverTime, receivedAt]);
  return (
    <div className={`timer${ms < 60_000 ? ' timer-low' : ''}`}>
      <span id="timer-label">{t('timeLeft')}</span>{' '}
      <span role="timer" aria-labelledby="timer-label" className="timer-clock">
        {clock(ms)}
      </span>
      <span className="sr-only" aria-live="polite">
        {said}
      </span>
    </div>
  );
}

export function AttemptPage() {
  const i18n = useAssessI18n();
  const { t } = i18n;
  const { attemptId } = attemptRoute.useParams();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const attempt = useQuery({
    queryKey: ['attempt', attemptId],
    queryFn: () => api.attempts.get.query({ attemptId }),
    refetchOnWindowFocus: false,
  });
  const quizId = attempt.data?.quizId;
  const summary = useQuery({
    queryKey: ['quizSummary', quizId],
    queryFn: () => api.assessments.quizSummary.query({ quizId: quizId ?? '' }),
    enabled: !!quizId,
  });
  const [answers, setAnswers] = useState<Record<number, QuestionResponse | null>>({});
  const [confirming, setConfirming] = useState(false);
  const questionHeading = useRef<HTMLHeadingElement>(null);
  const toReview = useCallback(() => navigate({ to: '/attempts/$attemptId/review', params: { attemptId }, replace: true }), [navigate, attemptId]);
  const onClosed = useCallback(() => void queryClient.invalidateQueries({ queryKey: ['attempt', attemptId] }), [queryClient, attemptId]);
  const save = useAutosave(attemptId, onClosed);

  const submit = useMutation({
    mutationFn: async () => {
      await save.flush();
      return api.attempts.submit.mutate({ attemptId });
    },
    onSuccess: async (a) => {
      queryClient.setQueryData(['attempt', attemptId], a);
      await queryClient.invalidateQueries({ queryKey: ['progress', a.courseId] });
      await toReview();
    },
  });
  const next = useMutation({
    mutationFn: async (from: number) => {
      await save.flush();
      return api.attempts.next.mutate({ attemptId, from });
    },
    onSuccess: (a) => {
      queryClient.setQueryData(['attempt', attemptId], a);
      requestAnimationFrame(() => questionHeading.current?.focus());
    },
  });

  // A submitted attempt (by the server at the deadline, or in another tab) has nothing to answer: its review.
  const state = attempt.data?.state;
  useEffect(() => {
    if (state && state !== 'in_progress') void toReview();
  }, [state, toReview]);

  if (attempt.isError) return <ErrorMessage error={attempt.error} />;
  if (!attempt.data) return <Loading />;
  const a: Attempt = attempt.data;
  const title = summary.data?.title ?? '';
  const response = (slot: number, server: QuestionResponse | null) => (slot in answers ? (answers[slot] ?? null) : server);
  const unanswered = a.questions.filter((q) => !answered(response(q.slot, q.response))).length + (a.currentSlot ? a.questionCount - a.currentSlot : 0);
  const last = a.currentSlot === null || a.currentSlot >= a.questionCount;
  const statusText = { idle: t('saveIdle'), saving: t('saveSaving'), saved: t('saveSaved'), retrying: t('saveRetrying') }[save.status];

  return (
    <div className="assess attempt">
      <div className="attempt-head">
        <PageTitle>{a.preview ? t('attemptPreviewTitle', { title }) : t('attemptTitle', { title, n: a.number })}</PageTitle>
        {a.deadline ? (
          <Countdown
            deadline={a.deadline}
            serverTime={a.serverTime}
            receivedAt={attempt.dataUpdatedAt}
            i18n={i18n}
            onExpire={() => {
              if (!submit.isPending) submit.mutate();
            }}
          />
        ) : null}
        <p className={`save-status save-${save.status}`} role="status">
          {statusText}
        </p>
      </div>
      {save.error ? <ErrorMessage error={save.error} /> : null}
      <form
        className="questions"
        onSubmit={(e) => {
          e.preventDefault();
        }}
      >
        {a.questions.map((q) => (
          <section key={q.slot} className="card question-card" aria-labelledby={`q-${q.slot}`}>
            <h2 id={`q-${q.slot}`} tabIndex={-1} ref={a.currentSlot === q.slot ? questionHeading : undefined}>
              {t('questionN', { n: q.slot, total: a.questionCount })} <span className="muted">({t('questionPoints', { n: q.points })})</span>
            </h2>
            <QuestionInput
              q={q.question}
              response={response(q.slot, q.response)}
              onChange={(r) => {
                setAnswers((m) => ({ ...m, [q.slot]: r }));
                save.change(q.slot, r, q.seq);
              }}
            />
          </section>
        ))}
      </form>
      <div className="actions">
        {!last && a.currentSlot !== null ? (
          <Button isPending={next.isPending} onPress={() => next.mutate(a.currentSlot ?? 1)}>
            {t('nextQuestion')}
          </Button>
        ) : null}
        {last && !confirming ? <Button onPress={() => setConfirming(true)}>{t('submitAttempt')}</Button> : null}
      </div>
      {next.isError ? <ErrorMessage error={next.error} /> : null}
      {confirming ? (
        <section className="card confirm" aria-labelledby="confirm-title">
          <StepHeading id="confirm-title">{t('submitConfirmTitle')}</StepHeading>
          <p>{t('submitConfirmBody', { n: unanswered })}</p>
          <div className="actions">
            <Button isPending={submit.isPending} onPress={() => submit.mutate()}>
              {t('submitConfirm')}
            </Button>
            <Button variant="secondary" onPress={() => setConfirming(false)}>
              {t('submitCancel')}
            </Button>
          </div>
          {submit.isError ? <ErrorMessage error={submit.error} /> : null}
        </section>
      ) : null}
    </div>
  );
}

export function ReviewPage() {
  const i18n = useAssessI18n();
  const { t } = i18n;
  const { attemptId } = reviewRoute.useParams();
  const attempt = useQuery({ queryKey: ['attempt', attemptId], queryFn: () => api.attempts.get.query({ attemptId }) });
  const review = useQuery({ queryKey: ['review', attemptId], queryFn: () => api.attempts.review.query({ attemptId }) });
  const quizId = attempt.data?.quizId;
  const summary = useQuery({
    queryKey: ['quizSummary', quizId],
    queryFn: () => api.assessments.quizSummary.query({ quizId: quizId ?? '' }),
    enabled: !!quizId,
  });
  if (review.isError) return <ErrorMessage error={review.error} />;
  if (attempt.isError) return <ErrorMessage error={attempt.error} />;
  if (!review.data || !attempt.data) return <Loading />;
  const r = review.data;
  const a = attempt.data;
  const correctness = { correct: t('reviewCorrect'), partial: t('reviewPartial'), incorrect: t('reviewIncorrect') };
  return (
    <div className="assess review">
      <PageTitle>{`${t('reviewTitle')}: ${summary.data?.title ?? ''}`}</PageTitle>
      <p className="review-grade">
        {r.grade
          ? t('reviewGrade', { points: r.grade.points, max: r.grade.maxPoints, percent: Math.round(r.grade.percent * 10) / 10 })
          : r.state === 'submitted'
            ? `${t('reviewSubmitted')} ${t('reviewWaiting')}`
            : t('reviewNoGrade')}
      </p>
      {a.auto ? <p className="notice">{t('timeUp')}</p> : null}
      <ol className="review-questions">
        {r.questions.map((q) => {
          const answer = responseText(q.question, q.response, t);
          return (
            <li key={q.slot} className="card">
              <h2>{t('questionN', { n: q.slot, total: r.questions.length })}</h2>
              <p className="q-prompt">{q.question.prompt}</p>
              <p>{answer ? t('reviewYourAnswer', { answer }) : t('reviewNoAnswer')}</p>
              {q.correct !== undefined ? (
                <p className={q.correct ? `result result-${q.correct}` : 'muted'}>{q.correct ? correctness[q.correct] : t('reviewWaiting')}</p>
              ) : null}
              {q.points !== undefined && q.points !== null ? <p>{t('reviewPoints', { points: q.points, max: q.maxPoints })}</p> : null}
              {q.feedback?.map((f, i) => (
                <p key={i} className="feedback">
                  {f}
                </p>
              ))}
              {q.generalFeedback ? <p className="feedback">{q.generalFeedback}</p> : null}
              {q.rightAnswer ? <p>{t('reviewRightAnswer', { answer: q.rightAnswer })}</p> : null}
              {q.comment ? <p>{t('reviewComment', { comment: q.comment })}</p> : null}
            </li>
          );
        })}
      </ol>
      <div className="actions">
        <Link to="/learn/$courseId/grades" params={{ courseId: a.courseId }} className="btn btn-secondary">
          {t('reviewGrades')}
        </Link>
        <Link to="/learn/$courseId" params={{ courseId: a.courseId }} search={{}} className="btn btn-secondary">
          {t('quizBackToCourse')}
        </Link>
      </div>
    </div>
  );
}
