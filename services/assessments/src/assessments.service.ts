import { randomUUID } from 'node:crypto';
import {
  assessmentEvents,
  assessments,
  assessmentsInternal,
  coursePermissionsOf,
  coursesInternal,
  DomainError,
  erasureReceipts,
  privacyExportContract,
  userEvents,
  type CoursePermission,
  type PermissionName,
  type QuestionBody,
  type QuestionVersion,
  type QuizSettings,
} from '@lms/contracts';
import { checkBody, parseGift, parseQti, toGift, toQti, type Imported } from '@lms/question-engine';
import { consumerOf, decodeCursor, defineService, encodeCursor, keysetPage, type Call, type Caller } from '@lms/runtime';
import type { Kysely } from 'kysely';
import type { z } from 'zod';
import {
  AssessmentsRepository,
  type AssessmentsDB,
  type BankRow,
  type LoadedQuestion,
  type QuizRow,
  type StoredSection,
  type VersionRow,
} from './assessments.repository.js';
import { assessmentsEnv, type AssessmentsConfig } from './config.js';
import * as m0 from './migrations/20261201100000_assessments.js';

const on = consumerOf<AssessmentsDB, AssessmentsRepository, AssessmentsConfig>();

const notFound = (what = 'No such resource') => new DomainError('NOT_FOUND', what);

/** Who is asking, and how to ask the courses service about them. */
interface Who {
  call: Call;
  caller: Caller;
  can: (p: PermissionName) => boolean;
}

/** The caller's permissions in a course; admins (courses:read-all) hold every one. NOT_FOUND for a course that does not exist. */
async function coursePerms(w: Who, courseId: string): Promise<Set<CoursePermission>> {
  const r = await w.call(coursesInternal.roleOf, { courseId, userId: w.caller.userId });
  if (!r.exists) throw notFound('No such course');
  if (w.can('courses:read-all')) return coursePermissionsOf('owner');
  return coursePermissionsOf(r.role ?? undefined);
}

/**
 * Course staff only: `course:view-drafts` to read, `course:edit` to change. Anyone else (learners, strangers)
 * learns nothing: NOT_FOUND; staff who may read but not edit (TAs): FORBIDDEN.
 */
async function staffOf(w: Who, courseId: string, need: 'read' | 'edit'): Promise<void> {
  const perms = await coursePerms(w, courseId);
  if (!perms.has('course:view-drafts')) throw notFound('No such course');
  if (need === 'edit' && !perms.has('course:edit')) throw new DomainError('FORBIDDEN', 'Only the course’s editors may change this');
}

/** A bank the caller may read (staff of its course or of a course it is shared with); `editable`: staff who may edit its own course. */
async function bankFor(w: Who, repo: AssessmentsRepository, bankId: string, need: 'read' | 'edit'): Promise<{ bank: BankRow; editable: boolean }> {
  const bank = await repo.bank(bankId);
  if (!bank) throw notFound('No such question bank');
  const own = await coursePerms(w, bank.course_id).catch((err: unknown) => {
    if (err instanceof DomainError && err.code === 'NOT_FOUND') return new Set<CoursePermission>();
    throw err;
  });
  const editable = own.has('course:edit');
  let readable = own.has('course:view-drafts');
  if (!readable) {
    const shared = (await repo.sharesOf([bank.id])).get(bank.id) ?? [];
    for (const courseId of shared) {
      const r = await w.call(coursesInternal.roleOf, { courseId, userId: w.caller.userId });
      if (coursePermissionsOf(r.role ?? undefined).has('course:view-drafts')) {
        readable = true;
        break;
      }
    }
  }
  if (!readable) throw notFound('No such question bank');
  if (need === 'edit' && !editable) throw new DomainError('FORBIDDEN', 'Only the editors of the bank’s course may change it');
  return { bank, editable };
}

function toBank(b: BankRow, sharedWith: string[], editable: boolean) {
  return { id: b.id, courseId: b.course_id, name: b.name, sharedWith, editable, createdAt: b.created_at.toISOString() };
}

function toQuestion(q: LoadedQuestion) {
  return {
    id: q.id,
    bankId: q.bank_id,
    categoryId: q.category_id,
    version: q.v.version,
    type: q.v.body.type,
    title: q.v.title,
    prompt: q.v.prompt,
    body: q.v.body,
    defaultPoints: q.default_points,
    generalFeedback: q.v.general_feedback,
    tags: q.tags,
    createdBy: q.created_by,
    createdAt: q.created_at.toISOString(),
    updatedAt: q.updated_at.toISOString(),
  };
}

function toVersion(v: VersionRow): QuestionVersion {
  return {
    questionId: v.question_id,
    version: v.version,
    type: v.body.type,
    title: v.title,
    prompt: v.prompt,
    body: v.body,
    generalFeedback: v.general_feedback,
  };
}

/** A body the engine accepts (it throws VALIDATION_FAILED or FORMULA_INVALID). */
function checked(body: QuestionBody): QuestionBody {
  checkBody(body);
  return body;
}

const maxPointsOf = (sections: StoredSection[]) =>
  sections.reduce((sum, s) => sum + s.slots.reduce((t, x) => t + x.points * (x.from === 'random' ? x.count : 1), 0), 0);
const questionCount = (sections: StoredSection[]) => sections.reduce((n, s) => n + s.slots.reduce((t, x) => t + (x.from === 'random' ? x.count : 1), 0), 0);

function toQuiz(q: QuizRow) {
  return {
    id: q.id,
    courseId: q.course_id,
    title: q.title,
    description: q.description,
    settings: q.settings,
    published: q.published,
    sections: q.sections,
    maxPoints: maxPointsOf(q.sections),
    createdAt: q.created_at.toISOString(),
    updatedAt: q.updated_at.toISOString(),
  };
}

type SectionsInput = z.output<typeof assessments.createQuiz.input>['sections'];

/**
 * Gives each slot its id (kept by position when the structure is replaced) and checks that every question and
 * category comes from a bank the quiz's course may use.
 */
async function storedSections(repo: AssessmentsRepository, courseId: string, input: SectionsInput, previous: StoredSection[] = []): Promise<StoredSection[]> {
  const oldIds = previous.flatMap((s) => s.slots.map((x) => x.slotId));
  let i = 0;
  const invalid = (path: string, message: string) =>
    new DomainError('VALIDATION_FAILED', `Invalid input: ${path}: ${message}`, { issues: [{ path, message, code: 'custom' }] });
  const out: StoredSection[] = [];
  for (const [si, s] of input.entries()) {
    const slots: StoredSection['slots'] = [];
    for (const [xi, x] of s.slots.entries()) {
      const slotId = oldIds[i++] ?? randomUUID();
      const path = `sections.${si}.slots.${xi}`;
      if (x.from === 'fixed') {
        const q = await repo.question(x.questionId);
        if (!q || !(await repo.bankUsableIn(q.bank_id, courseId))) throw invalid(`${path}.questionId`, 'no such question in a bank of this course');
        slots.push({ from: 'fixed', slotId, questionId: x.questionId, points: x.points });
      } else {
        const c = await repo.category(x.categoryId);
        if (!c || !(await repo.bankUsableIn(c.bank_id, courseId))) throw invalid(`${path}.categoryId`, 'no such category in a bank of this course');
        slots.push({ from: 'random', slotId, categoryId: x.categoryId, tags: x.tags, count: x.count, points: x.points });
      }
    }
    out.push({ title: s.title, slots });
  }
  return out;
}

/** The gradebook's view of a quiz (lms.assessment.item_changed.v1). */
function itemOf(q: { id: string; course_id: string; title: string; settings: QuizSettings; sections: StoredSection[] }, deleted: boolean) {
  return {
    kind: 'quiz' as const,
    assessmentId: q.id,
    courseId: q.course_id,
    title: q.title,
    maxPoints: maxPointsOf(q.sections),
    passPercent: q.settings.passPercent,
    dueAt: q.settings.closesAt,
    deleted,
  };
}

/** A category path from `$CATEGORY:` (a/b/c) to the names of its levels. */
const levels = (path: string) =>
  path
    .split('/')
    .map((p) => p.trim())
    .filter((p) => p.length > 0 && p !== '$course$' && p !== 'top')
    .map((p) => p.slice(0, 200));

/** Quiz authoring: question banks, versioned questions, GIFT/QTI, quizzes; what attempts draw from. */
export const assessmentsService = defineService({
  name: 'assessments',
  env: assessmentsEnv,
  contracts: { ...assessments, ...assessmentsInternal, ...privacyExportContract('assessments') },
  migrations: { '20261201100000_assessments': m0 },
  repository: (db: Kysely<AssessmentsDB>) => new AssessmentsRepository(db),
  deps: (s) => s.config,
  consumers: [
    on({
      name: 'user-deleted',
      event: userEvents.deleted,
      // Erasure: questions and quizzes belong to their course and stay; who wrote them is forgotten.
      handle: async ({ payload: p, repo, emit }) => {
        await repo.anonymise(p.userId);
        await emit(erasureReceipts.assessments, { requestId: p.requestId, userId: p.userId, service: 'assessments' }, p.userId);
      },
    }),
  ],
  handlers: {
    async privacyExport({ input, repo }) {
      const a = await repo.authoredBy(input.userId);
      return {
        data: {
          questionsAuthored: a.questions.map((q) => ({ questionId: q.id, bankId: q.bank_id, createdAt: q.created_at.toISOString() })),
          corrections: a.corrections.map((c) => ({ questionId: c.question_id, version: c.version, at: c.corrected_at.toISOString(), reason: c.reason })),
        },
      };
    },

    // ---------------------------------------------------------------- banks
    async createBank({ input, caller, call, can, uow }) {
      await staffOf({ call, caller, can }, input.courseId, 'edit');
      const b = await uow(({ repo }) => repo.createBank({ id: randomUUID(), courseId: input.courseId, name: input.name, by: caller.userId }));
      return toBank(b, [], true);
    },
    async listBanks({ input, caller, call, can, repo }) {
      const w = { call, caller, can };
      await staffOf(w, input.courseId, 'read');
      const perms = await coursePerms(w, input.courseId);
      const banks = await repo.banksOfCourse(input.courseId);
      const shares = await repo.sharesOf(banks.map((b) => b.id));
      return { items: banks.map((b) => toBank(b, shares.get(b.id) ?? [], b.course_id === input.courseId && perms.has('course:edit'))) };
    },
    async getBank({ input, caller, call, can, repo }) {
      const { bank, editable } = await bankFor({ call, caller, can }, repo, input.bankId, 'read');
      return toBank(bank, (await repo.sharesOf([bank.id])).get(bank.id) ?? [], editable);
    },
    async renameBank({ input, caller, call, can, repo, uow }) {
      const { bank } = await bankFor({ call, caller, can }, repo, input.bankId, 'edit');
      await uow(({ repo: r }) => r.renameBank(bank.id, input.name));
      return toBank({ ...bank, name: input.name }, (await repo.sharesOf([bank.id])).get(bank.id) ?? [], true);
    },
    async deleteBank({ input, caller, call, can, repo, uow }) {
      const { bank } = await bankFor({ call, caller, can }, repo, input.bankId, 'edit');
      return uow(async ({ repo: r }) => {
        if (await r.bankInUse(bank.id)) throw new DomainError('IN_USE', 'A quiz uses questions of this bank');
        return { deleted: await r.deleteBank(bank.id) };
      });
    },
    async shareBank({ input, caller, call, can, repo, uow }) {
      const w = { call, caller, can };
      const { bank } = await bankFor(w, repo, input.bankId, 'edit');
      await staffOf(w, input.courseId, 'edit');
      if (input.courseId !== bank.course_id) await uow(({ repo: r }) => r.share(bank.id, input.courseId, caller.userId));
      return toBank(bank, (await repo.sharesOf([bank.id])).get(bank.id) ?? [], true);
    },
    async createCategory({ input, caller, call, can, repo, uow }) {
      const { bank } = await bankFor({ call, caller, can }, repo, input.bankId, 'edit');
      if (input.parentId) {
        const parent = await repo.category(input.parentId);
        if (!parent || parent.bank_id !== bank.id)
          throw new DomainError('VALIDATION_FAILED', 'Invalid input: parentId: not a category of this bank', {
            issues: [{ path: 'parentId', message: 'not a category of this bank', code: 'custom' }],
          });
      }
      const c = await uow(({ repo: r }) => r.createCategory({ id: randomUUID(), bank_id: bank.id, parent_id: input.parentId, name: input.name }));
      return { id: c.id, bankId: c.bank_id, name: c.name, parentId: c.parent_id };
    },
    async listCategories({ input, caller, call, can, repo }) {
      const { bank } = await bankFor({ call, caller, can }, repo, input.bankId, 'read');
      const rows = await repo.categories(bank.id);
      return { items: rows.map((c) => ({ id: c.id, bankId: c.bank_id, name: c.name, parentId: c.parent_id })) };
    },

    // ---------------------------------------------------------------- questions
    async createQuestion({ input, caller, call, can, repo, uow }) {
      const { bank } = await bankFor({ call, caller, can }, repo, input.bankId, 'edit');
      await categoryOfBank(repo, bank.id, input.categoryId);
      const body = checked(input.body);
      const id = randomUUID();
      const q = await uow(async ({ repo: r }) => {
        await r.createQuestion(
          { id, bankId: bank.id, categoryId: input.categoryId ?? null, defaultPoints: input.defaultPoints, tags: input.tags, by: caller.userId },
          { title: input.title, prompt: input.prompt, body, generalFeedback: input.generalFeedback ?? null },
        );
        return r.question(id);
      });
      if (!q) throw new Error(`question ${id} vanished after its creation`);
      return toQuestion(q);
    },
    async listQuestions({ input, caller, call, can, repo }) {
      const { bank } = await bankFor({ call, caller, can }, repo, input.bankId, 'read');
      const after = input.cursor ? decodeCursor(input.cursor) : undefined;
      const rows = await repo.listQuestions({ bankId: bank.id, limit: input.limit, categoryId: input.categoryId, tag: input.tag, type: input.type, after });
      return keysetPage(rows, input.limit, toQuestion, (q) => encodeCursor(q.createdAt, q.id));
    },
    async getQuestion({ input, caller, call, can, repo }) {
      const q = await repo.question(input.questionId, input.version);
      if (!q) throw notFound('No such question');
      await bankFor({ call, caller, can }, repo, q.bank_id, 'read');
      const versions = await repo.versionsOf(q.id);
      return { ...toQuestion(q), versions: versions.map((v) => ({ version: v.version, served: v.served, createdAt: v.created_at.toISOString() })) };
    },
    async updateQuestion({ input, caller, call, can, repo, uow }) {
      const q = await repo.question(input.questionId);
      if (!q) throw notFound('No such question');
      await bankFor({ call, caller, can }, repo, q.bank_id, 'edit');
      if (input.categoryId) await categoryOfBank(repo, q.bank_id, input.categoryId);
      const changesVersion = input.title !== undefined || input.prompt !== undefined || input.body !== undefined || input.generalFeedback !== undefined;
      const v = changesVersion
        ? {
            title: input.title ?? q.v.title,
            prompt: input.prompt ?? q.v.prompt,
            body: input.body ? checked(input.body) : q.v.body,
            generalFeedback: input.generalFeedback === undefined ? q.v.general_feedback : input.generalFeedback,
          }
        : undefined;
      const meta = {
        categoryId: input.categoryId === undefined ? q.category_id : input.categoryId,
        defaultPoints: input.defaultPoints ?? q.default_points,
        tags: input.tags ?? q.tags,
      };
      const updated = await uow(async ({ repo: r }) => {
        await r.updateQuestion(q, meta, v, caller.userId);
        return r.question(q.id);
      });
      if (!updated) throw notFound('No such question');
      return toQuestion(updated);
    },
    async deleteQuestion({ input, caller, call, can, repo, uow }) {
      const q = await repo.question(input.questionId);
      if (!q) throw notFound('No such question');
      await bankFor({ call, caller, can }, repo, q.bank_id, 'edit');
      return uow(async ({ repo: r }) => {
        if (await r.questionInUse(q.id)) throw new DomainError('IN_USE', 'A quiz uses this question');
        await r.deleteQuestion(q.id);
        return { deleted: true };
      });
    },
    async correctQuestion({ input, caller, call, can, repo, uow }) {
      const q = await repo.question(input.questionId, input.version);
      if (!q) throw notFound('No such question version');
      const { bank } = await bankFor({ call, caller, can }, repo, q.bank_id, 'edit');
      if (input.body.type !== q.v.body.type)
        throw new DomainError('VALIDATION_FAILED', `Invalid input: body.type: a correction keeps the type (${q.v.body.type})`, {
          issues: [{ path: 'body.type', message: `a correction keeps the type (${q.v.body.type})`, code: 'custom' }],
        });
      const body = checked(input.body);
      const at = await uow(async ({ repo: r, emit }) => {
        const correctedAt = await r.correct({
          id: randomUUID(),
          questionId: q.id,
          version: q.v.version,
          by: caller.userId,
          reason: input.reason,
          before: q.v.body,
          after: body,
        });
        await emit(
          assessmentEvents.questionCorrected,
          { questionId: q.id, version: q.v.version, courseId: bank.course_id, body, correctedBy: caller.userId, reason: input.reason },
          q.id,
        );
        return correctedAt;
      });
      return { questionId: q.id, version: q.v.version, correctedAt: at.toISOString() };
    },
    async importQuestions({ input, caller, call, can, repo, uow, deps }) {
      const { bank } = await bankFor({ call, caller, can }, repo, input.bankId, 'edit');
      let parsed: Imported;
      try {
        parsed = input.format === 'gift' ? parseGift(input.text) : parseQti(input.text);
      } catch (err) {
        if (err instanceof DomainError) throw new DomainError('IMPORT_INVALID', err.message, { errors: [{ at: '(document)', message: err.message }] });
        throw err;
      }
      const errors = [...parsed.errors];
      const ok: Imported['questions'] = [];
      for (const [i, q] of parsed.questions.entries()) {
        if (ok.length >= deps.ASSESSMENTS_IMPORT_MAX_QUESTIONS) {
          errors.push({ at: `question ${i + 1}`, message: `more than ${deps.ASSESSMENTS_IMPORT_MAX_QUESTIONS} questions in one import` });
          continue;
        }
        try {
          checkBody(q.draft.body);
          ok.push(q);
        } catch (err) {
          if (!(err instanceof DomainError)) throw err;
          errors.push({ at: `question ${i + 1} (${q.draft.title.slice(0, 80)})`, message: err.message });
        }
      }
      if (ok.length === 0) throw new DomainError('IMPORT_INVALID', 'No question could be read', { errors: errors.slice(0, 100) });
      await uow(async ({ repo: r }) => {
        const cats = await r.categories(bank.id);
        const known = new Map(cats.map((c) => [`${c.parent_id ?? ''}/${c.name}`, c.id]));
        const categoryFor = async (path: string | null): Promise<string | null> => {
          let parent: string | null = null;
          for (const name of path ? levels(path) : []) {
            const key = `${parent ?? ''}/${name}`;
            let id = known.get(key);
            if (!id) {
              id = randomUUID();
              await r.createCategory({ id, bank_id: bank.id, parent_id: parent, name });
              known.set(key, id);
            }
            parent = id;
          }
          return parent;
        };
        for (const q of ok) {
          await r.createQuestion(
            {
              id: randomUUID(),
              bankId: bank.id,
              categoryId: await categoryFor(q.category),
              defaultPoints: q.draft.defaultPoints,
              tags: q.draft.tags,
              by: caller.userId,
            },
            { title: q.draft.title, prompt: q.draft.prompt, body: q.draft.body, generalFeedback: q.draft.generalFeedback ?? null },
          );
        }
      });
      return { created: ok.length, errors };
    },
    async exportQuestions({ input, caller, call, can, repo }) {
      const { bank } = await bankFor({ call, caller, can }, repo, input.bankId, 'read');
      const cats = new Map((await repo.categories(bank.id)).map((c) => [c.id, c]));
      const pathOf = (id: string | null): string | null => {
        const names: string[] = [];
        for (let c = id ? cats.get(id) : undefined; c && names.length < 50; c = c.parent_id ? cats.get(c.parent_id) : undefined) names.unshift(c.name);
        return names.length > 0 ? names.join('/') : null;
      };
      const questions = (await repo.allQuestions(bank.id)).map((q) => ({
        draft: {
          title: q.v.title,
          prompt: q.v.prompt,
          body: q.v.body,
          defaultPoints: q.default_points,
          tags: q.tags,
          ...(q.v.general_feedback !== null && { generalFeedback: q.v.general_feedback }),
        },
        category: pathOf(q.category_id),
      }));
      if (input.format === 'gift') return { format: 'gift' as const, text: toGift(questions), skipped: [] };
      const qti = toQti(questions);
      return { format: 'qti' as const, text: qti.xml, skipped: qti.skipped };
    },

    // ---------------------------------------------------------------- quizzes
    async createQuiz({ input, caller, call, can, repo, uow }) {
      await staffOf({ call, caller, can }, input.courseId, 'edit');
      const sections = await storedSections(repo, input.courseId, input.sections);
      const id = randomUUID();
      const row = await uow(async ({ repo: r, emit }) => {
        await r.createQuiz({
          id,
          courseId: input.courseId,
          title: input.title,
          description: input.description,
          settings: input.settings,
          sections,
          by: caller.userId,
        });
        const q = await r.quiz(id);
        if (!q) throw new Error(`quiz ${id} vanished after its creation`);
        await emit(assessmentEvents.itemChanged, itemOf(q, false), q.id);
        return q;
      });
      return toQuiz(row);
    },
    async listQuizzes({ input, caller, call, can, repo }) {
      await staffOf({ call, caller, can }, input.courseId, 'read');
      return { items: (await repo.quizzesOf(input.courseId)).map(toQuiz) };
    },
    async getQuiz({ input, caller, call, can, repo }) {
      const q = await repo.quiz(input.quizId);
      if (!q) throw notFound('No such quiz');
      await staffOf({ call, caller, can }, q.course_id, 'read');
      return toQuiz(q);
    },
    async updateQuiz({ input, caller, call, can, repo, uow }) {
      const q = await quizForEdit({ call, caller, can }, repo, input.quizId);
      const sections = input.sections ? await storedSections(repo, q.course_id, input.sections, q.sections) : undefined;
      return toQuiz(
        await uow(async ({ repo: r, emit }) => {
          await r.updateQuiz(q.id, { title: input.title, description: input.description, settings: input.settings, sections });
          const after = await r.quiz(q.id);
          if (!after) throw notFound('No such quiz');
          await emit(assessmentEvents.itemChanged, itemOf(after, false), q.id);
          return after;
        }),
      );
    },
    async publishQuiz({ input, caller, call, can, repo, uow }) {
      const q = await quizForEdit({ call, caller, can }, repo, input.quizId);
      if (questionCount(q.sections) === 0)
        throw new DomainError('VALIDATION_FAILED', 'Invalid input: sections: a quiz needs a question to be published', {
          issues: [{ path: 'sections', message: 'a quiz needs a question to be published', code: 'custom' }],
        });
      return toQuiz(await setPublished(uow, q.id, true));
    },
    async unpublishQuiz({ input, caller, call, can, repo, uow }) {
      const q = await quizForEdit({ call, caller, can }, repo, input.quizId);
      return toQuiz(await setPublished(uow, q.id, false));
    },
    async deleteQuiz({ input, caller, call, can, repo, uow }) {
      const q = await quizForEdit({ call, caller, can }, repo, input.quizId);
      return uow(async ({ repo: r, emit }) => {
        const deleted = await r.deleteQuiz(q.id);
        if (deleted) await emit(assessmentEvents.itemChanged, itemOf(q, true), q.id);
        return { deleted };
      });
    },
    async quizSummary({ input, caller, call, can, repo }) {
      const q = await repo.quiz(input.quizId);
      if (!q) throw notFound('No such quiz');
      const perms = await coursePerms({ call, caller, can }, q.course_id).catch((err: unknown) => {
        if (err instanceof DomainError && err.code === 'NOT_FOUND') throw notFound('No such quiz');
        throw err;
      });
      // Enrolled learners see published quizzes; staff see theirs in any state.
      const staff = perms.has('course:view-drafts');
      if (!(staff || (perms.has('course:view') && q.published))) throw notFound('No such quiz');
      const s = q.settings;
      return {
        id: q.id,
        courseId: q.course_id,
        title: q.title,
        description: q.description,
        opensAt: s.opensAt,
        closesAt: s.closesAt,
        timeLimitS: s.timeLimitS,
        attemptsAllowed: s.attemptsAllowed,
        navigation: s.navigation,
        questions: questionCount(q.sections),
        maxPoints: maxPointsOf(q.sections),
      };
    },

    // ---------------------------------------------------------------- internal
    async quizForAttempt({ input, repo, uow }) {
      const q = await repo.quiz(input.quizId);
      if (!q) throw notFound('No such quiz');
      return uow(async ({ repo: r }) => {
        const served: Array<{ questionId: string; version: number }> = [];
        const sections = [];
        for (const s of q.sections) {
          const slots = [];
          for (const x of s.slots) {
            if (x.from === 'fixed') {
              const fixed = await r.question(x.questionId);
              if (!fixed) continue; // deleted questions are refused while in use; a race leaves the slot out
              served.push({ questionId: fixed.id, version: fixed.v.version });
              slots.push({ from: 'fixed' as const, slotId: x.slotId, points: x.points, question: toVersion(fixed.v) });
            } else {
              const candidates = await r.candidates(x.categoryId, x.tags);
              for (const c of candidates) served.push({ questionId: c.id, version: c.v.version });
              slots.push({ from: 'random' as const, slotId: x.slotId, points: x.points, count: x.count, candidates: candidates.map((c) => toVersion(c.v)) });
            }
          }
          sections.push({ title: s.title, slots });
        }
        // From now on an edit of these versions makes a new version: attempts keep what they were served.
        await r.markServed(served);
        return { quizId: q.id, courseId: q.course_id, title: q.title, published: q.published, settings: q.settings, sections };
      });
    },
    async questionVersions({ input, repo }) {
      return { versions: (await repo.versions(input.refs)).map(toVersion) };
    },
  },
  dependencies: ['courses'],
});

async function categoryOfBank(repo: AssessmentsRepository, bankId: string, categoryId: string | null | undefined): Promise<void> {
  if (!categoryId) return;
  const c = await repo.category(categoryId);
  if (!c || c.bank_id !== bankId)
    throw new DomainError('VALIDATION_FAILED', 'Invalid input: categoryId: not a category of this bank', {
      issues: [{ path: 'categoryId', message: 'not a category of this bank', code: 'custom' }],
    });
}

async function quizForEdit(w: Who, repo: AssessmentsRepository, quizId: string): Promise<QuizRow> {
  const q = await repo.quiz(quizId);
  if (!q) throw notFound('No such quiz');
  await staffOf(w, q.course_id, 'edit');
  return q;
}

async function setPublished(
  uow: <T>(fn: (u: { repo: AssessmentsRepository }) => Promise<T>) => Promise<T>,
  quizId: string,
  published: boolean,
): Promise<QuizRow> {
  return uow(async ({ repo: r }) => {
    await r.updateQuiz(quizId, { published });
    const q = await r.quiz(quizId);
    if (!q) throw notFound('No such quiz');
    return q;
  });
}
