/**
 * The completion saga's steps call other services only in `prepare`, never in their `commit` (one transaction): a
 * call there is refused by the runtime (and would hold the transaction on another service). The saga engine is
 * played here step by step: `prepare`, then `commit` with calls refused, as in a unit of work; the repository is in
 * memory. Regression: in a freshly started process (an empty outline cache) the "complete" step of an enrollment
 * that the learner's other saga had completed read the outline inside its transaction, and failed until its attempts
 * ran out (tools/test/completion-saga.int.test.ts, killed after "complete").
 */
import { randomUUID } from 'node:crypto';
import { coursesInternal, enrollmentEvents, gradesInternal } from '@lms/contracts';
import type { Call, SagaStep } from '@lms/runtime';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { completionSaga, type CompletionSagaTypes } from '../src/completion-saga.js';
import type { CompletionData, EnrollmentRow, EnrollmentsRepository } from '../src/enrollments.repository.js';
import { OUTLINE_TTL_MS, OutlineCache } from '../src/outline-cache.js';
import type { Outline } from '../src/progress.js';

const courseId = randomUUID();
const quizId = randomUUID();
const ids: Record<'moduleA' | 'moduleB' | 'reading' | 'quiz', string> = {
  moduleA: randomUUID(),
  moduleB: randomUUID(),
  reading: randomUUID(),
  quiz: randomUUID(),
};
/** Module A: a reading and a quiz lesson; module B (empty) opens once A is complete. */
const outline: Outline = {
  courseId,
  title: 'Course',
  version: 3,
  sequential: true,
  modules: [
    {
      id: ids.moduleA,
      title: 'A',
      requires: [],
      lessons: [
        { id: ids.reading, title: 'Read', type: 'markdown', completeAtPercent: null, assessment: null },
        { id: ids.quiz, title: 'Quiz', type: 'quiz', completeAtPercent: null, assessment: { kind: 'quiz', assessmentId: quizId, passPercent: 50 } },
      ],
    },
    { id: ids.moduleB, title: 'B', requires: [], lessons: [] },
  ],
};

/** One learner's enrollment, in memory: the repository methods the steps use. */
function memory(status: 'active' | 'completed') {
  const e = { id: randomUUID(), course_id: courseId, user_id: randomUUID(), status, completed_at: status === 'completed' ? new Date() : null } as EnrollmentRow;
  const lessons = new Set([ids.reading, ...(status === 'completed' ? [ids.quiz] : [])]);
  const modules = new Set<string>(status === 'completed' ? [ids.moduleA] : []);
  const unlocks = new Set<string>(status === 'completed' ? [ids.moduleB] : []);
  const repo = {
    completedLessons: async () => [...lessons].map((lesson_id) => ({ lesson_id })),
    completeLesson: async (_: string, l: string) => !lessons.has(l) && !!lessons.add(l),
    setProgress: async () => {},
    completeModule: async (_: string, m: string) => !modules.has(m) && !!modules.add(m),
    unlockModule: async (_: string, m: string) => !unlocks.has(m) && !!unlocks.add(m),
    lockedStatus: async () => e.status,
    setStatus: async (_: string, s: EnrollmentRow['status']) => {
      const before = { ...e };
      Object.assign(e, { status: s, completed_at: new Date() });
      return { before, after: { ...e } };
    },
  } as unknown as EnrollmentsRepository;
  return { e, repo };
}

/**
 * A completion saga over `repo`, with a fresh process's outline cache, and a `call` that answers the courses and
 * grades services and refuses while a step's commit runs (as the runtime does in a unit of work).
 */
function saga(repo: EnrollmentsRepository) {
  const state = { inCommit: false, calls: [] as string[] };
  const call = (async (c: { action: string }) => {
    if (state.inCommit) throw new Error(`${c.action} called inside a unit of work: call other services before or after it`);
    state.calls.push(c.action);
    if (c.action === coursesInternal.publishedOutline.action) return outline;
    if (c.action === gradesInternal.courseGrade.action) return { percent: 100, minimumPercent: null };
    throw new Error(`unexpected call ${c.action}`);
  }) as unknown as Call;
  const outlines = new OutlineCache();
  const def = completionSaga({
    repo,
    call,
    outline: (id) => outlines.get(call, id),
    lastOutline: (id) => outlines.last(id),
    timeoutMs: 1_000,
  });
  const step = (name: CompletionSagaTypes['step']) => def.steps.find((s) => s.name === name) as SagaStep<CompletionSagaTypes>;
  const events: string[] = [];
  /** One step as the engine runs it: prepare, then commit in "the transaction" (calls refused). Answers the data after it. */
  async function run(name: CompletionSagaTypes['step'], e: EnrollmentRow, data: CompletionData, between?: () => void): Promise<CompletionData> {
    const context = { sagaId: `submitted:${data.attemptId}`, subject: { ...e }, data, wake: () => {} };
    const s = step(name);
    const prepared = { ...data, ...(await s.prepare?.(context)) };
    between?.();
    state.inCommit = true;
    try {
      const emit = async (event: { subject: string }) => (events.push(event.subject), randomUUID());
      const outcome = await s.commit?.({ ...context, data: prepared, repo, emit });
      return { ...prepared, ...(outcome ? outcome.data : {}) };
    } finally {
      state.inCommit = false;
    }
  }
  return { state, events, run };
}

const passed = (): CompletionData => ({
  kind: 'quiz',
  assessmentId: quizId,
  attemptId: randomUUID(),
  trigger: 'submitted',
  lessonId: ids.quiz,
  passPercent: 50,
  outcome: 'graded',
  percent: 100,
  awaitingGrading: false,
  passed: true,
});

afterEach(() => vi.useRealTimers());

describe('completion saga steps: no call inside a transaction', () => {
  it('skips, with no call at all, an enrollment completed already when a fresh process resumes at "complete"', async () => {
    const { e, repo } = memory('completed');
    const s = saga(repo);
    const after = await s.run('complete', e, passed());
    expect(after.courseCompleted).toBe(false);
    expect(s.events).toEqual([]); // completed once, by whoever did it first
    expect(s.state.calls).toEqual([]);
  });

  it('records progress, the unlock and the completion with the outline read before each transaction, however old', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const { e, repo } = memory('active');
    const s = saga(repo);
    const expire = () => vi.setSystemTime(Date.now() + OUTLINE_TTL_MS + 1); // the cache expires between prepare and commit
    let data = await s.run('progress', e, passed(), expire);
    expect(data).toMatchObject({ lessonCompleted: true, modulesCompleted: [ids.moduleA], lockedBefore: [ids.moduleB] });
    data = await s.run('unlock', e, data, expire);
    expect(data.modulesUnlocked).toEqual([ids.moduleB]);
    data = await s.run('complete', e, data, expire);
    expect(data).toMatchObject({ incomplete: null, courseCompleted: true });
    expect(s.events).toEqual([
      enrollmentEvents.moduleCompleted.subject,
      enrollmentEvents.moduleUnlocked.subject,
      enrollmentEvents.courseCompleted.subject,
      enrollmentEvents.changed.subject,
    ]);
    // Every read was a prepare's: the outline once per step (the cache expired each time), the gradebook once.
    expect(s.state.calls).toEqual([
      coursesInternal.publishedOutline.action,
      coursesInternal.publishedOutline.action,
      coursesInternal.publishedOutline.action,
      gradesInternal.courseGrade.action,
    ]);
  });
});
