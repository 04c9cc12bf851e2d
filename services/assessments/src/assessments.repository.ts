import type { QuestionBody, QuizSettings } from '@lms/contracts';
import type { JsonColumn } from '@lms/runtime';
import { sql, type Generated, type Kysely, type Selectable } from 'kysely';

/** A quiz's structure as stored (slot ids are stable across edits that keep them). */
export type StoredSlot =
  | { from: 'fixed'; slotId: string; questionId: string; points: number }
  | { from: 'random'; slotId: string; categoryId: string; tags: string[]; count: number; points: number };
export interface StoredSection {
  title: string;
  slots: StoredSlot[];
}

export interface AssessmentsDB {
  banks: { id: string; course_id: string; name: string; created_by: string | null; created_at: Generated<Date> };
  bank_shares: { bank_id: string; course_id: string; shared_by: string | null; shared_at: Generated<Date> };
  categories: { id: string; bank_id: string; parent_id: string | null; name: string };
  questions: {
    id: string;
    bank_id: string;
    category_id: string | null;
    version: number;
    type: string;
    default_points: number;
    tags: Generated<string[]>;
    deleted: Generated<boolean>;
    created_by: string | null;
    created_at: Generated<Date>;
    updated_at: Generated<Date>;
  };
  question_versions: {
    question_id: string;
    version: number;
    type: string;
    title: string;
    prompt: string;
    body: JsonColumn<QuestionBody>;
    general_feedback: string | null;
    served: Generated<boolean>;
    created_by: string | null;
    created_at: Generated<Date>;
  };
  question_corrections: {
    id: string;
    question_id: string;
    version: number;
    corrected_by: string | null;
    corrected_at: Generated<Date>;
    reason: string;
    before: JsonColumn<QuestionBody>;
    after: JsonColumn<QuestionBody>;
  };
  quizzes: {
    id: string;
    course_id: string;
    title: string;
    description: string;
    settings: JsonColumn<QuizSettings>;
    sections: JsonColumn<StoredSection[]>;
    published: Generated<boolean>;
    created_by: string | null;
    created_at: Generated<Date>;
    updated_at: Generated<Date>;
  };
  quiz_slots: { id: string; quiz_id: string; question_id: string | null; category_id: string | null };
}

export type BankRow = Selectable<AssessmentsDB['banks']>;
export type CategoryRow = Selectable<AssessmentsDB['categories']>;
export type QuestionRow = Selectable<AssessmentsDB['questions']>;
export type VersionRow = Selectable<AssessmentsDB['question_versions']>;
export type QuizRow = Selectable<AssessmentsDB['quizzes']>;
/** A question with its current (or chosen) version. */
export type LoadedQuestion = QuestionRow & { v: VersionRow };

export interface NewVersion {
  title: string;
  prompt: string;
  body: QuestionBody;
  generalFeedback: string | null;
}

export class AssessmentsRepository {
  constructor(private readonly db: Kysely<AssessmentsDB>) {}

  // ------------------------------------------------------------------ banks

  async createBank(b: { id: string; courseId: string; name: string; by: string }): Promise<BankRow> {
    return this.db.insertInto('banks').values({ id: b.id, course_id: b.courseId, name: b.name, created_by: b.by }).returningAll().executeTakeFirstOrThrow();
  }
  async bank(id: string): Promise<BankRow | undefined> {
    return this.db.selectFrom('banks').selectAll().where('id', '=', id).executeTakeFirst();
  }
  async sharesOf(bankIds: string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    if (bankIds.length === 0) return out;
    const rows = await this.db.selectFrom('bank_shares').select(['bank_id', 'course_id']).where('bank_id', 'in', bankIds).orderBy('shared_at').execute();
    for (const r of rows) out.set(r.bank_id, [...(out.get(r.bank_id) ?? []), r.course_id]);
    return out;
  }
  /** A course's own banks and those shared with it. */
  async banksOfCourse(courseId: string): Promise<BankRow[]> {
    return this.db
      .selectFrom('banks')
      .selectAll()
      .where((eb) => eb.or([eb('course_id', '=', courseId), eb('id', 'in', eb.selectFrom('bank_shares').select('bank_id').where('course_id', '=', courseId))]))
      .orderBy('created_at')
      .orderBy('id')
      .execute();
  }
  /** Whether staff of `courseId` may use the bank's questions (its own course, or shared with it). */
  async bankUsableIn(bankId: string, courseId: string): Promise<boolean> {
    const b = await this.bank(bankId);
    if (!b) return false;
    if (b.course_id === courseId) return true;
    return !!(await this.db.selectFrom('bank_shares').select('bank_id').where('bank_id', '=', bankId).where('course_id', '=', courseId).executeTakeFirst());
  }
  async renameBank(id: string, name: string): Promise<void> {
    await this.db.updateTable('banks').set({ name }).where('id', '=', id).execute();
  }
  async share(bankId: string, courseId: string, by: string): Promise<void> {
    await this.db
      .insertInto('bank_shares')
      .values({ bank_id: bankId, course_id: courseId, shared_by: by })
      .onConflict((oc) => oc.columns(['bank_id', 'course_id']).doNothing())
      .execute();
  }
  /** Whether a quiz uses one of the bank's questions or categories. */
  async bankInUse(bankId: string): Promise<boolean> {
    const r = await this.db
      .selectFrom('quiz_slots')
      .select('id')
      .where((eb) =>
        eb.or([
          eb('question_id', 'in', eb.selectFrom('questions').select('id').where('bank_id', '=', bankId)),
          eb('category_id', 'in', eb.selectFrom('categories').select('id').where('bank_id', '=', bankId)),
        ]),
      )
      .executeTakeFirst();
    return !!r;
  }
  async deleteBank(id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('banks').where('id', '=', id).executeTakeFirst();
    return r.numDeletedRows > 0n;
  }

  // ------------------------------------------------------------------ categories

  async createCategory(c: CategoryRow): Promise<CategoryRow> {
    return this.db.insertInto('categories').values(c).returningAll().executeTakeFirstOrThrow();
  }
  async category(id: string): Promise<CategoryRow | undefined> {
    return this.db.selectFrom('categories').selectAll().where('id', '=', id).executeTakeFirst();
  }
  async categories(bankId: string): Promise<CategoryRow[]> {
    return this.db.selectFrom('categories').selectAll().where('bank_id', '=', bankId).orderBy('name').orderBy('id').execute();
  }

  // ------------------------------------------------------------------ questions

  async createQuestion(
    q: { id: string; bankId: string; categoryId: string | null; defaultPoints: number; tags: string[]; by: string | null },
    v: NewVersion,
  ): Promise<void> {
    await this.db
      .insertInto('questions')
      .values({
        id: q.id,
        bank_id: q.bankId,
        category_id: q.categoryId,
        version: 1,
        type: v.body.type,
        default_points: q.defaultPoints,
        tags: q.tags,
        created_by: q.by,
      })
      .execute();
    await this.insertVersion(q.id, 1, v, q.by);
  }

  private async insertVersion(questionId: string, version: number, v: NewVersion, by: string | null): Promise<void> {
    await this.db
      .insertInto('question_versions')
      .values({
        question_id: questionId,
        version,
        type: v.body.type,
        title: v.title,
        prompt: v.prompt,
        body: JSON.stringify(v.body),
        general_feedback: v.generalFeedback,
        created_by: by,
      })
      .execute();
  }

  /** A live question with its current version (or `version`). */
  async question(id: string, version?: number): Promise<LoadedQuestion | undefined> {
    const q = await this.db.selectFrom('questions').selectAll().where('id', '=', id).where('deleted', '=', false).executeTakeFirst();
    if (!q) return undefined;
    const v = await this.version(id, version ?? q.version);
    return v && { ...q, v };
  }
  async version(questionId: string, version: number): Promise<VersionRow | undefined> {
    return this.db.selectFrom('question_versions').selectAll().where('question_id', '=', questionId).where('version', '=', version).executeTakeFirst();
  }
  async versionsOf(questionId: string): Promise<Array<{ version: number; served: boolean; created_at: Date }>> {
    return this.db
      .selectFrom('question_versions')
      .select(['version', 'served', 'created_at'])
      .where('question_id', '=', questionId)
      .orderBy('version')
      .execute();
  }

  /** Newest first; keyset on (created_at, id). */
  async listQuestions(f: {
    bankId: string;
    limit: number;
    categoryId?: string;
    tag?: string;
    type?: string;
    after?: { createdAt: Date; id: string };
  }): Promise<LoadedQuestion[]> {
    let q = this.db.selectFrom('questions').selectAll().where('bank_id', '=', f.bankId).where('deleted', '=', false);
    if (f.categoryId) q = q.where('category_id', '=', f.categoryId);
    if (f.type) q = q.where('type', '=', f.type);
    if (f.tag) q = q.where(sql<boolean>`${f.tag}::text = any(tags)`);
    const after = f.after;
    if (after) q = q.where((eb) => eb.or([eb('created_at', '<', after.createdAt), eb.and([eb('created_at', '=', after.createdAt), eb('id', '<', after.id)])]));
    const rows = await q
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(f.limit + 1)
      .execute();
    return this.withVersions(rows);
  }
  /** Every live question of a bank (export), oldest first. */
  async allQuestions(bankId: string): Promise<LoadedQuestion[]> {
    const rows = await this.db
      .selectFrom('questions')
      .selectAll()
      .where('bank_id', '=', bankId)
      .where('deleted', '=', false)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return this.withVersions(rows);
  }
  /** Live questions of a category having every tag (random slots' candidates). */
  async candidates(categoryId: string, tags: string[]): Promise<LoadedQuestion[]> {
    let q = this.db.selectFrom('questions').selectAll().where('category_id', '=', categoryId).where('deleted', '=', false);
    if (tags.length > 0) q = q.where(sql<boolean>`tags @> ${sql.val(tags)}::text[]`);
    return this.withVersions(await q.orderBy('created_at').orderBy('id').execute());
  }
  private async withVersions(rows: QuestionRow[]): Promise<LoadedQuestion[]> {
    if (rows.length === 0) return [];
    const vs = await this.db
      .selectFrom('question_versions')
      .selectAll()
      .where((eb) => eb.or(rows.map((r) => eb.and([eb('question_id', '=', r.id), eb('version', '=', r.version)]))))
      .execute();
    const by = new Map(vs.map((v) => [v.question_id, v]));
    return rows.flatMap((r) => {
      const v = by.get(r.id);
      return v ? [{ ...r, v }] : [];
    });
  }

  /**
   * Applies an edit: in place while the current version has not been served, else as a new version. Answers
   * the version the question is at now.
   */
  async updateQuestion(
    q: LoadedQuestion,
    meta: { categoryId: string | null; defaultPoints: number; tags: string[] },
    v: NewVersion | undefined,
    by: string,
  ): Promise<number> {
    // Lock the row: two edits of a question do not both create version n+1.
    const cur = await this.db.selectFrom('questions').select('version').where('id', '=', q.id).forUpdate().executeTakeFirstOrThrow();
    let version = cur.version;
    if (v) {
      const current = await this.version(q.id, version);
      if (current?.served) {
        version += 1;
        await this.insertVersion(q.id, version, v, by);
      } else {
        await this.db
          .updateTable('question_versions')
          .set({ type: v.body.type, title: v.title, prompt: v.prompt, body: JSON.stringify(v.body), general_feedback: v.generalFeedback })
          .where('question_id', '=', q.id)
          .where('version', '=', version)
          .execute();
      }
    }
    await this.db
      .updateTable('questions')
      .set({
        version,
        type: v?.body.type ?? q.type,
        category_id: meta.categoryId,
        default_points: meta.defaultPoints,
        tags: meta.tags,
        updated_at: new Date(),
      })
      .where('id', '=', q.id)
      .execute();
    return version;
  }

  async questionInUse(id: string): Promise<boolean> {
    return !!(await this.db.selectFrom('quiz_slots').select('id').where('question_id', '=', id).executeTakeFirst());
  }
  /** Soft delete: versions stay for the attempts that saw them. */
  async deleteQuestion(id: string): Promise<void> {
    await this.db.updateTable('questions').set({ deleted: true, updated_at: new Date() }).where('id', '=', id).execute();
    await this.db.deleteFrom('question_versions').where('question_id', '=', id).where('served', '=', false).execute();
  }

  async correct(c: { id: string; questionId: string; version: number; by: string; reason: string; before: QuestionBody; after: QuestionBody }): Promise<Date> {
    await this.db
      .updateTable('question_versions')
      .set({ body: JSON.stringify(c.after) })
      .where('question_id', '=', c.questionId)
      .where('version', '=', c.version)
      .execute();
    const r = await this.db
      .insertInto('question_corrections')
      .values({
        id: c.id,
        question_id: c.questionId,
        version: c.version,
        corrected_by: c.by,
        reason: c.reason,
        before: JSON.stringify(c.before),
        after: JSON.stringify(c.after),
      })
      .returning('corrected_at')
      .executeTakeFirstOrThrow();
    return r.corrected_at;
  }

  async markServed(refs: Array<{ questionId: string; version: number }>): Promise<void> {
    if (refs.length === 0) return;
    await this.db
      .updateTable('question_versions')
      .set({ served: true })
      .where('served', '=', false)
      .where((eb) => eb.or(refs.map((r) => eb.and([eb('question_id', '=', r.questionId), eb('version', '=', r.version)]))))
      .execute();
  }
  async versions(refs: Array<{ questionId: string; version: number }>): Promise<VersionRow[]> {
    if (refs.length === 0) return [];
    return this.db
      .selectFrom('question_versions')
      .selectAll()
      .where((eb) => eb.or(refs.map((r) => eb.and([eb('question_id', '=', r.questionId), eb('version', '=', r.version)]))))
      .execute();
  }

  // ------------------------------------------------------------------ quizzes

  async createQuiz(q: { id: string; courseId: string; title: string; description: string; settings: QuizSettings; sections: StoredSection[]; by: string }) {
    await this.db
      .insertInto('quizzes')
      .values({
        id: q.id,
        course_id: q.courseId,
        title: q.title,
        description: q.description,
        settings: JSON.stringify(q.settings),
        sections: JSON.stringify(q.sections),
        created_by: q.by,
      })
      .execute();
    await this.replaceSlots(q.id, q.sections);
  }
  private async replaceSlots(quizId: string, sections: StoredSection[]): Promise<void> {
    await this.db.deleteFrom('quiz_slots').where('quiz_id', '=', quizId).execute();
    const rows = sections.flatMap((s) =>
      s.slots.map((x) => ({
        id: x.slotId,
        quiz_id: quizId,
        question_id: x.from === 'fixed' ? x.questionId : null,
        category_id: x.from === 'random' ? x.categoryId : null,
      })),
    );
    if (rows.length > 0) await this.db.insertInto('quiz_slots').values(rows).execute();
  }
  async quiz(id: string): Promise<QuizRow | undefined> {
    return this.db.selectFrom('quizzes').selectAll().where('id', '=', id).executeTakeFirst();
  }
  async quizzesOf(courseId: string): Promise<QuizRow[]> {
    return this.db.selectFrom('quizzes').selectAll().where('course_id', '=', courseId).orderBy('created_at').orderBy('id').execute();
  }
  async updateQuiz(
    id: string,
    p: { title?: string; description?: string; settings?: QuizSettings; sections?: StoredSection[]; published?: boolean },
  ): Promise<void> {
    await this.db
      .updateTable('quizzes')
      .set({
        ...(p.title !== undefined && { title: p.title }),
        ...(p.description !== undefined && { description: p.description }),
        ...(p.settings !== undefined && { settings: JSON.stringify(p.settings) }),
        ...(p.sections !== undefined && { sections: JSON.stringify(p.sections) }),
        ...(p.published !== undefined && { published: p.published }),
        updated_at: new Date(),
      })
      .where('id', '=', id)
      .execute();
    if (p.sections) await this.replaceSlots(id, p.sections);
  }
  async deleteQuiz(id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('quizzes').where('id', '=', id).executeTakeFirst();
    return r.numDeletedRows > 0n;
  }

  // ------------------------------------------------------------------ privacy

  /** What a person authored (questions they created, corrections they made). */
  async authoredBy(userId: string) {
    const questions = await this.db
      .selectFrom('questions')
      .select(['id', 'bank_id', 'created_at'])
      .where('created_by', '=', userId)
      .orderBy('created_at')
      .execute();
    const corrections = await this.db
      .selectFrom('question_corrections')
      .select(['question_id', 'version', 'corrected_at', 'reason'])
      .where('corrected_by', '=', userId)
      .orderBy('corrected_at')
      .execute();
    return { questions, corrections };
  }
  /** Erasure: the content stays with the course; who wrote it does not. */
  async anonymise(userId: string): Promise<void> {
    await this.db.updateTable('banks').set({ created_by: null }).where('created_by', '=', userId).execute();
    await this.db.updateTable('bank_shares').set({ shared_by: null }).where('shared_by', '=', userId).execute();
    await this.db.updateTable('questions').set({ created_by: null }).where('created_by', '=', userId).execute();
    await this.db.updateTable('question_versions').set({ created_by: null }).where('created_by', '=', userId).execute();
    await this.db.updateTable('question_corrections').set({ corrected_by: null }).where('corrected_by', '=', userId).execute();
    await this.db.updateTable('quizzes').set({ created_by: null }).where('created_by', '=', userId).execute();
  }
}
