import type { JsonColumn } from '@lms/runtime';
import { sql, type Generated, type Insertable, type Kysely, type Selectable } from 'kysely';
import type { LetterThreshold } from './aggregate.js';

export interface GradesDB {
  settings: {
    course_id: string;
    aggregation: string;
    treat_missing_as_zero: boolean;
    uncategorised_weight: number;
    scale: JsonColumn<LetterThreshold[]>;
    minimum_pass_percent: number | null;
    updated_at: Generated<Date>;
  };
  categories: {
    id: string;
    course_id: string;
    name: string;
    weight: number;
    drop_lowest: number;
    aggregation: string;
    created_at: Generated<Date>;
  };
  items: {
    id: string;
    course_id: string;
    source: string;
    title: string;
    category_id: string | null;
    max_points: number;
    extra_credit: Generated<boolean>;
    excluded: Generated<boolean>;
    released: Generated<boolean>;
    hidden: Generated<boolean>;
    due_at: Date | null;
    created_at: Generated<Date>;
  };
  grades: {
    course_id: string;
    user_id: string;
    item_id: string;
    points: number | null;
    override: number | null;
    released: Generated<boolean>;
    feedback: string | null;
    updated_at: Generated<Date>;
  };
  totals: { course_id: string; user_id: string; override: number; reason: string; by: string | null; at: Generated<Date> };
  learners: { course_id: string; user_id: string; status: string };
  history: {
    id: Generated<string>;
    course_id: string;
    item_id: string | null;
    user_id: string;
    changed_by: string | null;
    at: Generated<Date>;
    field: string;
    before: number | null;
    after: number | null;
    reason: string | null;
    source: string;
    event_id: string | null;
  };
}

export type SettingsRow = Selectable<GradesDB['settings']>;
export type CategoryRow = Selectable<GradesDB['categories']>;
export type ItemRow = Selectable<GradesDB['items']>;
export type GradeRow = Selectable<GradesDB['grades']>;
export type HistoryRow = Selectable<GradesDB['history']>;
export type NewHistory = Omit<GradesDB['history'], 'id' | 'at'>;

export class GradesRepository {
  constructor(private readonly db: Kysely<GradesDB>) {}

  // ---------------------------------------------------------------- settings, categories, items

  settings(courseId: string) {
    return this.db.selectFrom('settings').selectAll().where('course_id', '=', courseId).executeTakeFirst();
  }

  async putSettings(row: Omit<GradesDB['settings'], 'updated_at' | 'scale'> & { scale: LetterThreshold[] }): Promise<void> {
    const values = { ...row, scale: JSON.stringify(row.scale) };
    await this.db
      .insertInto('settings')
      .values(values)
      .onConflict((oc) => oc.column('course_id').doUpdateSet({ ...values, updated_at: sql`now()` }))
      .execute();
  }

  categories(courseId: string) {
    return this.db.selectFrom('categories').selectAll().where('course_id', '=', courseId).orderBy('created_at').orderBy('id').execute();
  }

  category(id: string) {
    return this.db.selectFrom('categories').selectAll().where('id', '=', id).executeTakeFirst();
  }

  insertCategory(row: Insertable<GradesDB['categories']>) {
    return this.db.insertInto('categories').values(row).returningAll().executeTakeFirstOrThrow();
  }

  updateCategory(id: string, patch: Partial<Pick<CategoryRow, 'name' | 'weight' | 'drop_lowest' | 'aggregation'>>) {
    return this.db.updateTable('categories').set(patch).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
  }

  async deleteCategory(id: string): Promise<void> {
    await this.db.updateTable('items').set({ category_id: null }).where('category_id', '=', id).execute();
    await this.db.deleteFrom('categories').where('id', '=', id).execute();
  }

  items(courseId: string) {
    return this.db.selectFrom('items').selectAll().where('course_id', '=', courseId).orderBy('created_at').orderBy('id').execute();
  }

  item(id: string) {
    return this.db.selectFrom('items').selectAll().where('id', '=', id).executeTakeFirst();
  }

  insertItem(row: Insertable<GradesDB['items']>) {
    return this.db.insertInto('items').values(row).returningAll().executeTakeFirstOrThrow();
  }

  /** An assessment's item, created or changed from its event (its category and flags stay as staff set them). */
  async upsertAssessmentItem(row: { id: string; course_id: string; source: string; title: string; max_points: number; due_at: Date | null }): Promise<void> {
    await this.db
      .insertInto('items')
      .values({ ...row, category_id: null })
      .onConflict((oc) => oc.column('id').doUpdateSet({ title: row.title, max_points: row.max_points, due_at: row.due_at }))
      .execute();
  }

  /** An item for a grade that came before its item's event (a placeholder the item's event completes). */
  async ensureItem(row: { id: string; course_id: string; source: string; title: string; max_points: number }): Promise<void> {
    await this.db
      .insertInto('items')
      .values({ ...row, category_id: null, due_at: null })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
  }

  updateItem(id: string, patch: Partial<Pick<ItemRow, 'title' | 'max_points' | 'category_id' | 'extra_credit' | 'excluded' | 'released' | 'hidden'>>) {
    return this.db.updateTable('items').set(patch).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
  }

  async deleteItem(id: string): Promise<void> {
    await this.db.deleteFrom('grades').where('item_id', '=', id).execute();
    await this.db.deleteFrom('items').where('id', '=', id).execute();
  }

  // ---------------------------------------------------------------- grades

  grade(courseId: string, itemId: string, userId: string) {
    return this.db
      .selectFrom('grades')
      .selectAll()
      .where('course_id', '=', courseId)
      .where('user_id', '=', userId)
      .where('item_id', '=', itemId)
      .executeTakeFirst();
  }

  itemGrades(itemId: string) {
    return this.db.selectFrom('grades').selectAll().where('item_id', '=', itemId).execute();
  }

  async putGrade(row: { course_id: string; user_id: string; item_id: string } & Partial<Pick<GradeRow, 'points' | 'override' | 'released' | 'feedback'>>) {
    const { course_id, user_id, item_id, ...patch } = row;
    return this.db
      .insertInto('grades')
      .values({ course_id, user_id, item_id, points: null, override: null, feedback: null, ...patch })
      .onConflict((oc) => oc.columns(['course_id', 'user_id', 'item_id']).doUpdateSet({ ...patch, updated_at: sql`now()` }))
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /** The grades of a page of learners: one query. */
  gradesOf(courseId: string, userIds: readonly string[]) {
    if (userIds.length === 0) return Promise.resolve([]);
    return this.db
      .selectFrom('grades')
      .select(['user_id', 'item_id', 'points', 'override', 'released', 'feedback'])
      .where('course_id', '=', courseId)
      .where('user_id', 'in', userIds)
      .execute();
  }

  totals(courseId: string, userIds: readonly string[]) {
    if (userIds.length === 0) return Promise.resolve([]);
    return this.db.selectFrom('totals').selectAll().where('course_id', '=', courseId).where('user_id', 'in', userIds).execute();
  }

  async putTotal(row: { course_id: string; user_id: string; override: number | null; reason: string; by: string | null }): Promise<void> {
    if (row.override === null) {
      await this.db.deleteFrom('totals').where('course_id', '=', row.course_id).where('user_id', '=', row.user_id).execute();
      return;
    }
    const values = { ...row, override: row.override };
    await this.db
      .insertInto('totals')
      .values(values)
      .onConflict((oc) => oc.columns(['course_id', 'user_id']).doUpdateSet({ override: values.override, reason: row.reason, by: row.by, at: sql`now()` }))
      .execute();
  }

  // ---------------------------------------------------------------- learners

  async putLearner(courseId: string, userId: string, status: string, overwrite: boolean): Promise<void> {
    await this.db
      .insertInto('learners')
      .values({ course_id: courseId, user_id: userId, status })
      .onConflict((oc) => (overwrite ? oc.columns(['course_id', 'user_id']).doUpdateSet({ status }) : oc.columns(['course_id', 'user_id']).doNothing()))
      .execute();
  }

  /** A page of a course's learners by id (keyset: ids after `after`). */
  learners(courseId: string, after: string | undefined, limit: number) {
    let q = this.db.selectFrom('learners').select('user_id').where('course_id', '=', courseId);
    if (after) q = q.where('user_id', '>', after);
    return q.orderBy('user_id').limit(limit).execute();
  }

  isLearner(courseId: string, userId: string) {
    return this.db.selectFrom('learners').select('status').where('course_id', '=', courseId).where('user_id', '=', userId).executeTakeFirst();
  }

  // ---------------------------------------------------------------- history

  async record(rows: NewHistory[]): Promise<void> {
    if (rows.length > 0) await this.db.insertInto('history').values(rows).execute();
  }

  history(courseId: string, userId: string) {
    return this.db.selectFrom('history').selectAll().where('course_id', '=', courseId).where('user_id', '=', userId).orderBy('id').limit(5000).execute();
  }

  // ---------------------------------------------------------------- privacy

  async exportUser(userId: string) {
    const [grades, totals, learners, history] = await Promise.all([
      this.db.selectFrom('grades').selectAll().where('user_id', '=', userId).execute(),
      this.db.selectFrom('totals').selectAll().where('user_id', '=', userId).execute(),
      this.db.selectFrom('learners').selectAll().where('user_id', '=', userId).execute(),
      this.db.selectFrom('history').selectAll().where('user_id', '=', userId).orderBy('id').execute(),
    ]);
    return { grades, totals, courses: learners, history };
  }

  /** Erasure: the user's grades, totals and history go; their name as the author of others' changes is cleared. */
  async eraseUser(userId: string): Promise<void> {
    await this.db.deleteFrom('grades').where('user_id', '=', userId).execute();
    await this.db.deleteFrom('totals').where('user_id', '=', userId).execute();
    await this.db.updateTable('totals').set({ by: null }).where('by', '=', userId).execute();
    await this.db.deleteFrom('learners').where('user_id', '=', userId).execute();
    await this.db.deleteFrom('history').where('user_id', '=', userId).execute();
    await this.db.updateTable('history').set({ changed_by: null }).where('changed_by', '=', userId).execute();
  }
}
