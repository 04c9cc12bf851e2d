import { sql, type Generated, type Insertable, type Kysely, type Selectable } from 'kysely';
import type { QuestionBody, QuestionResponse, QuizSettings } from '@lms/contracts';
import type { Draw } from '@lms/question-engine';
import type { JsonColumn } from '@lms/runtime';

export type AttemptState = 'in_progress' | 'submitted' | 'graded';

export interface AttemptsDB {
  attempts: {
    id: string;
    quiz_id: string;
    course_id: string;
    user_id: string;
    number: number;
    preview: boolean;
    state: AttemptState;
    seed: string;
    started_at: Date;
    deadline: Date | null;
    submitted_at: Date | null;
    auto: Generated<boolean>;
    graded_at: Date | null;
    points: number | null;
    max_points: number;
    /** The quiz's own closing time when the attempt started (review "after close"). */
    closes_at: Date | null;
    /** The quiz's settings when the attempt started: review options, grading method, pass mark. */
    settings: JsonColumn<QuizSettings>;
    /** One question at a time: the slot the learner is on (the only one shown and saved); null: all at once. */
    current_slot: number | null;
  };
  questions: {
    attempt_id: string;
    slot: number;
    slot_id: string;
    question_id: string;
    version: number;
    type: string;
    points: number;
    prompt: string;
    body: JsonColumn<QuestionBody>;
    draw: JsonColumn<Draw>;
    general_feedback: string | null;
    response: JsonColumn<QuestionResponse | null>;
    seq: Generated<number>;
    saved_at: Date | null;
    fraction: number | null;
    feedback: JsonColumn<string[] | null>;
    comment: string | null;
    graded_by: string | null;
  };
  overrides: {
    quiz_id: string;
    user_id: string;
    closes_at: Date | null;
    extra_time_s: number;
    extra_attempts: number;
    updated_by: string | null;
    updated_at: Generated<Date>;
  };
  regrades: {
    id: Generated<number>;
    attempt_id: string;
    quiz_id: string;
    slot: number;
    question_id: string;
    version: number;
    old_points: number | null;
    new_points: number | null;
    at: Generated<Date>;
    /** key: a key correction rescored it; manual: a person changed the grade of an attempt already graded. */
    kind: Generated<'key' | 'manual'>;
    by: string | null;
    reason: string | null;
  };
}

export type AttemptRow = Selectable<AttemptsDB['attempts']>;
export type QuestionRow = Selectable<AttemptsDB['questions']>;
export type OverrideRow = Selectable<AttemptsDB['overrides']>;

export interface NewQuestion {
  slot: number;
  slotId: string;
  questionId: string;
  version: number;
  type: string;
  points: number;
  prompt: string;
  body: QuestionBody;
  draw: Draw;
  generalFeedback: string | null;
}

/** pg returns bigint as a string. */
const toQuestion = (r: QuestionRow): QuestionRow => ({ ...r, seq: Number(r.seq) });

export class AttemptsRepository {
  constructor(private readonly db: Kysely<AttemptsDB>) {}

  /** Serialises starts of one learner's attempts at one quiz (until the transaction ends). */
  async lockLearner(quizId: string, userId: string): Promise<void> {
    await sql`select pg_advisory_xact_lock(hashtext(${`attempts:${quizId}:${userId}`}))`.execute(this.db);
  }

  async attempt(id: string): Promise<AttemptRow | undefined> {
    return this.db.selectFrom('attempts').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** The attempt, locked for this transaction (a submit, a grade: one at a time). */
  async lockAttempt(id: string): Promise<AttemptRow | undefined> {
    return this.db.selectFrom('attempts').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
  }

  async questions(attemptId: string): Promise<QuestionRow[]> {
    const rows = await this.db.selectFrom('questions').selectAll().where('attempt_id', '=', attemptId).orderBy('slot').execute();
    return rows.map(toQuestion);
  }

  async openAttempt(quizId: string, userId: string): Promise<AttemptRow | undefined> {
    return this.db
      .selectFrom('attempts')
      .selectAll()
      .where('quiz_id', '=', quizId)
      .where('user_id', '=', userId)
      .where('state', '=', 'in_progress')
      .executeTakeFirst();
  }

  /** Attempts counted against the limit (previews are not). */
  async countAttempts(quizId: string, userId: string): Promise<number> {
    const r = await this.db
      .selectFrom('attempts')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('quiz_id', '=', quizId)
      .where('user_id', '=', userId)
      .where('preview', '=', false)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  async insertAttempt(a: Omit<AttemptRow, 'submitted_at' | 'auto' | 'graded_at' | 'points' | 'state'>, questions: NewQuestion[]): Promise<void> {
    await this.db
      .insertInto('attempts')
      .values({ ...a, state: 'in_progress', settings: JSON.stringify(a.settings) })
      .execute();
    if (questions.length === 0) return;
    await this.db
      .insertInto('questions')
      .values(
        questions.map((q) => ({
          attempt_id: a.id,
          slot: q.slot,
          slot_id: q.slotId,
          question_id: q.questionId,
          version: q.version,
          type: q.type,
          points: q.points,
          prompt: q.prompt,
          body: JSON.stringify(q.body),
          draw: JSON.stringify(q.draw),
          general_feedback: q.generalFeedback,
          response: JSON.stringify(null),
          feedback: JSON.stringify(null),
        })),
      )
      .execute();
  }

  /**
   * Autosave of one answer: one row per question, so saves of different questions never overwrite each other. The
   * attempt row is share-locked (a submit's FOR UPDATE waits for it, and it for the submit), and the save applies
   * only while the attempt is open and before its deadline. `seq` given: applies only when above the stored one
   * (a stale save from another tab is ignored); absent: the last save the server receives wins.
   * One statement (atomic by itself, no transaction around it): the lock, the write and the stored seq in one round
   * trip, where BEGIN, SELECT … FOR SHARE, UPDATE (a SELECT when stale) and COMMIT took four or five (issue 14).
   */
  async saveAnswer(
    attemptId: string,
    userId: string,
    slot: number,
    response: QuestionResponse,
    seq: number | undefined,
  ): Promise<
    | { open: false }
    | { open: true; notCurrent: number }
    | { open: true; found: false }
    | { open: true; found: true; seq: number; savedAt: Date; applied: boolean }
  > {
    const s = seq ?? null;
    const r = await sql<{
      open: boolean;
      current_slot: number | null;
      applied_seq: string | null;
      applied_at: Date | null;
      seq: string | null;
      saved_at: Date | null;
    }>`
      with open as (
        select id, current_slot from attempts.attempts
         where id = ${attemptId} and user_id = ${userId} and state = 'in_progress' and (deadline is null or deadline > now())
           for share
      ), saved as (
        update attempts.questions q
           set response = ${JSON.stringify(response)}::jsonb, seq = coalesce(${s}::bigint, q.seq + 1), saved_at = now()
         where q.attempt_id in (select id from open where current_slot is null or current_slot = ${slot})
           and q.slot = ${slot} and (${s}::bigint is null or q.seq < ${s}::bigint)
        returning q.seq, q.saved_at
      )
      select exists (select 1 from open) as open, (select current_slot from open) as current_slot,
             (select seq from saved) as applied_seq, (select saved_at from saved) as applied_at, cur.seq, cur.saved_at
        from (select 1) one left join attempts.questions cur on cur.attempt_id = ${attemptId} and cur.slot = ${slot}`.execute(this.db);
    const row = r.rows[0];
    if (!row?.open) return { open: false };
    if (row.applied_seq !== null) return { open: true, found: true, seq: Number(row.applied_seq), savedAt: row.applied_at ?? new Date(), applied: true };
    if (row.seq === null) return { open: true, found: false };
    // One question at a time: another question than the current one takes no answer.
    if (row.current_slot !== null && row.current_slot !== slot) return { open: true, notCurrent: row.current_slot };
    return { open: true, found: true, seq: Number(row.seq), savedAt: row.saved_at ?? new Date(), applied: false };
  }

  /** One question at a time: the learner moves on to `slot` (the attempt locked by the caller). */
  async setCurrentSlot(attemptId: string, slot: number): Promise<AttemptRow> {
    return this.db.updateTable('attempts').set({ current_slot: slot }).where('id', '=', attemptId).returningAll().executeTakeFirstOrThrow();
  }

  /**
   * Scores every question of a submission in one UPDATE (the rows joined to the scores as a JSON record set): a
   * statement per question made a 20-question submit 20 round trips inside the attempt's lock.
   */
  async scoreQuestions(attemptId: string, scored: Array<{ slot: number; fraction: number | null; feedback: string[] }>): Promise<void> {
    if (scored.length === 0) return;
    await sql`update attempts.questions q set fraction = v.fraction, feedback = v.feedback
                from jsonb_to_recordset(${JSON.stringify(scored)}::jsonb) as v(slot integer, fraction double precision, feedback jsonb)
               where q.attempt_id = ${attemptId} and q.slot = v.slot`.execute(this.db);
  }

  async scoreQuestion(attemptId: string, slot: number, fraction: number | null, feedback: string[], keepManual = false): Promise<void> {
    let q = this.db
      .updateTable('questions')
      .set({ fraction, feedback: JSON.stringify(feedback) })
      .where('attempt_id', '=', attemptId)
      .where('slot', '=', slot);
    if (keepManual) q = q.where('graded_by', 'is', null);
    await q.execute();
  }

  async gradeQuestion(attemptId: string, slot: number, fraction: number, comment: string | null, by: string): Promise<void> {
    await this.db.updateTable('questions').set({ fraction, comment, graded_by: by }).where('attempt_id', '=', attemptId).where('slot', '=', slot).execute();
  }

  async finish(id: string, f: { state: AttemptState; points: number | null; auto?: boolean; submittedAt?: Date; graded?: boolean }): Promise<AttemptRow> {
    return this.db
      .updateTable('attempts')
      .set({
        state: f.state,
        points: f.points,
        ...(f.submittedAt && { submitted_at: f.submittedAt }),
        ...(f.auto !== undefined && { auto: f.auto }),
        ...(f.graded && { graded_at: sql<Date>`now()` }),
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /** The graded attempts of a learner at a quiz (not previews), first first: for the grading method. */
  async gradedAttempts(quizId: string, userId: string): Promise<AttemptRow[]> {
    return this.db
      .selectFrom('attempts')
      .selectAll()
      .where('quiz_id', '=', quizId)
      .where('user_id', '=', userId)
      .where('state', '=', 'graded')
      .where('preview', '=', false)
      .orderBy('number')
      .execute();
  }

  /** The next attempts past their deadline (earliest first, at most `limit`), locked for this transaction; others' locked ones are skipped. */
  async dueAttempts(limit: number): Promise<AttemptRow[]> {
    return this.db
      .selectFrom('attempts')
      .selectAll()
      .where('state', '=', 'in_progress')
      .where('deadline', 'is not', null)
      .where(sql<boolean>`deadline <= now()`)
      .orderBy('deadline')
      .limit(limit)
      .forUpdate()
      .skipLocked()
      .execute();
  }

  /** The open attempts whose deadline comes within `ms` (timers are armed for them when a node starts). */
  async upcomingDeadlines(ms: number): Promise<Date[]> {
    const rows = await this.db
      .selectFrom('attempts')
      .select('deadline')
      .where('state', '=', 'in_progress')
      .where('deadline', 'is not', null)
      .where(sql<boolean>`deadline <= now() + ${`${ms} milliseconds`}::interval`)
      .execute();
    return rows.flatMap((r) => (r.deadline ? [r.deadline] : []));
  }

  // ---------------------------------------------------------------- overrides

  async override(quizId: string, userId: string): Promise<OverrideRow | undefined> {
    return this.db.selectFrom('overrides').selectAll().where('quiz_id', '=', quizId).where('user_id', '=', userId).executeTakeFirst();
  }

  async setOverride(o: Omit<OverrideRow, 'updated_at'>): Promise<OverrideRow> {
    return this.db
      .insertInto('overrides')
      .values(o)
      .onConflict((oc) =>
        oc.columns(['quiz_id', 'user_id']).doUpdateSet({
          closes_at: o.closes_at,
          extra_time_s: o.extra_time_s,
          extra_attempts: o.extra_attempts,
          updated_by: o.updated_by,
          updated_at: sql<Date>`now()`,
        }),
      )
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  async listOverrides(quizId: string): Promise<OverrideRow[]> {
    return this.db.selectFrom('overrides').selectAll().where('quiz_id', '=', quizId).orderBy('user_id').limit(10_000).execute();
  }

  async deleteOverride(quizId: string, userId: string): Promise<boolean> {
    const r = await this.db.deleteFrom('overrides').where('quiz_id', '=', quizId).where('user_id', '=', userId).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  // ---------------------------------------------------------------- staff lists

  async listAttempts(f: { quizId: string; state?: AttemptState; limit: number; after?: { startedAt: Date; id: string } }) {
    let q = this.db.selectFrom('attempts').selectAll().where('quiz_id', '=', f.quizId).where('preview', '=', false);
    if (f.state) q = q.where('state', '=', f.state);
    if (f.after) q = q.where(sql<boolean>`(started_at, id) > (${f.after.startedAt}, ${f.after.id}::uuid)`);
    return q
      .orderBy('started_at')
      .orderBy('id')
      .limit(f.limit + 1)
      .execute();
  }

  /** Slots of these attempts waiting for a person (manual questions without a grade). */
  async ungraded(attemptIds: string[]): Promise<Map<string, number[]>> {
    const out = new Map<string, number[]>();
    if (attemptIds.length === 0) return out;
    const rows = await this.db
      .selectFrom('questions')
      .select(['attempt_id', 'slot'])
      .where('attempt_id', 'in', attemptIds)
      .where('fraction', 'is', null)
      .where('type', 'in', ['essay', 'file'])
      .orderBy('slot')
      .execute();
    for (const r of rows) out.set(r.attempt_id, [...(out.get(r.attempt_id) ?? []), r.slot]);
    return out;
  }

  // ---------------------------------------------------------------- regrades

  /** Questions of submitted attempts (and open ones) that used this version, locked with their attempts. */
  async usesOf(questionId: string, version: number): Promise<Array<{ attempt: AttemptRow; question: QuestionRow }>> {
    const qs = (await this.db.selectFrom('questions').selectAll().where('question_id', '=', questionId).where('version', '=', version).execute()).map(
      toQuestion,
    );
    const out: Array<{ attempt: AttemptRow; question: QuestionRow }> = [];
    for (const question of qs) {
      const attempt = await this.lockAttempt(question.attempt_id);
      if (attempt) out.push({ attempt, question });
    }
    return out;
  }

  async replaceBody(attemptId: string, slot: number, body: QuestionBody): Promise<void> {
    await this.db
      .updateTable('questions')
      .set({ body: JSON.stringify(body) })
      .where('attempt_id', '=', attemptId)
      .where('slot', '=', slot)
      .execute();
  }

  async addRegrade(r: Insertable<AttemptsDB['regrades']>): Promise<void> {
    await this.db.insertInto('regrades').values(r).execute();
  }

  async listRegrades(quizId: string) {
    return this.db
      .selectFrom('regrades')
      .innerJoin('attempts', 'attempts.id', 'regrades.attempt_id')
      .select([
        'regrades.attempt_id',
        'attempts.user_id',
        'regrades.slot',
        'regrades.question_id',
        'regrades.version',
        'regrades.old_points',
        'regrades.new_points',
        'regrades.at',
        'regrades.kind',
        'regrades.by',
        'regrades.reason',
      ])
      .where('regrades.quiz_id', '=', quizId)
      .orderBy('regrades.id')
      .limit(10_000)
      .execute();
  }

  // ---------------------------------------------------------------- statistics

  /** Each learner's first graded attempt at the quiz, with its questions' fractions. */
  async firstAttemptFractions(quizId: string) {
    return this.db
      .selectFrom('attempts')
      .innerJoin('questions', 'questions.attempt_id', 'attempts.id')
      .select(['attempts.id', 'questions.question_id', 'questions.type', 'questions.fraction'])
      .where('attempts.quiz_id', '=', quizId)
      .where('attempts.number', '=', 1)
      .where('attempts.preview', '=', false)
      .where('attempts.state', '=', 'graded')
      .limit(200_000)
      .execute();
  }

  // ---------------------------------------------------------------- privacy

  async exportUser(userId: string) {
    const attempts = await this.db.selectFrom('attempts').selectAll().where('user_id', '=', userId).orderBy('started_at').execute();
    const questions = attempts.length
      ? await this.db
          .selectFrom('questions')
          .select(['attempt_id', 'slot', 'question_id', 'version', 'response', 'saved_at', 'fraction', 'comment'])
          .where(
            'attempt_id',
            'in',
            attempts.map((a) => a.id),
          )
          .execute()
      : [];
    const overrides = await this.db.selectFrom('overrides').selectAll().where('user_id', '=', userId).execute();
    return { attempts, questions, overrides };
  }

  /** Erasure: the user's attempts (answers, regrade rows cascade) and overrides go; their name as a grader is removed. */
  async eraseUser(userId: string): Promise<number> {
    const r = await this.db.deleteFrom('attempts').where('user_id', '=', userId).executeTakeFirst();
    await this.db.deleteFrom('overrides').where('user_id', '=', userId).execute();
    await this.db.updateTable('questions').set({ graded_by: null }).where('graded_by', '=', userId).execute();
    await this.db.updateTable('overrides').set({ updated_by: null }).where('updated_by', '=', userId).execute();
    return Number(r.numDeletedRows);
  }
}
