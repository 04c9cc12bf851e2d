import { randomUUID } from 'node:crypto';
import {
  assessmentEvents,
  assignments,
  assignmentsInternal,
  coursePermissionsOf,
  coursesInternal,
  DomainError,
  erasureReceipts,
  filesInternal,
  privacyExportContract,
  userEvents,
  usersInternal,
  type Assignment,
  type CoursePermission,
  type InputOf,
  type Rubric,
} from '@lms/contracts';
import { consumerOf, defineService, invalidCursor, isNotFound, keysetPage, type Call, type Caller, type Emit } from '@lms/runtime';
import type { Kysely } from 'kysely';
import {
  AssignmentsRepository,
  type AssignmentRow,
  type AssignmentsDB,
  type AssignmentValues,
  type GroupRow,
  type MemberRow,
  type SubmissionRow,
  type VersionRow,
} from './assignments.repository.js';
import { checkComments, finalPoints, lateSeconds, movesForward, penaltyPercent, percentOf, rubricMaxPoints, rubricPoints } from './marking.js';
import * as m0 from './migrations/20261201100000_assignments.js';
import * as m1 from './migrations/20261202100000_groups.js';

const noSuchAssignment = () => new DomainError('NOT_FOUND', 'No such assignment');
const noSuchSubmission = () => new DomainError('NOT_FOUND', 'No such submission');
const invalid = (path: string, message: string) => new DomainError('VALIDATION_FAILED', `Invalid input: ${path}: ${message}`, { issues: [{ path, message }] });

/** What the caller may do in a course. Someone with no role in it (admins aside) sees nothing there: 404. */
interface Access {
  perms: Set<CoursePermission>;
  learner: boolean;
  admin: boolean;
}
async function accessTo(call: Call, courseId: string, caller: Caller, admin: boolean, notFound: () => DomainError): Promise<Access> {
  const r = await call(coursesInternal.roleOf, { courseId, userId: caller.userId });
  if (!r.exists || (!admin && r.role === null)) throw notFound();
  return { perms: coursePermissionsOf(r.role ?? undefined), learner: r.role === 'learner', admin };
}
const may = (a: Access, p: CoursePermission) => a.admin || a.perms.has(p);
const seesDrafts = (a: Access) => may(a, 'course:view-drafts');
/** Staff see drafts; learners see published assignments. What the caller cannot see is absent; what they see but may not do, 403. */
function demand(a: Access, row: AssignmentRow, p: CoursePermission): void {
  if (may(a, p)) return;
  if (!row.published && !seesDrafts(a)) throw noSuchAssignment();
  throw new DomainError('FORBIDDEN', 'Only the course staff may do this', { permission: p });
}

function toAssignment(r: AssignmentRow): Assignment {
  return {
    id: r.id,
    courseId: r.course_id,
    title: r.title,
    instructions: r.instructions,
    maxPoints: r.max_points,
    submissionTypes: r.submission_types,
    dueAt: r.due_at?.toISOString() ?? null,
    cutoffAt: r.cutoff_at?.toISOString() ?? null,
    latePolicy: r.late_policy,
    allowResubmission: r.allow_resubmission,
    anonymousMarking: r.anonymous_marking,
    groupSubmission: r.group_submission,
    passPercent: r.pass_percent,
    published: r.published,
    rubric: r.rubric,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

type Authored = Omit<InputOf<typeof assignments.create>, 'courseId'>;
type AuthoredRubric = NonNullable<Authored['rubric']>;

/** Gives an authored rubric its ids; levels and criteria without a description get ''. */
function withIds(r: AuthoredRubric): Rubric {
  return {
    criteria: r.criteria.map((c) => ({
      id: randomUUID(),
      title: c.title,
      description: c.description ?? '',
      levels: c.levels.map((l) => ({ id: randomUUID(), title: l.title, description: l.description ?? '', points: l.points })),
    })),
  };
}

/** The settings an assignment gets from its authored fields (over its current ones, on update), checked together. */
function settle(a: Omit<AssignmentValues, 'maxPoints'> & { maxPoints?: number }): AssignmentValues {
  let maxPoints = a.maxPoints;
  if (a.rubric) {
    const fromRubric = rubricMaxPoints(a.rubric);
    if (maxPoints !== undefined && maxPoints !== fromRubric) throw invalid('maxPoints', `must be the rubric's maximum (${fromRubric}) or left out`);
    maxPoints = fromRubric;
  }
  if (maxPoints === undefined) throw invalid('maxPoints', 'required without a rubric');
  if (a.dueAt && a.cutoffAt && new Date(a.cutoffAt) < new Date(a.dueAt)) throw invalid('cutoffAt', 'must not be before dueAt');
  return { ...a, maxPoints, rubric: a.rubric };
}

function emitItem(emit: Emit, r: AssignmentRow, deleted: boolean) {
  return emit(
    assessmentEvents.itemChanged,
    {
      kind: 'assignment',
      assessmentId: r.id,
      courseId: r.course_id,
      title: r.title,
      maxPoints: r.max_points,
      passPercent: r.pass_percent,
      dueAt: r.due_at?.toISOString() ?? null,
      deleted,
    },
    r.id,
  );
}

const toVersion = (v: VersionRow) => ({
  version: v.version,
  text: v.text,
  fileIds: v.file_ids,
  submittedAt: v.submitted_at.toISOString(),
  late: v.late_seconds > 0,
  lateSeconds: v.late_seconds,
});

/** The grade of a marked submission (null before marking). */
function gradeOf(s: SubmissionRow, a: AssignmentRow) {
  if (s.raw_points === null || s.points === null || !s.graded_at) return null;
  const percent = percentOf(s.points, a.max_points);
  return {
    rawPoints: s.raw_points,
    penaltyPercent: s.penalty_percent ?? 0,
    points: s.points,
    maxPoints: a.max_points,
    percent,
    passed: a.pass_percent === null ? null : percent >= a.pass_percent,
    rubric: s.rubric_selections,
    feedback: s.feedback,
    comments: s.comments,
    gradedAt: s.graded_at.toISOString(),
  };
}

/** A group as its members see it (on their submission). */
interface GroupOfMine {
  id: string;
  name: string;
  memberIds: string[];
}

/** The learner's view: grade and feedback only once released. */
function mine(s: SubmissionRow, a: AssignmentRow, versions: VersionRow[], group: GroupOfMine | null) {
  const released = s.state === 'released';
  return {
    id: s.id,
    assignmentId: s.assignment_id,
    group,
    version: s.version,
    versions: versions.map(toVersion),
    status: released ? ('graded' as const) : ('submitted' as const),
    grade: released ? gradeOf(s, a) : null,
  };
}

/** Whether the staff may not know whose a submission is: anonymous marking, grade not released. */
const anonymousNow = (a: AssignmentRow, s: SubmissionRow) => a.anonymous_marking && s.state !== 'released';

/** Display names by user id (null: an erased user); absent ids have no profile. One call per 500 ids. */
async function namesOf(call: Call, ids: string[]): Promise<Map<string, string | null>> {
  const names = new Map<string, string | null>();
  for (let i = 0; i < ids.length; i += 500) {
    const { items } = await call(usersInternal.summaries, { ids: ids.slice(i, i + 500) });
    for (const u of items) names.set(u.id, u.status === 'erased' ? null : u.displayName);
  }
  return names;
}

/** Who the submissions of a page are, for the staff: their groups, members and names (none asked for anonymous ones). */
interface People {
  names: Map<string, string | null>;
  groups: Map<string, GroupRow>;
  members: Map<string, MemberRow[]>;
}
async function peopleOf(call: Call, repo: AssignmentsRepository, a: AssignmentRow, subs: SubmissionRow[]): Promise<People> {
  const shown = subs.filter((s) => !anonymousNow(a, s));
  const groupIds = [...new Set(shown.flatMap((s) => (s.group_id ? [s.group_id] : [])))];
  const groups = await repo.groupsById(groupIds);
  const members = await repo.membersOf(groupIds);
  const ids = [...new Set([...shown.flatMap((s) => (s.user_id ? [s.user_id] : [])), ...members.map((m) => m.user_id)])];
  const byGroup = new Map<string, MemberRow[]>();
  for (const m of members) byGroup.set(m.group_id, [...(byGroup.get(m.group_id) ?? []), m]);
  return { names: await namesOf(call, ids), groups: new Map(groups.map((g) => [g.id, g])), members: byGroup };
}

const groupView = (g: GroupRow, members: MemberRow[], names: Map<string, string | null>) => ({
  id: g.id,
  name: g.name,
  members: members.map((m) => ({ userId: m.user_id, displayName: names.get(m.user_id) ?? null })),
});

/** An assignment's groups with their members' names (one call to the users service). */
async function groupList(call: Call, repo: AssignmentsRepository, assignmentId: string) {
  const groups = await repo.groupsOf(assignmentId);
  const members = await repo.membersOf(groups.map((g) => g.id));
  const names = await namesOf(call, [...new Set(members.map((m) => m.user_id))]);
  return groups.map((g) =>
    groupView(
      g,
      members.filter((m) => m.group_id === g.id),
      names,
    ),
  );
}

/** The staff's view: who it is (a name, or a group and its members) stays hidden while marking is anonymous and the grade unreleased. */
function staffView(s: SubmissionRow, a: AssignmentRow, versions: VersionRow[], people: People) {
  const anonymous = anonymousNow(a, s);
  const participant = `Participant ${s.participant_no}`;
  const group = !anonymous && s.group_id ? people.groups.get(s.group_id) : undefined;
  return {
    id: s.id,
    assignmentId: s.assignment_id,
    participant,
    userId: anonymous ? null : s.user_id,
    displayName: anonymous ? participant : group ? group.name : s.user_id ? (people.names.get(s.user_id) ?? null) : null,
    group: group ? groupView(group, people.members.get(group.id) ?? [], people.names) : null,
    state: s.state,
    version: s.version,
    versions: versions.map(toVersion),
    grade: gradeOf(s, a),
  };
}

/**
 * Who a submission is for in the assessment events, with the attempt id each has there: the learner (the submission's
 * id), or every member of the group (their membership's id: the gradebook and the completion saga are per learner).
 */
async function recipients(repo: AssignmentsRepository, s: SubmissionRow): Promise<{ userId: string; attemptId: string }[]> {
  if (s.user_id) return [{ userId: s.user_id, attemptId: s.id }];
  if (!s.group_id) return [];
  return (await repo.membersOf([s.group_id])).map((m) => ({ userId: m.user_id, attemptId: m.id }));
}

async function emitGraded(emit: Emit, repo: AssignmentsRepository, s: SubmissionRow, a: AssignmentRow, regrade: boolean) {
  const g = gradeOf(s, a);
  if (!g) return;
  const value = { points: g.points, maxPoints: g.maxPoints, percent: g.percent };
  for (const to of await recipients(repo, s))
    await emit(
      assessmentEvents.graded,
      {
        kind: 'assignment',
        assessmentId: a.id,
        courseId: a.course_id,
        userId: to.userId,
        attemptId: to.attemptId,
        attempt: value,
        grade: value,
        passed: g.passed,
        released: true,
        regrade,
        gradedAt: g.gradedAt,
        feedback: g.feedback,
      },
      to.attemptId,
    );
}

/** A hand-in the window or the workflow refuses (asked again under the lock, inside the unit of work). */
function refuseHandIn(a: AssignmentRow, s: SubmissionRow | undefined, now: Date): void {
  if (a.cutoff_at && now > a.cutoff_at) throw new DomainError('SUBMISSION_CLOSED', 'The cut-off date has passed');
  if (s && s.version > 0 && !a.allow_resubmission)
    throw new DomainError('SUBMISSION_CLOSED', `${s.group_id ? 'Your group has' : 'You have'} submitted already; this assignment takes one submission`);
  if (s?.state === 'released') throw new DomainError('SUBMISSION_CLOSED', 'The grade has been released');
}

const notInGroup = () =>
  new DomainError('NOT_IN_GROUP', 'This assignment is handed in by groups and you are in none of its groups: the course staff put learners in groups');

const on = consumerOf<AssignmentsDB, AssignmentsRepository, undefined>();

/** Assignments: authoring, submissions (versioned), marking by rubric or points, late penalties, release. */
export const assignmentsService = defineService({
  name: 'assignments',
  contracts: { ...assignments, ...assignmentsInternal, ...privacyExportContract('assignments') },
  migrations: { '20261201100000_assignments': m0, '20261202100000_groups': m1 },
  dependencies: ['courses', 'files', 'users'],
  repository: (db: Kysely<AssignmentsDB>) => new AssignmentsRepository(db),
  consumers: [
    on({
      name: 'user-deleted',
      event: userEvents.deleted,
      handle: async ({ payload: p, repo, emit, logger }) => {
        const erased = await repo.eraseUser(p.userId);
        logger.info({ requestId: p.requestId, userId: p.userId, erased }, 'submissions of the user erased');
        await emit(erasureReceipts.assignments, { requestId: p.requestId, userId: p.userId, service: 'assignments' }, p.userId);
      },
    }),
  ],
  handlers: {
    async create({ input, caller, call, can, uow }) {
      const { courseId, rubric, ...rest } = input;
      const a = await accessTo(call, courseId, caller, can('courses:read-all'), noSuchAssignment);
      if (!may(a, 'course:edit')) throw new DomainError('FORBIDDEN', 'Only course staff who may edit it may add assignments', { permission: 'course:edit' });
      const values = settle({ ...rest, rubric: rubric ? withIds(rubric) : null });
      const row = await uow(async ({ repo, emit }) => {
        const r = await repo.createAssignment(randomUUID(), courseId, values);
        await emitItem(emit, r, false);
        return r;
      });
      return toAssignment(row);
    },

    async update({ input, caller, call, can, repo, uow }) {
      const row = await repo.assignment(input.assignmentId);
      if (!row) throw noSuchAssignment();
      const a = await accessTo(call, row.course_id, caller, can('courses:read-all'), noSuchAssignment);
      demand(a, row, 'course:edit');
      const { assignmentId, rubric, maxPoints, ...rest } = input;
      const cur = toAssignment(row);
      const newRubric = rubric === undefined ? cur.rubric : rubric && withIds(rubric);
      const values = settle({
        title: rest.title ?? cur.title,
        instructions: rest.instructions ?? cur.instructions,
        submissionTypes: rest.submissionTypes ?? cur.submissionTypes,
        dueAt: rest.dueAt === undefined ? cur.dueAt : rest.dueAt,
        cutoffAt: rest.cutoffAt === undefined ? cur.cutoffAt : rest.cutoffAt,
        latePolicy: rest.latePolicy === undefined ? cur.latePolicy : rest.latePolicy,
        allowResubmission: rest.allowResubmission ?? cur.allowResubmission,
        anonymousMarking: rest.anonymousMarking ?? cur.anonymousMarking,
        groupSubmission: rest.groupSubmission ?? cur.groupSubmission,
        passPercent: rest.passPercent === undefined ? cur.passPercent : rest.passPercent,
        published: rest.published ?? cur.published,
        rubric: newRubric,
        // A changed rubric sets the maximum; without one, the given or the current maximum stands.
        maxPoints: maxPoints ?? (newRubric ? undefined : cur.maxPoints),
      });
      const updated = await uow(async ({ repo: r, emit }) => {
        // Learners' submissions do not become a group's (nor the other way round).
        if (values.groupSubmission !== row.group_submission && (await r.lockAssignment(assignmentId)) && (await r.hasSubmissions(assignmentId)))
          throw new DomainError('CONFLICT', 'groupSubmission cannot change once something was handed in');
        const u = await r.updateAssignment(assignmentId, values);
        if (!u) throw noSuchAssignment();
        await emitItem(emit, u, false);
        return u;
      });
      return toAssignment(updated);
    },

    async delete({ input, caller, call, can, repo, uow }) {
      const row = await repo.assignment(input.assignmentId);
      if (!row) throw noSuchAssignment();
      const a = await accessTo(call, row.course_id, caller, can('courses:read-all'), noSuchAssignment);
      demand(a, row, 'course:edit');
      await uow(async ({ repo: r, emit }) => {
        if (!(await r.deleteAssignment(row.id))) throw noSuchAssignment();
        await emitItem(emit, row, true);
      });
      return { deleted: true as const };
    },

    async get({ input, caller, call, can, repo }) {
      const row = await repo.assignment(input.assignmentId);
      if (!row) throw noSuchAssignment();
      const a = await accessTo(call, row.course_id, caller, can('courses:read-all'), noSuchAssignment);
      if (!row.published && !seesDrafts(a)) throw noSuchAssignment();
      return toAssignment(row);
    },

    async list({ input, caller, call, can, repo }) {
      const a = await accessTo(call, input.courseId, caller, can('courses:read-all'), () => new DomainError('NOT_FOUND', 'No such course'));
      return { items: (await repo.assignmentsOf(input.courseId, !seesDrafts(a))).map(toAssignment) };
    },

    async submit({ input, caller, call, can, repo, uow }) {
      const row = await repo.assignment(input.assignmentId);
      if (!row) throw noSuchAssignment();
      const a = await accessTo(call, row.course_id, caller, can('courses:read-all'), noSuchAssignment);
      if (!row.published && !seesDrafts(a)) throw noSuchAssignment();
      if (!a.learner) throw new DomainError('FORBIDDEN', 'Only enrolled learners hand in assignments');
      const text = input.text?.trim() ? input.text : null;
      const fileIds = [...new Set(input.fileIds)];
      const wantsText = row.submission_types !== 'file';
      const wantsFiles = row.submission_types !== 'text';
      if (text !== null && !wantsText) throw invalid('text', 'this assignment takes files only');
      if (fileIds.length > 0 && !wantsFiles) throw invalid('fileIds', 'this assignment takes text only');
      if (text === null && fileIds.length === 0) throw invalid('text', 'nothing submitted: give text or files');
      // On a group assignment the learner hands in for their group.
      const group = row.group_submission ? await repo.membership(row.id, caller.userId) : undefined;
      if (row.group_submission && !group) throw notInGroup();
      // Every file must be the submitter's own (asked before the unit of work: a read, safe to repeat).
      for (const fileId of fileIds) {
        const f = await call(filesInternal.describe, { fileId }).catch((err: unknown) => {
          if (isNotFound(err)) return undefined;
          throw err;
        });
        if (!f || f.ownerId !== caller.userId) throw invalid('fileIds', `file ${fileId} is not one of your files`);
        if (f.state === 'rejected') throw invalid('fileIds', `file ${fileId} was rejected`);
      }
      if (fileIds.length > 0) {
        // The markers (and the other members of the group) must be able to read the files: granted before the unit of
        // work (no remote call inside one), after the window is checked, so that a refused hand-in grants nothing.
        // Only a race with the cut-off or a concurrent hand-in can leave a grant for files that were not handed in.
        refuseHandIn(row, group ? await repo.submissionOfGroup(row.id, group.group_id) : await repo.submissionOf(row.id, caller.userId), new Date());
        const members = group ? (await repo.membersOf([group.group_id])).map((m) => m.user_id) : [];
        await call(filesInternal.grantRead, { fileIds, ownerId: caller.userId, courseId: row.course_id, userIds: members });
      }
      const { submission, versions, mates } = await uow(async ({ repo: r, emit }) => {
        const locked = await r.lockAssignment(row.id);
        if (!locked) throw noSuchAssignment();
        const now = new Date();
        // Under the lock: the groups may have changed since.
        const member = locked.group_submission ? await r.membership(locked.id, caller.userId) : undefined;
        if (locked.group_submission && !member) throw notInGroup();
        let s = member ? await r.submissionOfGroup(locked.id, member.group_id) : await r.submissionOf(locked.id, caller.userId);
        refuseHandIn(locked, s, now);
        s ??= await r.createSubmission({
          id: randomUUID(),
          assignmentId: locked.id,
          courseId: locked.course_id,
          userId: member ? null : caller.userId,
          groupId: member?.group_id,
        });
        const version = s.version + 1;
        await r.addVersion(s.id, { version, text, fileIds, submittedAt: now, lateSeconds: lateSeconds(now, locked.due_at) });
        for (const to of await recipients(r, s))
          await emit(
            assessmentEvents.submitted,
            {
              kind: 'assignment',
              assessmentId: locked.id,
              courseId: locked.course_id,
              userId: to.userId,
              attemptId: to.attemptId,
              submittedAt: now.toISOString(),
              auto: false,
            },
            to.attemptId,
          );
        const fresh = await r.submission(s.id);
        if (!fresh) throw noSuchSubmission();
        const ofGroup = member && { id: member.group_id, name: member.name, memberIds: (await r.membersOf([member.group_id])).map((m) => m.user_id) };
        return { submission: fresh, versions: await r.versionsOf([s.id]), mates: ofGroup ?? null };
      });
      return mine(submission, row, versions, mates);
    },

    async mySubmission({ input, caller, call, can, repo }) {
      const row = await repo.assignment(input.assignmentId);
      if (!row) throw noSuchAssignment();
      const a = await accessTo(call, row.course_id, caller, can('courses:read-all'), noSuchAssignment);
      if (!row.published && !seesDrafts(a)) throw noSuchAssignment();
      if (!row.group_submission) {
        const s = await repo.submissionOf(row.id, caller.userId);
        if (!s) throw noSuchSubmission();
        return mine(s, row, await repo.versionsOf([s.id]), null);
      }
      // A group assignment: the group's submission, whoever of its members handed it in.
      const member = await repo.membership(row.id, caller.userId);
      if (!member) throw a.learner ? notInGroup() : noSuchSubmission();
      const s = await repo.submissionOfGroup(row.id, member.group_id);
      if (!s) throw noSuchSubmission();
      const memberIds = (await repo.membersOf([member.group_id])).map((m) => m.user_id);
      return mine(s, row, await repo.versionsOf([s.id]), { id: member.group_id, name: member.name, memberIds });
    },

    async submissions({ input, caller, call, can, repo }) {
      const row = await repo.assignment(input.assignmentId);
      if (!row) throw noSuchAssignment();
      const a = await accessTo(call, row.course_id, caller, can('courses:read-all'), noSuchAssignment);
      demand(a, row, 'course:grade');
      const after = input.cursor === undefined ? undefined : Number(input.cursor);
      if (after !== undefined && (!Number.isSafeInteger(after) || after < 0)) throw invalidCursor();
      const rows = await repo.submissionsOf(row.id, { limit: input.limit, after, state: input.state });
      const versions = await repo.versionsOf(rows.map((r) => r.id));
      const numbers = new Map(rows.map((r) => [r.id, r.participant_no]));
      // Names (and groups) for the whole page in one call to the users service.
      const people = await peopleOf(call, repo, row, rows.slice(0, input.limit));
      return keysetPage(
        rows,
        input.limit,
        (s) =>
          staffView(
            s,
            row,
            versions.filter((v) => v.submission_id === s.id),
            people,
          ),
        (last) => String(numbers.get(last.id)),
      );
    },

    async grade({ input, caller, call, can, repo, uow }) {
      const s0 = await repo.submission(input.submissionId);
      if (!s0) throw noSuchSubmission();
      const row = await repo.assignment(s0.assignment_id);
      if (!row) throw noSuchSubmission();
      const a = await accessTo(call, row.course_id, caller, can('courses:read-all'), noSuchSubmission);
      if (!may(a, 'course:grade')) {
        if (!seesDrafts(a)) throw noSuchSubmission();
        throw new DomainError('FORBIDDEN', 'Only the course staff who grade may mark', { permission: 'course:grade' });
      }
      let raw: number;
      if (row.rubric) {
        if (input.points !== undefined) throw invalid('points', 'this assignment is marked by its rubric: give rubric selections');
        if (!input.rubric) throw invalid('rubric', 'required: this assignment is marked by its rubric');
        raw = rubricPoints(row.rubric, input.rubric);
      } else {
        if (input.rubric !== undefined) throw invalid('rubric', 'this assignment has no rubric');
        if (input.points === undefined) throw invalid('points', 'required');
        if (input.points > row.max_points) throw invalid('points', `must not exceed ${row.max_points}`);
        raw = input.points;
      }
      const updated = await uow(async ({ repo: r, emit }) => {
        const s = await r.submission(input.submissionId);
        if (!s) throw noSuchSubmission();
        if (s.version === 0) throw new DomainError('CONFLICT', 'Nothing was submitted yet');
        const [latest] = (await r.versionsOf([s.id])).filter((v) => v.version === s.version);
        if (!latest) throw noSuchSubmission();
        const comments = input.comments ?? s.comments;
        checkComments(comments, latest.text);
        const released = s.state === 'released';
        if (released && !input.reason) throw new DomainError('GRADE_RELEASED', 'A released grade changes only with a reason');
        const target = released ? 'released' : (input.state ?? (s.state === 'not_marked' ? 'in_marking' : s.state));
        if (!movesForward(s.state, target)) throw new DomainError('CONFLICT', `The marking workflow moves forward only (${s.state} → ${target})`);
        const penalty = penaltyPercent(row.late_policy, latest.late_seconds);
        const feedback = input.feedback === undefined ? s.feedback : input.feedback;
        const g = await r.setGrade(s.id, {
          state: target,
          rawPoints: raw,
          penaltyPercent: penalty,
          points: finalPoints(raw, penalty),
          rubric: input.rubric ?? null,
          feedback,
          comments,
          gradedBy: caller.userId,
        });
        if (released) {
          await r.recordGradeChange({
            submissionId: s.id,
            by: caller.userId,
            reason: input.reason ?? '',
            before: { rawPoints: s.raw_points, points: s.points, feedback: s.feedback },
            after: { rawPoints: g.raw_points, points: g.points, feedback: g.feedback },
          });
          await emitGraded(emit, r, g, row, true);
        }
        return { g, versions: await r.versionsOf([s.id]) };
      });
      return staffView(updated.g, row, updated.versions, await peopleOf(call, repo, row, [updated.g]));
    },

    async release({ input, caller, call, can, repo, uow }) {
      const row = await repo.assignment(input.assignmentId);
      if (!row) throw noSuchAssignment();
      const a = await accessTo(call, row.course_id, caller, can('courses:read-all'), noSuchAssignment);
      demand(a, row, 'course:grade');
      const released = await uow(async ({ repo: r, emit }) => {
        const rows = await r.release(row.id, input.submissionIds && [...new Set(input.submissionIds)]);
        // A group's grade reaches every member's gradebook.
        for (const s of rows) await emitGraded(emit, r, s, row, false);
        return rows;
      });
      return { released: released.map((s) => s.id) };
    },

    async setGroups({ input, caller, call, can, repo, uow }) {
      const row = await repo.assignment(input.assignmentId);
      if (!row) throw noSuchAssignment();
      const a = await accessTo(call, row.course_id, caller, can('courses:read-all'), noSuchAssignment);
      demand(a, row, 'course:edit');
      if (!row.group_submission) throw new DomainError('CONFLICT', 'This assignment is not handed in by groups (groupSubmission is off)');
      const current = new Set((await repo.groupsOf(row.id)).map((g) => g.id));
      const ids = new Set<string>();
      const everyone = new Set<string>();
      input.groups.forEach((g, i) => {
        if (g.id !== undefined) {
          if (!current.has(g.id)) throw invalid(`groups.${i}.id`, 'not a group of this assignment');
          if (ids.has(g.id)) throw invalid(`groups.${i}.id`, 'given twice');
          ids.add(g.id);
        }
        for (const u of new Set(g.memberIds)) {
          if (everyone.has(u)) throw invalid(`groups.${i}.memberIds`, `${u} is in more than one group`);
          everyone.add(u);
        }
      });
      if (everyone.size > 1000) throw invalid('groups', 'at most 1000 members in all');
      // Members must be learners of the course: a group's released grade goes to each member's gradebook.
      const members = [...everyone];
      for (let i = 0; i < members.length; i += 20) {
        const roles = await Promise.all(members.slice(i, i + 20).map((userId) => call(coursesInternal.roleOf, { courseId: row.course_id, userId })));
        roles.forEach((r, j) => {
          if (r.role !== 'learner') throw invalid('groups', `${members[i + j]} is not a learner of this course`);
        });
      }
      const groups = input.groups.map((g) => ({ id: g.id ?? randomUUID(), name: g.name, memberIds: [...new Set(g.memberIds)] }));
      await uow(async ({ repo: r }) => {
        if (!(await r.lockAssignment(row.id))) throw noSuchAssignment();
        const kept = new Set(groups.map((g) => g.id));
        for (const id of await r.groupsWithSubmissions(row.id))
          if (!kept.has(id)) throw new DomainError('CONFLICT', 'A group that has handed in cannot be removed', { groupId: id });
        await r.setGroups(row.id, groups);
      });
      return { items: await groupList(call, repo, row.id) };
    },

    async groups({ input, caller, call, can, repo }) {
      const row = await repo.assignment(input.assignmentId);
      if (!row) throw noSuchAssignment();
      const a = await accessTo(call, row.course_id, caller, can('courses:read-all'), noSuchAssignment);
      demand(a, row, 'course:grade');
      return { items: await groupList(call, repo, row.id) };
    },

    async gradeChanges({ input, caller, call, can, repo }) {
      const s = await repo.submission(input.submissionId);
      if (!s) throw noSuchSubmission();
      const row = await repo.assignment(s.assignment_id);
      if (!row) throw noSuchSubmission();
      const a = await accessTo(call, row.course_id, caller, can('courses:read-all'), noSuchSubmission);
      demand(a, row, 'course:grade');
      const items = await repo.gradeChanges(s.id);
      return { items: items.map((c) => ({ at: c.at.toISOString(), by: c.changed_by, reason: c.reason, before: c.before, after: c.after })) };
    },

    async outcome({ input, repo }) {
      // A learner's own submission, or a group member's share of their group's (the attempt id is the membership's).
      let s = await repo.submission(input.attemptId);
      let userId = s?.user_id;
      if (!s || !userId) {
        const m = await repo.member(input.attemptId);
        if (!m) throw noSuchSubmission();
        s = await repo.submissionOfGroup(m.assignment_id, m.group_id);
        userId = m.user_id;
      }
      if (!s) throw noSuchSubmission();
      const row = await repo.assignment(s.assignment_id);
      if (!row) throw noSuchSubmission();
      const marked = s.state === 'ready_for_release' || s.state === 'released';
      const g = marked ? gradeOf(s, row) : null;
      return {
        kind: 'assignment' as const,
        assessmentId: row.id,
        courseId: row.course_id,
        userId,
        attemptId: input.attemptId,
        status: g ? ('graded' as const) : ('submitted' as const),
        grade: g && { points: g.points, maxPoints: g.maxPoints, percent: g.percent },
        passed: g?.passed ?? null,
        released: s.state === 'released',
      };
    },

    async privacyExport({ input, repo }) {
      const subs = await repo.submissionsOfUser(input.userId);
      const versions = await repo.versionsOf(subs.map((s) => s.id));
      return {
        data: {
          submissions: subs.map((s) => ({
            id: s.id,
            assignmentId: s.assignment_id,
            courseId: s.course_id,
            groupId: s.group_id,
            state: s.state,
            versions: versions.filter((v) => v.submission_id === s.id).map(toVersion),
            // A grade is the learner's once released.
            grade: s.state === 'released' ? { points: s.points, rawPoints: s.raw_points, feedback: s.feedback, comments: s.comments } : null,
          })),
        },
      };
    },
  },
});
