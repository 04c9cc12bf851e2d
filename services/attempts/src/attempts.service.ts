import { randomBytes, randomUUID } from 'node:crypto';
import {
  assessmentEvents,
  assessmentsInternal,
  attempts,
  attemptsInternal,
  coursePermissionsOf,
  coursesInternal,
  DomainError,
  erasureReceipts,
  filesInternal,
  privacyExportContract,
  userEvents,
  type CoursePermission,
  type QuizForAttempt,
  questionTypes,
  type QuestionType,
} from '@lms/contracts';
import { draw, itemStatistics, present, rightAnswer, score } from '@lms/question-engine';
import {
  consumerOf,
  decodeCursor,
  defineService,
  encodeCursor,
  isNotFound,
  keysetPage,
  PollingWorker,
  type Call,
  type Caller,
  type Emit,
  type Logger,
  type RunUnit,
} from '@lms/runtime';
import type { Kysely } from 'kysely';
import { AttemptsRepository, type AttemptRow, type AttemptsDB, type NewQuestion, type OverrideRow, type QuestionRow } from './attempts.repository.js';
import { attemptsEnv } from './config.js';
import * as m0 from './migrations/20261201100000_attempts.js';
import * as m1 from './migrations/20261202140000_grade_changes.js';
import * as m2 from './migrations/20261202150000_navigation.js';
import { correctnessOf, deadlineOf, gradeByMethod, gradeValueOf, reviewAllowed, seededShuffle } from './rules.js';

const noSuchQuiz = () => new DomainError('NOT_FOUND', 'No such quiz');
const noSuchAttempt = () => new DomainError('NOT_FOUND', 'No such attempt');
const closed = () => new DomainError('ATTEMPT_CLOSED', 'This attempt was submitted or its time is up: answers are no longer accepted');
const notCurrent = (currentSlot: number) =>
  new DomainError('QUESTION_NOT_CURRENT', 'This quiz shows one question at a time: only the current question takes answers', { currentSlot });

/** Quiz definitions, cached briefly per quiz (a change shows up within `ttlMs`). */
class QuizCache {
  private readonly quizzes = new Map<string, { at: number; quiz: Promise<QuizForAttempt> }>();
  constructor(private readonly ttlMs: number) {}

  get(call: Call, quizId: string): Promise<QuizForAttempt> {
    const hit = this.quizzes.get(quizId);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.quiz;
    const quiz = call(assessmentsInternal.quizForAttempt, { quizId });
    this.quizzes.set(quizId, { at: Date.now(), quiz });
    quiz.catch(() => this.quizzes.delete(quizId));
    const oldest = this.quizzes.keys().next();
    if (this.quizzes.size > 10_000 && !oldest.done) this.quizzes.delete(oldest.value);
    return quiz;
  }
}

/** What an autosave needs of an attempt, cached per node (fixed at start: owner and question types per slot). */
interface AttemptShape {
  userId: string;
  types: string[];
}

/** Attempts the deadline worker submits per transaction. */
const DEADLINE_BATCH = 20;

/** Submits attempts past their deadline with what was saved: a timer per near deadline, and a poll behind it. */
class DeadlineWorker extends PollingWorker<string> {
  private readonly timers = new Set<NodeJS.Timeout>();
  constructor(
    log: Logger,
    pollMs: number,
    private readonly uow: RunUnit<AttemptsDB, AttemptsRepository>,
    private readonly repo: AttemptsRepository,
  ) {
    super(log, pollMs, 2);
  }

  /** Wakes the worker just after `deadline` (deadlines beyond an hour are left to the poll). */
  arm(deadline: Date | null): void {
    if (!deadline || this.stopped) return;
    const ms = deadline.getTime() - Date.now() + 5;
    if (ms > 3_600_000) return;
    const t = setTimeout(
      () => {
        this.timers.delete(t);
        this.kick();
      },
      Math.max(0, ms),
    );
    t.unref();
    this.timers.add(t);
  }

  async armUpcoming(): Promise<void> {
    for (const d of await this.repo.upcomingDeadlines(3_600_000)) this.arm(d);
  }

  override async stop(waitMs?: number): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await super.stop(waitMs);
  }

  /**
   * Submits up to DEADLINE_BATCH due attempts in one unit of work: at a shared deadline (a class's timed quiz) one
   * transaction per attempt spent most of its time on BEGIN, the claim and COMMIT's WAL flush, and the last attempts of
   * 1,000 were graded tens of seconds late (issue 14). A learner's own submit meanwhile waits for the batch's lock.
   */
  protected async claim(): Promise<string | undefined> {
    return this.uow(async ({ repo, emit }) => {
      const due = await repo.dueAttempts(DEADLINE_BATCH);
      for (const a of due) await finalize(repo, emit, a, true);
      return due.at(-1)?.id;
    });
  }

  protected async run(): Promise<void> {}
}

interface AttemptsDeps {
  quizzes: QuizCache;
  shapes: Map<string, AttemptShape>;
  deadlines: DeadlineWorker;
}

/**
 * Scores every question of an open attempt and closes it (in the caller's unit of work, the attempt locked); answers
 * the closed attempt and its questions as scored.
 */
async function finalize(repo: AttemptsRepository, emit: Emit, a: AttemptRow, auto: boolean): Promise<{ row: AttemptRow; questions: QuestionRow[] }> {
  const questions = await repo.questions(a.id);
  let points = 0;
  let manual = false;
  const scored = questions.map((q) => {
    const s = score(q.body, q.draw, q.response);
    if (s.fraction === null) manual = true;
    else points += Math.max(0, s.fraction) * q.points;
    return { slot: q.slot, fraction: s.fraction, feedback: s.feedback };
  });
  await repo.scoreQuestions(a.id, scored);
  const now = new Date();
  const after = await repo.finish(a.id, { state: manual ? 'submitted' : 'graded', points: manual ? null : points, auto, submittedAt: now, graded: !manual });
  const result = { row: after, questions: questions.map((q, i) => ({ ...q, fraction: scored[i]?.fraction ?? null, feedback: scored[i]?.feedback ?? null })) };
  if (a.preview) return result;
  await emit(
    assessmentEvents.submitted,
    { kind: 'quiz', assessmentId: a.quiz_id, courseId: a.course_id, userId: a.user_id, attemptId: a.id, submittedAt: now.toISOString(), auto },
    a.user_id,
  );
  if (!manual) await emitGraded(repo, emit, after, false);
  return result;
}

/** The learner's grade on the quiz now (by its grading method), with this attempt's: the graded event. */
async function emitGraded(repo: AttemptsRepository, emit: Emit, a: AttemptRow, regrade: boolean): Promise<void> {
  if (a.preview || a.points === null) return;
  const s = a.settings;
  const all = await repo.gradedAttempts(a.quiz_id, a.user_id);
  const item = gradeValueOf(
    gradeByMethod(
      s.gradingMethod,
      all.map((x) => x.points ?? 0),
    ) ?? a.points,
    a.max_points,
  );
  const released = reviewAllowed(s, true, a.closes_at, new Date(), false).score;
  await emit(
    assessmentEvents.graded,
    {
      kind: 'quiz',
      assessmentId: a.quiz_id,
      courseId: a.course_id,
      userId: a.user_id,
      attemptId: a.id,
      attempt: gradeValueOf(a.points, a.max_points),
      grade: item,
      passed: s.passPercent === null ? null : item.percent >= s.passPercent,
      released,
      regrade,
      gradedAt: new Date().toISOString(),
      feedback: null,
    },
    a.user_id,
  );
}

/** Recomputes an attempt's points from its questions' fractions; graded once no question waits for a person. */
async function rescore(repo: AttemptsRepository, a: AttemptRow): Promise<AttemptRow> {
  const questions = await repo.questions(a.id);
  const pending = questions.some((q) => q.fraction === null);
  const points = questions.reduce((sum, q) => sum + Math.max(0, q.fraction ?? 0) * q.points, 0);
  return repo.finish(a.id, { state: pending ? 'submitted' : 'graded', points: pending ? null : points, graded: !pending });
}

async function roleIn(call: Call, courseId: string, caller: Caller) {
  const r = await call(coursesInternal.roleOf, { courseId, userId: caller.userId });
  return { ...r, perms: coursePermissionsOf(r.role ?? undefined) };
}

/** Course staff holding one of `permissions`; anyone else learns nothing (404). */
async function staffOf(call: Call, quizzes: QuizCache, quizId: string, caller: Caller, permissions: CoursePermission[]) {
  const quiz = await quizzes.get(call, quizId).catch((err: unknown) => {
    throw isNotFound(err, 'NOT_FOUND') ? noSuchQuiz() : err;
  });
  const r = await roleIn(call, quiz.courseId, caller);
  if (!r.exists || !r.visible || !permissions.some((p) => r.perms.has(p))) throw noSuchQuiz();
  return quiz;
}

const invalidFiles = (message: string) =>
  new DomainError('VALIDATION_FAILED', `Invalid input: response.fileIds: ${message}`, { issues: [{ path: 'response.fileIds', message, code: 'custom' }] });

/** Whether a media type is one a file question accepts (`image/*` takes any image). */
const accepts = (pattern: string, type: string) => (pattern.endsWith('/*') ? type.startsWith(pattern.slice(0, -1)) : pattern === type);

/**
 * A file response's files: the learner's own (files.describe), not rejected, no more than the question's `maxFiles`, of
 * a type it accepts; then the course's graders may read them (files.grantRead: the marker of a file question opens
 * the files). Asked before the save (no call inside a unit of work): a save then refused (the attempt closed between)
 * leaves the graders able to read the learner's file, nothing more. The save itself answers for a closed attempt.
 */
async function acceptFiles(call: Call, repo: AttemptsRepository, attemptId: string, slot: number, fileIds: string[], caller: Caller): Promise<void> {
  const a = await repo.attempt(attemptId);
  if (!a || a.user_id !== caller.userId || a.state !== 'in_progress') return;
  const body = (await repo.questions(attemptId)).find((q) => q.slot === slot)?.body;
  if (body?.type !== 'file') return;
  const ids = [...new Set(fileIds)];
  if (ids.length > body.maxFiles) throw invalidFiles(`at most ${body.maxFiles} file(s)`);
  for (const fileId of ids) {
    const f = await call(filesInternal.describe, { fileId }).catch((err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    if (!f || f.ownerId !== caller.userId) throw invalidFiles(`file ${fileId} is not one of your files`);
    if (f.state === 'rejected') throw invalidFiles(`file ${fileId} was rejected`);
    if (body.accept.length > 0 && !body.accept.some((t) => accepts(t, f.contentType))) {
      throw invalidFiles(`file ${fileId} is ${f.contentType}; this question takes ${body.accept.join(', ')}`);
    }
  }
  await call(filesInternal.grantRead, { fileIds: ids, ownerId: caller.userId, courseId: a.course_id });
}

/** An attempt as its owner sees it: with one question at a time, only the current question while it is open. */
function toAttempt(a: AttemptRow, questions: QuestionRow[]) {
  const current = a.state === 'in_progress' ? a.current_slot : null;
  const shown = current === null ? questions : questions.filter((q) => q.slot === current);
  return {
    id: a.id,
    quizId: a.quiz_id,
    courseId: a.course_id,
    userId: a.user_id,
    number: a.number,
    preview: a.preview,
    state: a.state,
    startedAt: a.started_at.toISOString(),
    deadline: a.deadline?.toISOString() ?? null,
    submittedAt: a.submitted_at?.toISOString() ?? null,
    auto: a.auto,
    serverTime: new Date().toISOString(),
    currentSlot: current,
    questionCount: questions.length,
    questions: shown.map((q) => ({
      slot: q.slot,
      points: q.points,
      question: present(q.prompt, q.body, q.draw),
      response: q.response,
      seq: q.seq,
      savedAt: q.saved_at?.toISOString() ?? null,
    })),
  };
}

function toSummary(a: AttemptRow, ungraded: number[]) {
  return {
    id: a.id,
    userId: a.user_id,
    number: a.number,
    state: a.state,
    startedAt: a.started_at.toISOString(),
    submittedAt: a.submitted_at?.toISOString() ?? null,
    auto: a.auto,
    grade: a.points === null ? null : gradeValueOf(a.points, a.max_points),
    ungraded,
  };
}

/** One question as review shows it: the key-derived fields only where `allow` says. */
function reviewOf(q: QuestionRow, allow: ReturnType<typeof reviewAllowed>, s?: { fraction: number | null; feedback: string[] }) {
  const fraction = s ? s.fraction : q.fraction;
  const feedback = s ? s.feedback : (q.feedback ?? []);
  return {
    slot: q.slot,
    question: present(q.prompt, q.body, q.draw),
    response: q.response,
    maxPoints: q.points,
    ...(allow.score && { points: fraction === null ? null : Math.max(0, fraction) * q.points, comment: q.comment }),
    ...(allow.correctness && { correct: correctnessOf(fraction) }),
    ...(allow.feedback && { feedback, generalFeedback: q.general_feedback }),
    ...(allow.rightAnswer && { rightAnswer: rightAnswer(q.body, q.draw).text }),
  };
}

const on = consumerOf<AttemptsDB, AttemptsRepository, AttemptsDeps>();

/** Quiz execution: attempts, autosave, submission and the deadline, review, overrides, grading, regrades. */
export const attemptsService = defineService({
  name: 'attempts',
  env: attemptsEnv,
  contracts: { ...attempts, ...attemptsInternal, ...privacyExportContract('attempts') },
  migrations: { '20261201100000_attempts': m0, '20261202140000_grade_changes': m1, '20261202150000_navigation': m2 },
  // Not 'assessments': a node runs (resume, autosave, submit) while authoring is away; starts then fail fast.
  dependencies: ['courses'],
  repository: (db: Kysely<AttemptsDB>) => new AttemptsRepository(db),
  deps: (s): AttemptsDeps => ({
    quizzes: new QuizCache(s.config.ATTEMPTS_QUIZ_CACHE_MS),
    shapes: new Map(),
    deadlines: new DeadlineWorker(s.runtime.logger('attempts.deadlines'), s.config.ATTEMPTS_DEADLINE_POLL_MS, s.uow, s.repo),
  }),
  started: async ({ deadlines }) => {
    deadlines.start();
    await deadlines.armUpcoming();
  },
  stopped: async ({ deadlines }) => deadlines.stop(),
  consumers: [
    on({
      name: 'question-corrected',
      event: assessmentEvents.questionCorrected,
      handle: async ({ payload: p, repo, emit }) => {
        const touched = new Map<string, AttemptRow>();
        for (const { attempt, question } of await repo.usesOf(p.questionId, p.version)) {
          await repo.replaceBody(attempt.id, question.slot, p.body);
          if (attempt.state === 'in_progress') continue; // scored with the corrected key when submitted
          const s = score(p.body, question.draw, question.response);
          // A person's grade of a manual question stands.
          if (question.graded_by !== null) continue;
          const oldPoints = question.fraction === null ? null : Math.max(0, question.fraction) * question.points;
          const newPoints = s.fraction === null ? null : Math.max(0, s.fraction) * question.points;
          await repo.scoreQuestion(attempt.id, question.slot, s.fraction, s.feedback, true);
          await repo.addRegrade({
            attempt_id: attempt.id,
            quiz_id: attempt.quiz_id,
            slot: question.slot,
            question_id: p.questionId,
            version: p.version,
            old_points: oldPoints,
            new_points: newPoints,
          });
          touched.set(attempt.id, attempt);
        }
        for (const a of touched.values()) {
          const after = await rescore(repo, a);
          if (after.state === 'graded') await emitGraded(repo, emit, after, true);
        }
      },
    }),
    on({
      name: 'user-deleted',
      event: userEvents.deleted,
      handle: async ({ payload: p, repo, emit }) => {
        await repo.eraseUser(p.userId);
        await emit(erasureReceipts.attempts, { requestId: p.requestId, userId: p.userId, service: 'attempts' }, p.userId);
      },
    }),
  ],
  handlers: {
    async start({ input, caller, call, repo, uow, deps }) {
      const quiz = await deps.quizzes.get(call, input.quizId).catch((err: unknown) => {
        throw isNotFound(err, 'NOT_FOUND') ? noSuchQuiz() : err;
      });
      const r = await roleIn(call, quiz.courseId, caller);
      const staff = r.exists && r.perms.has('course:view-drafts');
      if (!r.exists || !r.visible || !(staff || r.role === 'learner')) throw noSuchQuiz();
      if (!quiz.published && !staff) throw noSuchQuiz();
      const preview = staff;
      const s = quiz.settings;
      const row = await uow(async ({ repo, emit }) => {
        await repo.lockLearner(quiz.quizId, caller.userId);
        const open = await repo.openAttempt(quiz.quizId, caller.userId);
        if (open) {
          if (!open.deadline || open.deadline > new Date()) return open; // resume
          await finalize(repo, emit, open, true); // its time ran out: submitted with what was saved
        }
        const now = new Date();
        const o = preview ? undefined : await repo.override(quiz.quizId, caller.userId);
        const closesAt = o?.closes_at ?? (s.closesAt ? new Date(s.closesAt) : null);
        if (!preview) {
          if ((s.opensAt && new Date(s.opensAt) > now) || (closesAt && closesAt <= now)) {
            throw new DomainError('ASSESSMENT_NOT_OPEN', 'This quiz is not open', { opensAt: s.opensAt, closesAt: closesAt?.toISOString() ?? null });
          }
        }
        const used = await repo.countAttempts(quiz.quizId, caller.userId);
        if (!preview && s.attemptsAllowed !== null && used >= s.attemptsAllowed + (o?.extra_attempts ?? 0)) {
          throw new DomainError('ATTEMPT_LIMIT_REACHED', 'No attempts left at this quiz', { attemptsAllowed: s.attemptsAllowed + (o?.extra_attempts ?? 0) });
        }
        // The draw: the server's seed decides the random questions, their order and each question's own draw.
        const seed = randomBytes(16).toString('hex');
        const picked: Array<Omit<NewQuestion, 'slot' | 'draw'>> = [];
        for (const [si, section] of quiz.sections.entries()) {
          for (const sl of section.slots) {
            const chosen = sl.from === 'fixed' ? [sl.question] : seededShuffle(sl.candidates, seed, `slot:${si}:${sl.slotId}`).slice(0, sl.count);
            for (const q of chosen) {
              picked.push({
                slotId: sl.slotId,
                questionId: q.questionId,
                version: q.version,
                type: q.type,
                points: sl.points,
                prompt: q.prompt,
                body: q.body,
                generalFeedback: q.generalFeedback,
              });
            }
          }
        }
        const ordered = s.shuffleQuestions ? seededShuffle(picked, seed, 'order') : picked;
        const questions = ordered.map((q, i) => ({ ...q, slot: i + 1, draw: draw(q.body, `${seed}:${i + 1}`) }));
        const id = randomUUID();
        await repo.insertAttempt(
          {
            id,
            quiz_id: quiz.quizId,
            course_id: quiz.courseId,
            user_id: caller.userId,
            number: preview ? 0 : used + 1,
            preview,
            seed,
            started_at: now,
            deadline: deadlineOf(now, s.timeLimitS, o?.extra_time_s ?? 0, closesAt),
            max_points: questions.reduce((sum, q) => sum + q.points, 0),
            closes_at: s.closesAt ? new Date(s.closesAt) : null,
            settings: s,
            // One question at a time: the attempt shows (and saves) only its current question, from the first on.
            current_slot: s.navigation === 'one-at-a-time' ? 1 : null,
          },
          questions,
        );
        const created = await repo.attempt(id);
        if (!created) throw noSuchAttempt();
        return created;
      });
      deps.deadlines.arm(row.deadline);
      return toAttempt(row, await repo.questions(row.id));
    },
    async get({ input, caller, repo }) {
      const a = await repo.attempt(input.attemptId);
      if (!a || a.user_id !== caller.userId) throw noSuchAttempt();
      return toAttempt(a, await repo.questions(a.id));
    },
    async saveAnswer({ input, caller, call, repo, uow, deps }) {
      let shape = deps.shapes.get(input.attemptId);
      if (!shape) {
        const a = await repo.attempt(input.attemptId);
        if (!a) throw noSuchAttempt();
        shape = { userId: a.user_id, types: (await repo.questions(a.id)).map((q) => q.type) };
        deps.shapes.set(input.attemptId, shape);
        const oldest = deps.shapes.keys().next();
        if (deps.shapes.size > 50_000 && !oldest.done) deps.shapes.delete(oldest.value);
      }
      if (shape.userId !== caller.userId) throw noSuchAttempt();
      const type = shape.types[input.slot - 1];
      if (!type) throw new DomainError('NOT_FOUND', 'No such question in this attempt');
      if (type !== input.response.type) {
        throw new DomainError('VALIDATION_FAILED', `Question ${input.slot} takes a ${type} response`, {
          issues: [{ path: 'response.type', message: `expected ${type}`, code: 'invalid_value' }],
        });
      }
      if (input.response.type === 'file' && input.response.fileIds.length > 0)
        await acceptFiles(call, repo, input.attemptId, input.slot, input.response.fileIds, caller);
      // With seq the save keeps no Idempotency-Key record (its contract's idempotentBy) and is one statement, atomic by
      // itself: no unit of work, whose BEGIN and COMMIT would double its round trips. Without seq, a unit of work, so a
      // client's key is marked applied with the save.
      const r =
        input.seq === undefined
          ? await uow(({ repo: t }) => t.saveAnswer(input.attemptId, caller.userId, input.slot, input.response, undefined))
          : await repo.saveAnswer(input.attemptId, caller.userId, input.slot, input.response, input.seq);
      if (!r.open) throw closed();
      if ('notCurrent' in r) throw notCurrent(r.notCurrent);
      if (!r.found) throw new DomainError('NOT_FOUND', 'No such question in this attempt');
      return { slot: input.slot, seq: r.seq, savedAt: r.savedAt.toISOString(), applied: r.applied };
    },
    async checkAnswer({ input, caller, repo }) {
      const a = await repo.attempt(input.attemptId);
      if (!a || a.user_id !== caller.userId) throw noSuchAttempt();
      if (a.settings.review.feedback !== 'immediate') throw new DomainError('FORBIDDEN', 'This quiz gives feedback after submitting only');
      if (a.state !== 'in_progress' || (a.deadline && a.deadline <= new Date())) throw closed();
      const q = (await repo.questions(a.id)).find((x) => x.slot === input.slot);
      if (!q) throw new DomainError('NOT_FOUND', 'No such question in this attempt');
      if (a.current_slot !== null && a.current_slot !== input.slot) throw notCurrent(a.current_slot);
      return reviewOf(q, a.settings.review.afterSubmit, score(q.body, q.draw, q.response));
    },
    async next({ input, caller, uow }) {
      const r = await uow(async ({ repo: t }) => {
        const locked = await t.lockAttempt(input.attemptId);
        if (!locked || locked.user_id !== caller.userId) throw noSuchAttempt();
        if (locked.state !== 'in_progress' || (locked.deadline && locked.deadline <= new Date())) throw closed();
        const current = locked.current_slot;
        if (current === null) throw new DomainError('CONFLICT', 'This quiz shows every question at once');
        const questions = await t.questions(locked.id);
        // A repeat of a move already made (a retried request, another tab): nothing changes.
        if (input.from < current) return { row: locked, questions };
        if (input.from > current) throw notCurrent(current);
        if (current >= questions.length) throw new DomainError('CONFLICT', 'This is the last question: submit the attempt');
        return { row: await t.setCurrentSlot(locked.id, current + 1), questions };
      });
      return toAttempt(r.row, r.questions);
    },
    async submit({ input, caller, uow, deps }) {
      // The owner is checked on the locked row, and the answer built from the questions as scored: no read before
      // the unit or after it (two round trips of a submit's dozen, in a deadline rush).
      const a = await uow(async ({ repo: t, emit }) => {
        const locked = await t.lockAttempt(input.attemptId);
        if (!locked || locked.user_id !== caller.userId) throw noSuchAttempt();
        // Submitted already (by another tab, or the deadline): answered as it is.
        if (locked.state !== 'in_progress') return { row: locked, questions: await t.questions(locked.id) };
        // After the deadline the server submits what was saved by then: the same result as the worker's.
        const late = locked.deadline !== null && locked.deadline <= new Date();
        return finalize(t, emit, locked, late);
      });
      deps.shapes.delete(a.row.id);
      return toAttempt(a.row, a.questions);
    },
    async review({ input, caller, call, repo }) {
      const a = await repo.attempt(input.attemptId);
      if (!a) throw noSuchAttempt();
      let staff = false;
      if (a.user_id !== caller.userId) {
        const r = await roleIn(call, a.course_id, caller);
        if (!r.exists || !r.perms.has('course:grade')) throw noSuchAttempt();
        staff = true;
      }
      const allow = reviewAllowed(a.settings, a.state !== 'in_progress', a.closes_at, new Date(), staff);
      const questions = await repo.questions(a.id);
      return {
        attemptId: a.id,
        state: a.state,
        grade: allow.score && a.points !== null ? gradeValueOf(a.points, a.max_points) : null,
        questions: questions.map((q) => reviewOf(q, allow)),
      };
    },
    async setOverride({ input, caller, call, uow, deps }) {
      await staffOf(call, deps.quizzes, input.quizId, caller, ['course:grade', 'course:edit']);
      const o = await uow(({ repo }) =>
        repo.setOverride({
          quiz_id: input.quizId,
          user_id: input.userId,
          closes_at: input.closesAt ? new Date(input.closesAt) : null,
          extra_time_s: input.extraTimeS,
          extra_attempts: input.extraAttempts,
          updated_by: caller.userId,
        }),
      );
      return toOverride(o);
    },
    async listOverrides({ input, caller, call, repo, deps }) {
      await staffOf(call, deps.quizzes, input.quizId, caller, ['course:grade', 'course:edit']);
      return { items: (await repo.listOverrides(input.quizId)).map(toOverride) };
    },
    async deleteOverride({ input, caller, call, uow, deps }) {
      await staffOf(call, deps.quizzes, input.quizId, caller, ['course:grade', 'course:edit']);
      return { deleted: await uow(({ repo }) => repo.deleteOverride(input.quizId, input.userId)) };
    },
    async grade({ input, caller, call, repo, uow }) {
      const a = await repo.attempt(input.attemptId);
      if (!a) throw noSuchAttempt();
      const r = await roleIn(call, a.course_id, caller);
      if (!r.exists || !r.perms.has('course:grade')) throw noSuchAttempt();
      const after = await uow(async ({ repo: t, emit }) => {
        const locked = await t.lockAttempt(a.id);
        if (!locked) throw noSuchAttempt();
        if (locked.state === 'in_progress') throw new DomainError('CONFLICT', 'The attempt has not been submitted yet');
        const q = (await t.questions(a.id)).find((x) => x.slot === input.slot);
        if (!q) throw new DomainError('NOT_FOUND', 'No such question in this attempt');
        if (q.type !== 'essay' && q.type !== 'file') throw new DomainError('CONFLICT', 'Only essay and file questions are graded by a person');
        if (input.points > q.points) {
          throw new DomainError('VALIDATION_FAILED', `At most ${q.points} points`, {
            issues: [{ path: 'points', message: `at most ${q.points}`, code: 'too_big' }],
          });
        }
        // A graded attempt's grade is in the gradebook (and maybe shown to the learner): a person changes it only with
        // a reason, and the change is recorded (who, when, before, after, why) beside the key corrections' regrades.
        if (locked.state === 'graded') {
          if (!input.reason) throw new DomainError('GRADE_RELEASED', 'This attempt is graded: its grade changes only with a reason');
          await t.addRegrade({
            attempt_id: a.id,
            quiz_id: a.quiz_id,
            slot: q.slot,
            question_id: q.question_id,
            version: q.version,
            old_points: q.fraction === null ? null : Math.max(0, q.fraction) * q.points,
            new_points: input.points,
            kind: 'manual',
            by: caller.userId,
            reason: input.reason,
          });
        }
        await t.gradeQuestion(a.id, input.slot, q.points > 0 ? input.points / q.points : 0, input.comment, caller.userId);
        const next = await rescore(t, locked);
        if (next.state === 'graded') await emitGraded(t, emit, next, locked.state === 'graded');
        return next;
      });
      return toSummary(after, (await repo.ungraded([after.id])).get(after.id) ?? []);
    },
    async listAttempts({ input, caller, call, repo, deps }) {
      await staffOf(call, deps.quizzes, input.quizId, caller, ['course:grade']);
      const c = input.cursor ? decodeCursor(input.cursor) : undefined;
      const after = c && { startedAt: c.createdAt, id: c.id };
      const rows = await repo.listAttempts({ quizId: input.quizId, state: input.state, limit: input.limit, after });
      const ungraded = await repo.ungraded(rows.map((x) => x.id));
      return keysetPage(
        rows,
        input.limit,
        (x) => toSummary(x, ungraded.get(x.id) ?? []),
        (last) => encodeCursor(last.startedAt, last.id),
      );
    },
    async listRegrades({ input, caller, call, repo, deps }) {
      await staffOf(call, deps.quizzes, input.quizId, caller, ['course:grade', 'course:edit']);
      const rows = await repo.listRegrades(input.quizId);
      return {
        items: rows.map((x) => ({
          attemptId: x.attempt_id,
          userId: x.user_id,
          slot: x.slot,
          questionId: x.question_id,
          version: x.version,
          oldPoints: x.old_points,
          newPoints: x.new_points,
          at: x.at.toISOString(),
          kind: x.kind,
          by: x.by,
          reason: x.reason,
        })),
      };
    },
    async statistics({ input, caller, call, repo, deps }) {
      await staffOf(call, deps.quizzes, input.quizId, caller, ['course:grade', 'course:edit']);
      const rows = await repo.firstAttemptFractions(input.quizId);
      const byAttempt = new Map<string, Record<string, number | undefined>>();
      const types = new Map<string, string>();
      for (const x of rows) {
        types.set(x.question_id, x.type);
        const f = byAttempt.get(x.id) ?? {};
        f[x.question_id] = x.fraction ?? undefined;
        byAttempt.set(x.id, f);
      }
      const st = itemStatistics({ attempts: [...byAttempt.values()].map((fractions) => ({ fractions })) });
      return {
        attempts: st.attempts,
        alpha: st.alpha,
        questions: Object.entries(st.questions).map(([questionId, q]) => ({
          questionId,
          type: questionTypeOf(types.get(questionId)),
          n: q.n,
          facility: q.facility,
          discrimination: q.discrimination,
        })),
      };
    },
    async outcome({ input, repo, uow }) {
      const a = await uow(async ({ repo: t, emit }) => {
        const locked = await t.lockAttempt(input.attemptId);
        if (!locked) throw noSuchAttempt();
        if (locked.state === 'in_progress' && locked.deadline && locked.deadline <= new Date()) return (await finalize(t, emit, locked, true)).row;
        return locked;
      });
      void repo;
      const grade = a.points === null ? null : gradeValueOf(a.points, a.max_points);
      const passPercent = a.settings.passPercent;
      return {
        kind: 'quiz' as const,
        assessmentId: a.quiz_id,
        courseId: a.course_id,
        userId: a.user_id,
        attemptId: a.id,
        status: a.state,
        grade,
        passed: grade && passPercent !== null ? grade.percent >= passPercent : null,
        released: a.state === 'graded' && reviewAllowed(a.settings, true, a.closes_at, new Date(), false).score,
      };
    },
    async privacyExport({ input, repo }) {
      const d = await repo.exportUser(input.userId);
      return {
        data: {
          attempts: d.attempts.map((a) => ({
            id: a.id,
            quizId: a.quiz_id,
            number: a.number,
            state: a.state,
            startedAt: a.started_at.toISOString(),
            submittedAt: a.submitted_at?.toISOString() ?? null,
            points: a.points,
            maxPoints: a.max_points,
            answers: d.questions
              .filter((q) => q.attempt_id === a.id)
              .map((q) => ({ slot: q.slot, response: q.response, savedAt: q.saved_at?.toISOString() ?? null })),
          })),
          overrides: d.overrides.map(toOverride),
        },
      };
    },
  },
});

function questionTypeOf(t: string | undefined): QuestionType {
  const found = questionTypes.find((x) => x === t);
  if (!found) throw new Error(`unknown question type ${String(t)}`);
  return found;
}

function toOverride(o: OverrideRow) {
  return {
    quizId: o.quiz_id,
    userId: o.user_id,
    closesAt: o.closes_at?.toISOString() ?? null,
    extraTimeS: o.extra_time_s,
    extraAttempts: o.extra_attempts,
    updatedAt: o.updated_at.toISOString(),
  };
}
