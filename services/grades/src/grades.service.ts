import {
  assessmentEvents,
  coursePermissionsOf,
  coursesInternal,
  DomainError,
  enrollmentEvents,
  erasureReceipts,
  gradeEvents,
  grades,
  gradesInternal,
  privacyExportContract,
  userEvents,
  usersInternal,
} from '@lms/contracts';
import { consumerOf, defineService, invalidCursor, type Call, type Caller } from '@lms/runtime';
import type { Kysely } from 'kysely';
import { randomUUID } from 'node:crypto';
import { courseResult, defaultScale, defaultSettings, round2, type AggCategory, type AggGrade, type AggItem, type AggSettings } from './aggregate.js';
import { gradesEnv } from './config.js';
import { CsvError, parseCsv, toCsv } from './csv.js';
import { GradesRepository, type CategoryRow, type GradeRow, type GradesDB, type ItemRow, type NewHistory, type SettingsRow } from './grades.repository.js';
import * as m0 from './migrations/20261201000000_grades.js';

interface GradesDeps {
  importMaxRows: number;
}
const on = consumerOf<GradesDB, GradesRepository, GradesDeps>();

const notFound = () => new DomainError('NOT_FOUND', 'No such gradebook');

/**
 * Who the caller is in the course's gradebook: a grader (`course:grade`, or an administrator) or one of its learners.
 * Anyone else, and a course they may not see, finds nothing (404, like an unknown id).
 */
async function accessOf(call: Call, courseId: string, caller: Caller): Promise<'grader' | 'learner'> {
  const admin = caller.roles.includes('admin');
  const r = await call(coursesInternal.roleOf, { courseId, userId: caller.userId });
  if (!r.exists || !(admin || r.visible)) throw notFound();
  if (admin || coursePermissionsOf(r.role ?? undefined).has('course:grade')) return 'grader';
  if (r.role === 'learner') return 'learner';
  throw notFound();
}

async function grader(call: Call, courseId: string, caller: Caller): Promise<void> {
  if ((await accessOf(call, courseId, caller)) !== 'grader') throw notFound();
}

/** An item the caller grades (404 for an unknown item and for one of a course they do not grade). */
async function gradedItem(repo: GradesRepository, call: Call, itemId: string, caller: Caller): Promise<ItemRow> {
  const item = await repo.item(itemId);
  if (!item) throw new DomainError('NOT_FOUND', 'No such gradebook item');
  await grader(call, item.course_id, caller);
  return item;
}

const settingsOf = (row: SettingsRow | undefined) => ({
  aggregation: row?.aggregation === 'weighted' ? ('weighted' as const) : ('natural' as const),
  treatMissingAsZero: row?.treat_missing_as_zero ?? false,
  uncategorisedWeight: row?.uncategorised_weight ?? 0,
  scale: row?.scale ?? [...defaultScale],
  minimumPassPercent: row?.minimum_pass_percent ?? null,
});

const aggSettings = (row: SettingsRow | undefined): AggSettings => ({ ...defaultSettings, ...settingsOf(row) });
const aggItem = (i: ItemRow): AggItem => ({ id: i.id, categoryId: i.category_id, maxPoints: i.max_points, extraCredit: i.extra_credit, excluded: i.excluded });
const aggCategory = (c: CategoryRow): AggCategory => ({
  id: c.id,
  weight: c.weight,
  dropLowest: c.drop_lowest,
  aggregation: c.aggregation === 'mean' ? 'mean' : 'natural',
});

const fieldOf = (f: string): 'grade' | 'override' | 'total' => (f === 'override' || f === 'total' ? f : 'grade');
const historySourceOf = (s: string): 'manual' | 'event' | 'import' => (s === 'event' || s === 'import' ? s : 'manual');
const sourceOf = (s: string): 'manual' | 'quiz' | 'assignment' => (s === 'quiz' || s === 'assignment' ? s : 'manual');
const toItem = (i: ItemRow) => ({
  id: i.id,
  courseId: i.course_id,
  source: sourceOf(i.source),
  title: i.title,
  categoryId: i.category_id,
  maxPoints: i.max_points,
  extraCredit: i.extra_credit,
  excluded: i.excluded,
  released: i.released,
  hidden: i.hidden,
  dueAt: i.due_at?.toISOString() ?? null,
});
const toCategory = (c: CategoryRow) => ({
  id: c.id,
  courseId: c.course_id,
  name: c.name,
  weight: c.weight,
  dropLowest: c.drop_lowest,
  aggregation: aggCategory(c).aggregation,
});

type GradeLike = Pick<GradeRow, 'points' | 'override' | 'released'>;
const effective = (g: GradeLike | undefined) => g?.override ?? g?.points ?? null;
/** A learner sees a grade when it exists, its item is not hidden, and the item or the assessment released it. */
const visible = (item: ItemRow, g: GradeLike | undefined) => effective(g) !== null && !item.hidden && (item.released || (g?.released ?? false));
const cellOf = (item: ItemRow, g: GradeLike | undefined) => ({
  itemId: item.id,
  points: g?.points ?? null,
  override: g?.override ?? null,
  visible: visible(item, g),
});
const percentOf = (item: ItemRow, points: number | null) => (points === null || item.max_points <= 0 ? null : round2((points / item.max_points) * 100));

/** Every learner's course result for a set of learners: one query for grades, one for total overrides. */
async function computeRows(
  repo: GradesRepository,
  courseId: string,
  userIds: readonly string[],
  ctx?: { items: ItemRow[]; categories: CategoryRow[]; settings: SettingsRow | undefined },
) {
  const [items, categories, settings] = ctx
    ? [ctx.items, ctx.categories, ctx.settings]
    : await Promise.all([repo.items(courseId), repo.categories(courseId), repo.settings(courseId)]);
  const [rows, totals] = await Promise.all([repo.gradesOf(courseId, userIds), repo.totals(courseId, userIds)]);
  const byUser = new Map<string, Map<string, GradeLike>>();
  for (const g of rows) {
    let m = byUser.get(g.user_id);
    if (!m) byUser.set(g.user_id, (m = new Map<string, GradeLike>()));
    m.set(g.item_id, g);
  }
  const overrides = new Map(totals.map((t) => [t.user_id, t.override]));
  const aggItems = items.map(aggItem);
  const aggCats = categories.map(aggCategory);
  const s = aggSettings(settings);
  return userIds.map((userId) => {
    const mine = byUser.get(userId) ?? new Map<string, GradeLike>();
    const agg = new Map<string, AggGrade>([...mine].map(([k, g]) => [k, { points: g.points, override: g.override }]));
    const r = courseResult(aggItems, aggCats, agg, s, overrides.get(userId) ?? null);
    return {
      userId,
      grades: items.map((i) => cellOf(i, mine.get(i.id))),
      percent: round2(r.percent),
      letter: r.letter,
      totalOverride: overrides.get(userId) ?? null,
    };
  });
}

const encodeCursor = (userId: string) => Buffer.from(userId).toString('base64url');
function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString();
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) throw invalidCursor();
  return id;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Columns the export writes that an import ignores. */
const computedColumns = new Set(['name', 'percent', 'letter', 'total override']);

/** Display names of a page of learners: one users call per page (none for an empty page). */
async function namesOf(call: Call, userIds: readonly string[]): Promise<Map<string, string>> {
  if (userIds.length === 0) return new Map();
  const { items } = await call(usersInternal.summaries, { ids: [...userIds] });
  return new Map(items.map((u) => [u.id, u.displayName]));
}

/** The gradebook: items, categories, grades (a read model of the assessments' events, plus manual items), totals. */
export const gradesService = defineService({
  name: 'grades',
  env: gradesEnv,
  contracts: { ...grades, ...gradesInternal, ...privacyExportContract('grades') },
  migrations: { '20261201000000_grades': m0 },
  repository: (db: Kysely<GradesDB>) => new GradesRepository(db),
  deps: (s): GradesDeps => ({ importMaxRows: s.config.GRADES_IMPORT_MAX_ROWS }),
  consumers: [
    on({
      name: 'item-changed',
      event: assessmentEvents.itemChanged,
      handle: async ({ payload: p, repo }) => {
        if (p.deleted) await repo.deleteItem(p.assessmentId);
        else
          await repo.upsertAssessmentItem({
            id: p.assessmentId,
            course_id: p.courseId,
            source: p.kind,
            title: p.title,
            max_points: p.maxPoints,
            due_at: p.dueAt ? new Date(p.dueAt) : null,
          });
      },
    }),
    on({
      name: 'graded',
      event: assessmentEvents.graded,
      handle: async ({ payload: p, event, repo, emit }) => {
        // A grade may arrive before its item's event: a placeholder item, completed when that event comes.
        await repo.ensureItem({ id: p.assessmentId, course_id: p.courseId, source: p.kind, title: p.kind, max_points: p.grade.maxPoints });
        const item = await repo.item(p.assessmentId);
        if (!item || item.course_id !== p.courseId) return; // an id of another course's item: not ours to change
        await repo.putLearner(p.courseId, p.userId, 'active', false);
        const before = await repo.grade(p.courseId, item.id, p.userId);
        const after = await repo.putGrade({
          course_id: p.courseId,
          user_id: p.userId,
          item_id: item.id,
          points: p.grade.points,
          released: p.released,
          feedback: p.feedback,
        });
        if ((before?.points ?? null) !== after.points)
          await repo.record([
            {
              course_id: p.courseId,
              item_id: item.id,
              user_id: p.userId,
              changed_by: null,
              field: 'grade',
              before: before?.points ?? null,
              after: after.points,
              reason: p.regrade ? 'regrade' : null,
              source: 'event',
              event_id: event.id,
            },
          ]);
        if (!visible(item, before) && visible(item, after))
          await emit(
            gradeEvents.released,
            { courseId: p.courseId, userId: p.userId, itemId: item.id, itemTitle: item.title, percent: percentOf(item, effective(after)) },
            p.userId,
          );
      },
    }),
    on({
      name: 'enrollments',
      event: enrollmentEvents.created,
      handle: async ({ payload: p, repo }) => repo.putLearner(p.courseId, p.userId, 'active', true),
    }),
    on({
      name: 'enrollment-changed',
      event: enrollmentEvents.changed,
      handle: async ({ payload: p, repo }) => repo.putLearner(p.courseId, p.userId, p.status, true),
    }),
    on({
      name: 'user-deleted',
      event: userEvents.deleted,
      handle: async ({ payload: p, repo, emit }) => {
        await repo.eraseUser(p.userId);
        await emit(erasureReceipts.grades, { requestId: p.requestId, userId: p.userId, service: 'grades' }, p.userId);
      },
    }),
  ],
  handlers: {
    // ---------------------------------------------------------------- settings, categories, items
    async settings({ input, caller, call, repo }) {
      await grader(call, input.courseId, caller);
      return settingsOf(await repo.settings(input.courseId));
    },
    async updateSettings({ input, caller, call, uow }) {
      await grader(call, input.courseId, caller);
      return uow(async ({ repo }) => {
        const { courseId, ...patch } = input;
        const next = { ...settingsOf(await repo.settings(courseId)), ...patch };
        await repo.putSettings({
          course_id: courseId,
          aggregation: next.aggregation,
          treat_missing_as_zero: next.treatMissingAsZero,
          uncategorised_weight: next.uncategorisedWeight,
          scale: next.scale,
          minimum_pass_percent: next.minimumPassPercent,
        });
        return next;
      });
    },
    async categories({ input, caller, call, repo }) {
      await grader(call, input.courseId, caller);
      return { items: (await repo.categories(input.courseId)).map(toCategory) };
    },
    async createCategory({ input, caller, call, uow }) {
      await grader(call, input.courseId, caller);
      const row = await uow(({ repo }) =>
        repo.insertCategory({
          id: randomUUID(),
          course_id: input.courseId,
          name: input.name,
          weight: input.weight,
          drop_lowest: input.dropLowest,
          aggregation: input.aggregation,
        }),
      );
      return toCategory(row);
    },
    async updateCategory({ input, caller, call, repo, uow }) {
      const c = await repo.category(input.categoryId);
      if (!c) throw new DomainError('NOT_FOUND', 'No such category');
      await grader(call, c.course_id, caller);
      const row = await uow(({ repo }) =>
        repo.updateCategory(c.id, {
          ...(input.name !== undefined && { name: input.name }),
          ...(input.weight !== undefined && { weight: input.weight }),
          ...(input.dropLowest !== undefined && { drop_lowest: input.dropLowest }),
          ...(input.aggregation !== undefined && { aggregation: input.aggregation }),
        }),
      );
      return toCategory(row);
    },
    async deleteCategory({ input, caller, call, repo, uow }) {
      const c = await repo.category(input.categoryId);
      if (!c) throw new DomainError('NOT_FOUND', 'No such category');
      await grader(call, c.course_id, caller);
      await uow(({ repo }) => repo.deleteCategory(c.id));
      return { deleted: true as const };
    },
    async items({ input, caller, call, repo }) {
      await grader(call, input.courseId, caller);
      return { items: (await repo.items(input.courseId)).map(toItem) };
    },
    async createItem({ input, caller, call, uow }) {
      await grader(call, input.courseId, caller);
      const row = await uow(async ({ repo }) => {
        if (input.categoryId !== null && (await repo.category(input.categoryId))?.course_id !== input.courseId)
          throw new DomainError('NOT_FOUND', 'No such category');
        return repo.insertItem({
          id: randomUUID(),
          course_id: input.courseId,
          source: 'manual',
          title: input.title,
          category_id: input.categoryId,
          max_points: input.maxPoints,
          extra_credit: input.extraCredit,
          excluded: input.excluded,
          due_at: null,
        });
      });
      return toItem(row);
    },
    async updateItem({ input, caller, call, repo, uow }) {
      const item = await gradedItem(repo, call, input.itemId, caller);
      if (item.source !== 'manual' && (input.title !== undefined || input.maxPoints !== undefined))
        throw new DomainError('CONFLICT', "An assessment's item takes its title and points from the assessment");
      const row = await uow(async ({ repo }) => {
        if (input.categoryId != null && (await repo.category(input.categoryId))?.course_id !== item.course_id)
          throw new DomainError('NOT_FOUND', 'No such category');
        return repo.updateItem(item.id, {
          ...(input.title !== undefined && { title: input.title }),
          ...(input.maxPoints !== undefined && { max_points: input.maxPoints }),
          ...(input.categoryId !== undefined && { category_id: input.categoryId }),
          ...(input.extraCredit !== undefined && { extra_credit: input.extraCredit }),
          ...(input.excluded !== undefined && { excluded: input.excluded }),
        });
      });
      return toItem(row);
    },
    async deleteItem({ input, caller, call, repo, uow }) {
      const item = await gradedItem(repo, call, input.itemId, caller);
      if (item.source !== 'manual') throw new DomainError('CONFLICT', "An assessment's item goes when the assessment is deleted");
      await uow(({ repo }) => repo.deleteItem(item.id));
      return { deleted: true as const };
    },
    async releaseItem({ input, caller, call, repo, uow }) {
      const item = await gradedItem(repo, call, input.itemId, caller);
      const row = await uow(async ({ repo, emit }) => {
        const next = await repo.updateItem(item.id, input.released ? { released: true, hidden: false } : { released: false, hidden: true });
        if (input.released)
          for (const g of await repo.itemGrades(item.id))
            if (!visible(item, g) && visible(next, g))
              await emit(
                gradeEvents.released,
                { courseId: item.course_id, userId: g.user_id, itemId: item.id, itemTitle: item.title, percent: percentOf(item, effective(g)) },
                g.user_id,
              );
        return next;
      });
      return toItem(row);
    },

    // ---------------------------------------------------------------- grades
    async setGrade({ input, caller, call, repo, uow }) {
      const item = await gradedItem(repo, call, input.itemId, caller);
      if (item.source !== 'manual') throw new DomainError('CONFLICT', "An assessment's grades come from the assessment: override them instead");
      return uow(async ({ repo, emit }) => {
        const before = await repo.grade(item.course_id, item.id, input.userId);
        const changed = (before?.points ?? null) !== input.points;
        if (changed && visible(item, before) && !input.reason)
          throw new DomainError('GRADE_RELEASED', 'The learner sees this grade: changing it needs a reason', { itemId: item.id, userId: input.userId });
        const after = await repo.putGrade({
          course_id: item.course_id,
          user_id: input.userId,
          item_id: item.id,
          points: input.points,
          ...(input.feedback !== undefined && { feedback: input.feedback }),
        });
        await repo.putLearner(item.course_id, input.userId, 'active', false);
        if (changed)
          await repo.record([
            {
              course_id: item.course_id,
              item_id: item.id,
              user_id: input.userId,
              changed_by: caller.userId,
              field: 'grade',
              before: before?.points ?? null,
              after: input.points,
              reason: input.reason ?? null,
              source: 'manual',
              event_id: null,
            },
          ]);
        if (!visible(item, before) && visible(item, after))
          await emit(
            gradeEvents.released,
            { courseId: item.course_id, userId: input.userId, itemId: item.id, itemTitle: item.title, percent: percentOf(item, effective(after)) },
            input.userId,
          );
        return cellOf(item, after);
      });
    },
    async overrideGrade({ input, caller, call, repo, uow }) {
      const item = await gradedItem(repo, call, input.itemId, caller);
      return uow(async ({ repo, emit }) => {
        const before = await repo.grade(item.course_id, item.id, input.userId);
        const after = await repo.putGrade({ course_id: item.course_id, user_id: input.userId, item_id: item.id, override: input.points });
        await repo.putLearner(item.course_id, input.userId, 'active', false);
        await repo.record([
          {
            course_id: item.course_id,
            item_id: item.id,
            user_id: input.userId,
            changed_by: caller.userId,
            field: 'override',
            before: before?.override ?? null,
            after: input.points,
            reason: input.reason,
            source: 'manual',
            event_id: null,
          },
        ]);
        if (!visible(item, before) && visible(item, after))
          await emit(
            gradeEvents.released,
            { courseId: item.course_id, userId: input.userId, itemId: item.id, itemTitle: item.title, percent: percentOf(item, effective(after)) },
            input.userId,
          );
        return cellOf(item, after);
      });
    },
    async overrideTotal({ input, caller, call, uow }) {
      await grader(call, input.courseId, caller);
      await uow(async ({ repo }) => {
        const [before] = await repo.totals(input.courseId, [input.userId]);
        await repo.putTotal({ course_id: input.courseId, user_id: input.userId, override: input.percent, reason: input.reason, by: caller.userId });
        await repo.putLearner(input.courseId, input.userId, 'active', false);
        await repo.record([
          {
            course_id: input.courseId,
            item_id: null,
            user_id: input.userId,
            changed_by: caller.userId,
            field: 'total',
            before: before?.override ?? null,
            after: input.percent,
            reason: input.reason,
            source: 'manual',
            event_id: null,
          },
        ]);
      });
      return { userId: input.userId, totalOverride: input.percent };
    },

    // ---------------------------------------------------------------- reading
    async gradebook({ input, caller, call, repo }) {
      const after = input.cursor === undefined ? undefined : decodeCursor(input.cursor);
      await grader(call, input.courseId, caller);
      const [items, categories, settings, learners] = await Promise.all([
        repo.items(input.courseId),
        repo.categories(input.courseId),
        repo.settings(input.courseId),
        repo.learners(input.courseId, after, input.limit + 1),
      ]);
      const page = learners.slice(0, input.limit).map((l) => l.user_id);
      const [rows, names] = await Promise.all([computeRows(repo, input.courseId, page, { items, categories, settings }), namesOf(call, page)]);
      const last = page.at(-1);
      return {
        items: items.map(toItem),
        categories: categories.map(toCategory),
        rows: rows.map((r) => ({ ...r, displayName: names.get(r.userId) ?? null })),
        nextCursor: learners.length > input.limit && last !== undefined ? encodeCursor(last) : null,
      };
    },
    async myGrades({ input, caller, call, repo }) {
      await accessOf(call, input.courseId, caller);
      const [items, categories, settings, mine, totals] = await Promise.all([
        repo.items(input.courseId),
        repo.categories(input.courseId),
        repo.settings(input.courseId),
        repo.gradesOf(input.courseId, [caller.userId]),
        repo.totals(input.courseId, [caller.userId]),
      ]);
      const byItem = new Map(mine.map((g) => [g.item_id, g]));
      const shown = items.filter((i) => visible(i, byItem.get(i.id)));
      // The total over the released grades only: an unreleased grade must not show through the total.
      const agg = new Map<string, AggGrade>(
        shown.map((i) => [i.id, { points: byItem.get(i.id)?.points ?? null, override: byItem.get(i.id)?.override ?? null }]),
      );
      const r = courseResult(
        shown.map(aggItem),
        categories.map(aggCategory),
        agg,
        { ...aggSettings(settings), treatMissingAsZero: false },
        totals[0]?.override ?? null,
      );
      return {
        grades: shown.map((i) => {
          const g = byItem.get(i.id);
          const points = effective(g);
          return {
            itemId: i.id,
            title: i.title,
            categoryId: i.category_id,
            points,
            maxPoints: i.max_points,
            percent: percentOf(i, points),
            feedback: g?.feedback ?? null,
          };
        }),
        percent: round2(r.percent),
        letter: r.letter,
      };
    },
    async history({ input, caller, call, repo }) {
      await grader(call, input.courseId, caller);
      const rows = await repo.history(input.courseId, input.userId);
      return {
        items: rows.map((h) => ({
          id: String(h.id),
          itemId: h.item_id,
          userId: h.user_id,
          by: h.changed_by,
          at: h.at.toISOString(),
          field: fieldOf(h.field),
          before: h.before,
          after: h.after,
          reason: h.reason,
          source: historySourceOf(h.source),
          eventId: h.event_id,
        })),
      };
    },

    // ---------------------------------------------------------------- CSV
    async exportCsv({ input, caller, call, repo }) {
      await grader(call, input.courseId, caller);
      const [items, categories, settings] = await Promise.all([repo.items(input.courseId), repo.categories(input.courseId), repo.settings(input.courseId)]);
      const out: Array<Array<string | number | null>> = [['userId', 'name', ...items.map((i) => i.title), 'percent', 'letter', 'total override']];
      for (let after: string | undefined; ;) {
        const page = (await repo.learners(input.courseId, after, 500)).map((l) => l.user_id);
        const [rows, names] = await Promise.all([computeRows(repo, input.courseId, page, { items, categories, settings }), namesOf(call, page)]);
        for (const r of rows)
          out.push([r.userId, names.get(r.userId) ?? null, ...r.grades.map((g) => g.override ?? g.points), r.percent, r.letter, r.totalOverride]);
        after = page.at(-1);
        if (page.length < 500) break;
      }
      return { csv: toCsv(out) };
    },
    async importCsv({ input, caller, call, repo, uow, deps }) {
      await grader(call, input.courseId, caller);
      const errors: Array<{ line: number; column: string | null; message: string }> = [];
      let table: Array<{ line: number; cells: string[] }>;
      try {
        table = parseCsv(input.csv);
      } catch (err) {
        if (!(err instanceof CsvError)) throw err;
        return { applied: false, rows: 0, changes: 0, errors: [{ line: err.line, column: null, message: err.message }] };
      }
      const [header, ...rows] = table;
      if (!header || header.cells[0]?.trim() !== 'userId')
        return { applied: false, rows: 0, changes: 0, errors: [{ line: 1, column: null, message: 'the first column must be headed userId' }] };
      if (rows.length > deps.importMaxRows)
        return { applied: false, rows: rows.length, changes: 0, errors: [{ line: 1, column: null, message: `at most ${deps.importMaxRows} rows` }] };
      const items = await repo.items(input.courseId);
      // Column → item: by id or by exact title; computed columns and assessments' items are read and ignored.
      const columns: Array<ItemRow | null> = header.cells.slice(1).map((raw) => {
        const name = raw.trim();
        if (computedColumns.has(name.toLowerCase())) return null;
        const found = items.filter((i) => i.id === name || i.title === name);
        if (found.length !== 1) {
          errors.push({
            line: header.line,
            column: raw,
            message: found.length === 0 ? 'no such item in this gradebook' : 'more than one item has this title: head the column with its id',
          });
          return null;
        }
        const [item] = found;
        return item && item.source === 'manual' ? item : null;
      });
      const changes: Array<{ item: ItemRow; userId: string; points: number | null }> = [];
      const users = new Set<string>();
      for (const row of rows) {
        const userId = (row.cells[0] ?? '').trim().toLowerCase();
        if (!UUID.test(userId)) {
          errors.push({ line: row.line, column: 'userId', message: 'not a user id' });
          continue;
        }
        if (users.has(userId)) {
          errors.push({ line: row.line, column: 'userId', message: 'this learner has another row' });
          continue;
        }
        users.add(userId);
        if (!(await repo.isLearner(input.courseId, userId))) {
          errors.push({ line: row.line, column: 'userId', message: 'not a learner of this course' });
          continue;
        }
        columns.forEach((item, i) => {
          if (!item) return;
          // A leading apostrophe is the export's formula guard: read past it.
          const raw = (row.cells[i + 1] ?? '').trim().replace(/^'/, '');
          if (raw === '') return;
          const points = Number(raw);
          if (!Number.isFinite(points) || Math.abs(points) > 1_000_000) errors.push({ line: row.line, column: item.title, message: 'not a number' });
          else changes.push({ item, userId, points });
        });
      }
      if (!input.apply || errors.length > 0) return { applied: false, rows: rows.length, changes: changes.length, errors };
      // All or nothing: one unit of work; only cells whose value differs change (and are recorded).
      const applied = await uow(async ({ repo, emit }) => {
        let n = 0;
        const history: NewHistory[] = [];
        for (const c of changes) {
          const before = await repo.grade(input.courseId, c.item.id, c.userId);
          if ((before?.points ?? null) === c.points) continue;
          const after = await repo.putGrade({ course_id: input.courseId, user_id: c.userId, item_id: c.item.id, points: c.points });
          history.push({
            course_id: input.courseId,
            item_id: c.item.id,
            user_id: c.userId,
            changed_by: caller.userId,
            field: 'grade',
            before: before?.points ?? null,
            after: c.points,
            reason: 'CSV import',
            source: 'import',
            event_id: null,
          });
          if (!visible(c.item, before) && visible(c.item, after))
            await emit(
              gradeEvents.released,
              { courseId: input.courseId, userId: c.userId, itemId: c.item.id, itemTitle: c.item.title, percent: percentOf(c.item, effective(after)) },
              c.userId,
            );
          n++;
        }
        await repo.record(history);
        return n;
      });
      return { applied: true, rows: rows.length, changes: applied, errors: [] };
    },

    // ---------------------------------------------------------------- internal, privacy
    async courseGrade({ input, repo }) {
      const [row] = await computeRows(repo, input.courseId, [input.userId]);
      const settings = await repo.settings(input.courseId);
      return { percent: row?.percent ?? null, letter: row?.letter ?? null, minimumPercent: settings?.minimum_pass_percent ?? null };
    },
    async privacyExport({ input, repo }) {
      return { data: await repo.exportUser(input.userId) };
    },
  },
  dependencies: ['courses'],
});
