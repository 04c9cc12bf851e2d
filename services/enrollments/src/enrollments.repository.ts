import type { AssessmentKind, Enrollment, EnrollmentStatus, ErrorCode } from '@lms/contracts';
import { sql, type ColumnType, type Generated, type Kysely, type Selectable } from 'kysely';

export type SagaStep = 'validate' | 'reserve' | 'payment' | 'record' | 'welcome' | 'analytics' | 'done';
export interface SagaData {
  email?: string;
  displayName?: string;
  courseTitle?: string;
  capacity?: number | null;
  /** The saga holds a seat (from reserve, or handed over by a drop). */
  seat?: boolean;
  promoted?: boolean;
  paymentId?: string;
  /** Enrolled by course staff (bulk): private courses allow it. */
  byStaff?: boolean;
}

/** The assessment completion saga's steps (completion-saga.ts). */
export type CompletionStep = 'validate' | 'score' | 'progress' | 'unlock' | 'complete' | 'certificate';
/** What the completion saga knows: from its event, then from its steps. */
export interface CompletionData {
  kind: AssessmentKind;
  assessmentId: string;
  attemptId: string;
  /** What started it. */
  trigger: 'submitted' | 'graded';
  /** The course lesson this assessment completes (null: an assessment no lesson points at; only the course grade counts). */
  lessonId?: string | null;
  passPercent?: number | null;
  /** The attempt's state at the score step. */
  outcome?: 'in_progress' | 'submitted' | 'graded';
  percent?: number | null;
  /** Not graded yet (a person marks it), or an assignment grade not released: the saga waits at `score`. */
  awaitingGrading?: boolean;
  passed?: boolean;
  /** Modules locked before this saga's progress (an unlock is announced for those it opened). */
  lockedBefore?: string[];
  lessonCompleted?: boolean;
  modulesCompleted?: string[];
  modulesUnlocked?: string[];
  /** This saga marked the course completed (and announced it). */
  courseCompleted?: boolean;
  /** Why the course is not complete yet, if it is not. */
  incomplete?: string | null;
  credentialId?: string;
  credentialCreated?: boolean;
}
export type CompletionRow = Selectable<EnrollmentsDB['completion_sagas']>;

export interface EnrollmentsDB {
  enrollments: {
    id: string;
    course_id: string;
    user_id: string;
    status: EnrollmentStatus;
    /** Shown to people: why it is in this status (`CODE: message` for a failed one). */
    reason: string | null;
    /** The error code of a failed enrollment (the refusal `enrol` answers with); null otherwise. */
    failure_code: ErrorCode | null;
    waitlisted_at: Date | null;
    enrolled_at: Date | null;
    completed_at: Date | null;
    percent: Generated<number>;
    last_activity_at: Date | null;
    created_at: Generated<Date>;
    updated_at: Generated<Date>;
  };
  enrollment_history: { id: Generated<string>; enrollment_id: string; status: EnrollmentStatus; reason: string | null; by: string | null; at: Generated<Date> };
  seats: { course_id: string; capacity: number | null; taken: Generated<number> };
  sagas: {
    id: string;
    enrollment_id: string;
    step: SagaStep;
    status: 'running' | 'waiting' | 'done' | 'failed';
    attempts: Generated<number>;
    next_run_at: Generated<Date>;
    data: ColumnType<SagaData, string | undefined, string>;
    last_error: string | null;
    created_at: Generated<Date>;
    updated_at: Generated<Date>;
  };
  completion_sagas: {
    /** The event that started it: `submitted:<attemptId>` or `graded:<attemptId>:<gradedAt>`. */
    id: string;
    enrollment_id: string;
    attempt_id: string;
    step: CompletionStep | 'done';
    status: 'running' | 'waiting' | 'done' | 'failed';
    attempts: Generated<number>;
    next_run_at: Generated<Date>;
    data: ColumnType<CompletionData, string | undefined, string>;
    last_error: string | null;
    created_at: Generated<Date>;
    updated_at: Generated<Date>;
  };
  module_unlocks: { enrollment_id: string; module_id: string; unlocked_at: Generated<Date> };
  lesson_progress: { enrollment_id: string; lesson_id: string; completed_at: Generated<Date> };
  module_completions: { enrollment_id: string; module_id: string; completed_at: Generated<Date> };
}
export type EnrollmentRow = Selectable<EnrollmentsDB['enrollments']>;
export type SagaRow = Selectable<EnrollmentsDB['sagas']>;

export const LIVE: EnrollmentStatus[] = ['pending', 'waitlisted', 'active', 'completed'];

export function toEnrollment(r: EnrollmentRow, waitlistPosition: number | null = null): Enrollment {
  return {
    id: r.id,
    courseId: r.course_id,
    userId: r.user_id,
    status: r.status,
    waitlistPosition: r.status === 'waitlisted' ? waitlistPosition : null,
    enrolledAt: r.enrolled_at?.toISOString() ?? null,
    completedAt: r.completed_at?.toISOString() ?? null,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
    reason: r.reason,
  };
}

/** The two saga tables: the same columns, a different step and data type. */
type SagaTable = 'sagas' | 'completion_sagas';

export class EnrollmentsRepository {
  constructor(private readonly db: Kysely<EnrollmentsDB>) {}

  byId(id: string) {
    return this.db.selectFrom('enrollments').selectAll().where('id', '=', id).executeTakeFirst();
  }

  live(courseId: string, userId: string) {
    return this.db
      .selectFrom('enrollments')
      .selectAll()
      .where('course_id', '=', courseId)
      .where('user_id', '=', userId)
      .where('status', 'in', LIVE)
      .executeTakeFirst();
  }

  /** A new pending enrollment and its saga; undefined when a live one exists (the unique index decides). */
  async start(e: { id: string; courseId: string; userId: string; sagaId: string; by: string }): Promise<EnrollmentRow | undefined> {
    const row = await this.db
      .insertInto('enrollments')
      .values({
        id: e.id,
        course_id: e.courseId,
        user_id: e.userId,
        status: 'pending',
        reason: null,
        waitlisted_at: null,
        enrolled_at: null,
        completed_at: null,
        last_activity_at: null,
      })
      .onConflict((oc) => oc.columns(['course_id', 'user_id']).where('status', 'in', LIVE).doNothing())
      .returningAll()
      .executeTakeFirst();
    if (!row) return undefined;
    await this.history(e.id, 'pending', null, e.by);
    const data: SagaData = { byStaff: e.by !== e.userId };
    await this.db
      .insertInto('sagas')
      .values({ id: e.sagaId, enrollment_id: e.id, step: 'validate', status: 'running', last_error: null, data: JSON.stringify(data) })
      .execute();
    return row;
  }

  async history(enrollmentId: string, status: EnrollmentStatus, reason: string | null, by: string | null): Promise<void> {
    await this.db.insertInto('enrollment_history').values({ enrollment_id: enrollmentId, status, reason, by }).execute();
  }

  historyOf(enrollmentId: string) {
    return this.db.selectFrom('enrollment_history').selectAll().where('enrollment_id', '=', enrollmentId).orderBy('id').execute();
  }

  /** Moves an enrollment to a status (and records it); answers the row as it was before. A failed one has its code. */
  /**
   * The enrolment's status under a row lock, for a decision that must hold until the transaction ends: two calls
   * completing the last lesson at once (a retry among them) would otherwise both see `active` and both complete it.
   */
  async lockedStatus(id: string): Promise<EnrollmentStatus | undefined> {
    return (await this.db.selectFrom('enrollments').select('status').where('id', '=', id).forUpdate().executeTakeFirst())?.status;
  }

  async setStatus(
    id: string,
    status: EnrollmentStatus,
    reason: string | null,
    by: string | null,
    failureCode: ErrorCode | null = null,
  ): Promise<{ before: EnrollmentRow; after: EnrollmentRow }> {
    const before = await this.db.selectFrom('enrollments').selectAll().where('id', '=', id).forUpdate().executeTakeFirstOrThrow();
    const after = await this.db
      .updateTable('enrollments')
      .set({
        status,
        reason,
        failure_code: failureCode,
        updated_at: sql`now()`,
        ...(status === 'waitlisted' && { waitlisted_at: sql`now()` }),
        ...(status === 'active' && !before.enrolled_at && { enrolled_at: sql`now()` }),
        ...(status === 'completed' && { completed_at: sql`now()` }),
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await this.history(id, status, reason, by);
    return { before, after };
  }

  async waitlistPosition(row: EnrollmentRow): Promise<number | null> {
    if (row.status !== 'waitlisted' || !row.waitlisted_at) return null;
    const r = await this.db
      .selectFrom('enrollments')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('course_id', '=', row.course_id)
      .where('status', '=', 'waitlisted')
      .where(sql<boolean>`(waitlisted_at, id) <= (${row.waitlisted_at}, ${row.id}::uuid)`)
      .executeTakeFirst();
    return Number(r?.n ?? 1);
  }

  // ------------------------------------------------------------ seats

  /** Takes a seat if one is free; false when the course is full. Capacity follows the course's. */
  async takeSeat(courseId: string, capacity: number | null): Promise<boolean> {
    await this.db
      .insertInto('seats')
      .values({ course_id: courseId, capacity })
      .onConflict((oc) => oc.column('course_id').doUpdateSet({ capacity }))
      .execute();
    const r = await this.db
      .updateTable('seats')
      .set({ taken: sql`taken + 1` })
      .where('course_id', '=', courseId)
      .where((eb) => eb.or([eb('capacity', 'is', null), eb('taken', '<', eb.ref('capacity'))]))
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /**
   * A seat is given up: it goes to the first waitlisted learner (whose saga resumes at payment, seat in
   * hand), or back to the pool. Answers the promoted saga's id, if any.
   */
  async releaseSeat(courseId: string): Promise<string | undefined> {
    const next = await this.db
      .selectFrom('sagas')
      .innerJoin('enrollments', 'enrollments.id', 'sagas.enrollment_id')
      .select(['sagas.id', 'sagas.data'])
      .where('enrollments.course_id', '=', courseId)
      .where('enrollments.status', '=', 'waitlisted')
      .where('sagas.status', '=', 'waiting')
      .orderBy('enrollments.waitlisted_at')
      .orderBy('enrollments.id')
      .limit(1)
      .forUpdate()
      .skipLocked()
      .executeTakeFirst();
    if (next) {
      await this.db
        .updateTable('sagas')
        .set({
          status: 'running',
          step: 'payment',
          next_run_at: sql`now()`,
          data: JSON.stringify({ ...next.data, seat: true, promoted: true }),
          updated_at: sql`now()`,
        })
        .where('id', '=', next.id)
        .execute();
      return next.id;
    }
    await this.db
      .updateTable('seats')
      .set({ taken: sql`greatest(taken - 1, 0)` })
      .where('course_id', '=', courseId)
      .execute();
    return undefined;
  }

  // ------------------------------------------------------------ sagas

  saga(id: string) {
    return this.db.selectFrom('sagas').selectAll().where('id', '=', id).executeTakeFirst();
  }

  sagaOf(enrollmentId: string) {
    return this.db.selectFrom('sagas').selectAll().where('enrollment_id', '=', enrollmentId).orderBy('created_at', 'desc').executeTakeFirst();
  }

  /** Locks the saga if it is still at `step` and running (else another runner moved it on). */
  lockAt(id: string, step: SagaStep) {
    return this.db.selectFrom('sagas').selectAll().where('id', '=', id).where('step', '=', step).where('status', '=', 'running').forUpdate().executeTakeFirst();
  }

  async advance(id: string, step: SagaStep, data: SagaData, status: SagaRow['status'] = step === 'done' ? 'done' : 'running'): Promise<void> {
    await this.db
      .updateTable('sagas')
      .set({ step, status, data: JSON.stringify(data), attempts: 0, last_error: null, next_run_at: sql`now()`, updated_at: sql`now()` })
      .where('id', '=', id)
      .execute();
  }

  /** Puts a saga of either kind (the enrollment saga's `sagas`, or `completion_sagas`) off after a failed step. */
  async retryLater(id: string, attempts: number, delayMs: number, error: string, table: SagaTable = 'sagas'): Promise<void> {
    await this.db
      .updateTable(table)
      .set({ attempts, last_error: error.slice(0, 500), next_run_at: sql`now() + ${`${delayMs} milliseconds`}::interval`, updated_at: sql`now()` })
      .where('id', '=', id)
      .execute();
  }

  /** Sagas of either kind whose next step is due. */
  async due(limit = 50, table: SagaTable = 'sagas'): Promise<string[]> {
    const rows = await this.db
      .selectFrom(table)
      .select('id')
      .where('status', '=', 'running')
      .where('next_run_at', '<=', sql<Date>`now()`)
      .orderBy('next_run_at')
      .limit(limit)
      .execute();
    return rows.map((r) => r.id);
  }

  // ------------------------------------------------------------ completion sagas

  /** A completion saga for an event; false when that event already started one (a redelivery). */
  async startCompletion(c: { id: string; enrollmentId: string; data: CompletionData }): Promise<boolean> {
    const r = await this.db
      .insertInto('completion_sagas')
      .values({
        id: c.id,
        enrollment_id: c.enrollmentId,
        attempt_id: c.data.attemptId,
        step: 'validate',
        status: 'running',
        last_error: null,
        data: JSON.stringify(c.data),
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .returning('id')
      .executeTakeFirst();
    return r !== undefined;
  }

  completionSaga(id: string) {
    return this.db.selectFrom('completion_sagas').selectAll().where('id', '=', id).executeTakeFirst();
  }

  lockCompletionAt(id: string, step: CompletionStep) {
    return this.db
      .selectFrom('completion_sagas')
      .selectAll()
      .where('id', '=', id)
      .where('step', '=', step)
      .where('status', '=', 'running')
      .forUpdate()
      .executeTakeFirst();
  }

  async advanceCompletion(id: string, step: CompletionStep | 'done', data: CompletionData, status: CompletionRow['status']): Promise<void> {
    await this.db
      .updateTable('completion_sagas')
      .set({ step, status, data: JSON.stringify(data), attempts: 0, last_error: null, next_run_at: sql`now()`, updated_at: sql`now()` })
      .where('id', '=', id)
      .execute();
  }

  /** Records a module as unlocked for a learner; false when it already was (its event went out then). */
  async unlockModule(enrollmentId: string, moduleId: string): Promise<boolean> {
    const r = await this.db
      .insertInto('module_unlocks')
      .values({ enrollment_id: enrollmentId, module_id: moduleId })
      .onConflict((oc) => oc.doNothing())
      .returning('module_id')
      .executeTakeFirst();
    return r !== undefined;
  }

  /** Completed courses of a user (for prerequisites). */
  async completedCourses(userId: string): Promise<Set<string>> {
    const rows = await this.db.selectFrom('enrollments').select('course_id').where('user_id', '=', userId).where('status', '=', 'completed').execute();
    return new Set(rows.map((r) => r.course_id));
  }

  // ------------------------------------------------------------ progress

  completedLessons(enrollmentId: string) {
    return this.db.selectFrom('lesson_progress').select(['lesson_id', 'completed_at']).where('enrollment_id', '=', enrollmentId).execute();
  }

  async completeLesson(enrollmentId: string, lessonId: string): Promise<boolean> {
    const r = await this.db
      .insertInto('lesson_progress')
      .values({ enrollment_id: enrollmentId, lesson_id: lessonId })
      .onConflict((oc) => oc.doNothing())
      .returning('lesson_id')
      .executeTakeFirst();
    return r !== undefined;
  }

  async completeModule(enrollmentId: string, moduleId: string): Promise<boolean> {
    const r = await this.db
      .insertInto('module_completions')
      .values({ enrollment_id: enrollmentId, module_id: moduleId })
      .onConflict((oc) => oc.doNothing())
      .returning('module_id')
      .executeTakeFirst();
    return r !== undefined;
  }

  async setProgress(enrollmentId: string, percent: number): Promise<void> {
    await this.db
      .updateTable('enrollments')
      .set({ percent, last_activity_at: sql`now()`, updated_at: sql`now()` })
      .where('id', '=', enrollmentId)
      .execute();
  }

  mine(f: { userId: string; status?: EnrollmentStatus; limit: number; after?: { createdAt: Date; id: string } }) {
    let q = this.db.selectFrom('enrollments').selectAll().where('user_id', '=', f.userId);
    if (f.status) q = q.where('status', '=', f.status);
    if (f.after) q = q.where(sql<boolean>`(created_at, id) < (${f.after.createdAt}, ${f.after.id}::uuid)`);
    return q
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(f.limit + 1)
      .execute();
  }

  /** Seat holders of a course in user id order (a keyset over the (course_id, user_id) key). */
  async learnerIds(courseId: string, after: string | undefined, limit: number): Promise<string[]> {
    let q = this.db.selectFrom('enrollments').select('user_id').where('course_id', '=', courseId).where('status', 'in', ['active', 'completed']);
    if (after) q = q.where('user_id', '>', after);
    return (await q.orderBy('user_id').limit(limit).execute()).map((r) => r.user_id);
  }

  roster(f: { courseId: string; status?: EnrollmentStatus; limit: number; after?: { createdAt: Date; id: string } }) {
    let q = this.db.selectFrom('enrollments').selectAll().where('course_id', '=', f.courseId);
    q = f.status ? q.where('status', '=', f.status) : q.where('status', 'in', ['active', 'completed', 'waitlisted']);
    if (f.after) q = q.where(sql<boolean>`(created_at, id) > (${f.after.createdAt}, ${f.after.id}::uuid)`);
    return q
      .orderBy('created_at')
      .orderBy('id')
      .limit(f.limit + 1)
      .execute();
  }

  // ------------------------------------------------------------ privacy

  async exportUser(userId: string) {
    const rows = await this.db.selectFrom('enrollments').selectAll().where('user_id', '=', userId).orderBy('created_at').execute();
    const out = [];
    for (const r of rows) {
      out.push({ ...toEnrollment(r), percent: r.percent, history: await this.historyOf(r.id), completedLessons: await this.completedLessons(r.id) });
    }
    return { enrollments: out };
  }

  /** Erasure: the user's enrollments (with history and progress, by cascade) go; their seats are released. */
  async eraseUser(userId: string): Promise<string[]> {
    const seats = await this.db
      .selectFrom('enrollments')
      .select('course_id')
      .where('user_id', '=', userId)
      .where('status', 'in', ['active', 'completed'])
      .execute();
    await this.db.deleteFrom('enrollments').where('user_id', '=', userId).execute();
    return seats.map((s) => s.course_id);
  }
}
