import type { LatePolicy, MarkingState, Rubric } from '@lms/contracts';
import type { JsonColumn } from '@lms/runtime';
import { randomUUID } from 'node:crypto';
import { sql, type ColumnType, type Generated, type Kysely, type Selectable } from 'kysely';

export interface Selection {
  criterionId: string;
  levelId: string;
}
export interface Comment {
  start: number;
  end: number;
  comment: string;
}
export interface GradeSnapshot {
  rawPoints: number | null;
  points: number | null;
  feedback: string | null;
}

export interface AssignmentsDB {
  assignments: {
    id: string;
    course_id: string;
    title: string;
    instructions: string;
    max_points: number;
    submission_types: 'text' | 'file' | 'both';
    due_at: Date | null;
    cutoff_at: Date | null;
    late_policy: JsonColumn<LatePolicy | null>;
    allow_resubmission: boolean;
    anonymous_marking: boolean;
    group_submission: boolean;
    pass_percent: number | null;
    published: boolean;
    rubric: JsonColumn<Rubric | null>;
    created_at: Generated<Date>;
    updated_at: Generated<Date>;
  };
  submissions: {
    id: string;
    assignment_id: string;
    course_id: string;
    /** The learner's; null on a group's submission. */
    user_id: string | null;
    /** The group's (group assignments); null on a learner's own. */
    group_id: ColumnType<string | null, string | null | undefined, never>;
    participant_no: number;
    version: number;
    state: Generated<MarkingState>;
    raw_points: number | null;
    penalty_percent: number | null;
    points: number | null;
    rubric_selections: JsonColumn<Selection[] | null>;
    feedback: string | null;
    comments: ColumnType<Comment[], string | undefined, string>;
    graded_by: string | null;
    graded_at: Date | null;
    released_at: Date | null;
    created_at: Generated<Date>;
  };
  submission_versions: {
    submission_id: string;
    version: number;
    text: string | null;
    file_ids: JsonColumn<string[]>;
    submitted_at: Date;
    late_seconds: number;
  };
  groups: {
    id: string;
    assignment_id: string;
    name: string;
    created_at: Generated<Date>;
  };
  group_members: {
    /** The member's attempt id in the assessment events of the group's submission. */
    id: string;
    assignment_id: string;
    group_id: string;
    user_id: string;
  };
  grade_changes: {
    id: Generated<number>;
    submission_id: string;
    changed_by: string;
    at: Generated<Date>;
    before: JsonColumn<GradeSnapshot>;
    after: JsonColumn<GradeSnapshot>;
    reason: string;
  };
}

export type AssignmentRow = Selectable<AssignmentsDB['assignments']>;
export type SubmissionRow = Selectable<AssignmentsDB['submissions']>;
export type VersionRow = Selectable<AssignmentsDB['submission_versions']>;
export type GroupRow = Selectable<AssignmentsDB['groups']>;
export type MemberRow = Selectable<AssignmentsDB['group_members']>;

export interface AssignmentValues {
  title: string;
  instructions: string;
  maxPoints: number;
  submissionTypes: 'text' | 'file' | 'both';
  dueAt: string | null;
  cutoffAt: string | null;
  latePolicy: LatePolicy | null;
  allowResubmission: boolean;
  anonymousMarking: boolean;
  groupSubmission: boolean;
  passPercent: number | null;
  published: boolean;
  rubric: Rubric | null;
}

export interface GradeValues {
  state: MarkingState;
  rawPoints: number;
  penaltyPercent: number;
  points: number;
  rubric: Selection[] | null;
  feedback: string | null;
  comments: Comment[];
  gradedBy: string;
}

const columns = (v: AssignmentValues) => ({
  title: v.title,
  instructions: v.instructions,
  max_points: v.maxPoints,
  submission_types: v.submissionTypes,
  due_at: v.dueAt ? new Date(v.dueAt) : null,
  cutoff_at: v.cutoffAt ? new Date(v.cutoffAt) : null,
  late_policy: JSON.stringify(v.latePolicy),
  allow_resubmission: v.allowResubmission,
  anonymous_marking: v.anonymousMarking,
  group_submission: v.groupSubmission,
  pass_percent: v.passPercent,
  published: v.published,
  rubric: JSON.stringify(v.rubric),
});

export class AssignmentsRepository {
  constructor(private readonly db: Kysely<AssignmentsDB>) {}

  async createAssignment(id: string, courseId: string, v: AssignmentValues): Promise<AssignmentRow> {
    return this.db
      .insertInto('assignments')
      .values({ id, course_id: courseId, ...columns(v) })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  async updateAssignment(id: string, v: AssignmentValues): Promise<AssignmentRow | undefined> {
    return this.db
      .updateTable('assignments')
      .set({ ...columns(v), updated_at: sql<Date>`now()` })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
  }

  async deleteAssignment(id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('assignments').where('id', '=', id).executeTakeFirst();
    return r.numDeletedRows > 0n;
  }

  async assignment(id: string): Promise<AssignmentRow | undefined> {
    return this.db.selectFrom('assignments').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Locks the assignment's row until the transaction ends (participant numbers are given under it). */
  async lockAssignment(id: string): Promise<AssignmentRow | undefined> {
    return this.db.selectFrom('assignments').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
  }

  async assignmentsOf(courseId: string, publishedOnly: boolean): Promise<AssignmentRow[]> {
    let q = this.db.selectFrom('assignments').selectAll().where('course_id', '=', courseId);
    if (publishedOnly) q = q.where('published', '=', true);
    return q.orderBy('created_at').orderBy('id').limit(1000).execute();
  }

  async submission(id: string): Promise<SubmissionRow | undefined> {
    return this.db.selectFrom('submissions').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async submissionOf(assignmentId: string, userId: string): Promise<SubmissionRow | undefined> {
    return this.db.selectFrom('submissions').selectAll().where('assignment_id', '=', assignmentId).where('user_id', '=', userId).executeTakeFirst();
  }

  async submissionOfGroup(assignmentId: string, groupId: string): Promise<SubmissionRow | undefined> {
    return this.db.selectFrom('submissions').selectAll().where('assignment_id', '=', assignmentId).where('group_id', '=', groupId).executeTakeFirst();
  }

  /** Whether anything was handed in for the assignment. */
  async hasSubmissions(assignmentId: string): Promise<boolean> {
    return (await this.db.selectFrom('submissions').select('id').where('assignment_id', '=', assignmentId).limit(1).executeTakeFirst()) !== undefined;
  }

  /**
   * A first submission, of a learner (`userId`) or of a group (`groupId`): the next participant number of the
   * assignment (call with the assignment locked).
   */
  async createSubmission(s: { id: string; assignmentId: string; courseId: string; userId: string | null; groupId?: string }): Promise<SubmissionRow> {
    const { n } = await this.db
      .selectFrom('submissions')
      .select((eb) => eb.fn.coalesce(eb.fn.max('participant_no'), sql<number>`0`).as('n'))
      .where('assignment_id', '=', s.assignmentId)
      .executeTakeFirstOrThrow();
    return this.db
      .insertInto('submissions')
      .values({
        id: s.id,
        assignment_id: s.assignmentId,
        course_id: s.courseId,
        user_id: s.userId,
        group_id: s.groupId ?? null,
        participant_no: Number(n) + 1,
        version: 0,
        rubric_selections: 'null',
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /** A new version of a submission; marking starts over (a draft grade stays as it was). */
  async addVersion(
    submissionId: string,
    v: { version: number; text: string | null; fileIds: string[]; submittedAt: Date; lateSeconds: number },
  ): Promise<void> {
    await this.db
      .insertInto('submission_versions')
      .values({
        submission_id: submissionId,
        version: v.version,
        text: v.text,
        file_ids: JSON.stringify(v.fileIds),
        submitted_at: v.submittedAt,
        late_seconds: v.lateSeconds,
      })
      .execute();
    await this.db.updateTable('submissions').set({ version: v.version, state: 'not_marked' }).where('id', '=', submissionId).execute();
  }

  async versionsOf(submissionIds: string[]): Promise<VersionRow[]> {
    if (submissionIds.length === 0) return [];
    return this.db
      .selectFrom('submission_versions')
      .selectAll()
      .where('submission_id', 'in', submissionIds)
      .orderBy('submission_id')
      .orderBy('version')
      .execute();
  }

  /** Staff pages, in participant order. */
  async submissionsOf(assignmentId: string, f: { limit: number; after?: number; state?: MarkingState }): Promise<SubmissionRow[]> {
    let q = this.db.selectFrom('submissions').selectAll().where('assignment_id', '=', assignmentId);
    if (f.state) q = q.where('state', '=', f.state);
    if (f.after !== undefined) q = q.where('participant_no', '>', f.after);
    return q
      .orderBy('participant_no')
      .limit(f.limit + 1)
      .execute();
  }

  async setGrade(id: string, g: GradeValues): Promise<SubmissionRow> {
    return this.db
      .updateTable('submissions')
      .set({
        state: g.state,
        raw_points: g.rawPoints,
        penalty_percent: g.penaltyPercent,
        points: g.points,
        rubric_selections: JSON.stringify(g.rubric),
        feedback: g.feedback,
        comments: JSON.stringify(g.comments),
        graded_by: g.gradedBy,
        graded_at: sql<Date>`now()`,
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  async recordGradeChange(c: { submissionId: string; by: string; before: GradeSnapshot; after: GradeSnapshot; reason: string }): Promise<void> {
    await this.db
      .insertInto('grade_changes')
      .values({ submission_id: c.submissionId, changed_by: c.by, before: JSON.stringify(c.before), after: JSON.stringify(c.after), reason: c.reason })
      .execute();
  }

  async gradeChanges(submissionId: string) {
    return this.db.selectFrom('grade_changes').selectAll().where('submission_id', '=', submissionId).orderBy('id').limit(1000).execute();
  }

  /** Releases the ready grades of an assignment (those named, or all): answers the released submissions. */
  async release(assignmentId: string, ids: string[] | undefined): Promise<SubmissionRow[]> {
    let q = this.db
      .updateTable('submissions')
      .set({ state: 'released', released_at: sql<Date>`now()` })
      .where('assignment_id', '=', assignmentId)
      .where('state', '=', 'ready_for_release');
    if (ids) {
      if (ids.length === 0) return [];
      q = q.where('id', 'in', ids);
    }
    return q.returningAll().execute();
  }

  /** A privacy export: the user's submissions, and those of their groups. */
  async submissionsOfUser(userId: string): Promise<SubmissionRow[]> {
    const groups = this.db.selectFrom('group_members').select('group_id').where('user_id', '=', userId);
    return this.db
      .selectFrom('submissions')
      .selectAll()
      .where((eb) => eb.or([eb('user_id', '=', userId), eb('group_id', 'in', groups)]))
      .orderBy('created_at')
      .execute();
  }

  // --- groups ---

  /** The user's membership in a group of the assignment. */
  async membership(assignmentId: string, userId: string): Promise<(MemberRow & { name: string }) | undefined> {
    return this.db
      .selectFrom('group_members')
      .innerJoin('groups', 'groups.id', 'group_members.group_id')
      .selectAll('group_members')
      .select('groups.name')
      .where('group_members.assignment_id', '=', assignmentId)
      .where('group_members.user_id', '=', userId)
      .executeTakeFirst();
  }

  /** A member by their attempt id. */
  async member(id: string): Promise<MemberRow | undefined> {
    return this.db.selectFrom('group_members').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async groupsOf(assignmentId: string): Promise<GroupRow[]> {
    return this.db.selectFrom('groups').selectAll().where('assignment_id', '=', assignmentId).orderBy('name').orderBy('id').limit(1000).execute();
  }

  async groupsById(ids: string[]): Promise<GroupRow[]> {
    if (ids.length === 0) return [];
    return this.db.selectFrom('groups').selectAll().where('id', 'in', ids).execute();
  }

  /** The members of the groups, in a stable order. */
  async membersOf(groupIds: string[]): Promise<MemberRow[]> {
    if (groupIds.length === 0) return [];
    return this.db.selectFrom('group_members').selectAll().where('group_id', 'in', groupIds).orderBy('group_id').orderBy('user_id').execute();
  }

  /** The groups of the assignment that have handed in. */
  async groupsWithSubmissions(assignmentId: string): Promise<Set<string>> {
    const rows = await this.db
      .selectFrom('submissions')
      .select('group_id')
      .where('assignment_id', '=', assignmentId)
      .where('group_id', 'is not', null)
      .execute();
    return new Set(rows.flatMap((r) => (r.group_id ? [r.group_id] : [])));
  }

  /**
   * Replaces the assignment's groups: groups left out go (with their members), the others are named as given; each
   * member ends in the group given (a member who stays keeps their row, so their attempt id).
   */
  async setGroups(assignmentId: string, groups: { id: string; name: string; memberIds: string[] }[]): Promise<void> {
    const keep = groups.map((g) => g.id);
    let gone = this.db.deleteFrom('groups').where('assignment_id', '=', assignmentId);
    if (keep.length) gone = gone.where('id', 'not in', keep);
    await gone.execute();
    for (const g of groups)
      await this.db
        .insertInto('groups')
        .values({ id: g.id, assignment_id: assignmentId, name: g.name })
        .onConflict((oc) => oc.column('id').doUpdateSet({ name: g.name }))
        .execute();
    const members = groups.flatMap((g) => g.memberIds.map((userId) => ({ userId, groupId: g.id })));
    let left = this.db.deleteFrom('group_members').where('assignment_id', '=', assignmentId);
    if (members.length)
      left = left.where(
        'user_id',
        'not in',
        members.map((m) => m.userId),
      );
    await left.execute();
    for (const m of members)
      await this.db
        .insertInto('group_members')
        .values({ id: randomUUID(), assignment_id: assignmentId, group_id: m.groupId, user_id: m.userId })
        .onConflict((oc) => oc.columns(['assignment_id', 'user_id']).doUpdateSet({ group_id: m.groupId }))
        .execute();
  }

  /**
   * Erasure: the user's submissions go (their versions and grade records with them), and their group memberships;
   * where they marked, their id leaves the grade. The records of changes to released grades keep the marker's id (an id only, the audit trail).
   */
  async eraseUser(userId: string): Promise<number> {
    const r = await this.db.deleteFrom('submissions').where('user_id', '=', userId).executeTakeFirst();
    // They leave their groups; a group's submission goes too when no member is left (it was theirs alone).
    const left = await this.db.deleteFrom('group_members').where('user_id', '=', userId).returning('group_id').execute();
    if (left.length) {
      const empty = await this.db
        .deleteFrom('submissions')
        .where(
          'group_id',
          'in',
          left.map((m) => m.group_id),
        )
        .where((eb) => eb.not(eb.exists(eb.selectFrom('group_members').select('id').whereRef('group_members.group_id', '=', 'submissions.group_id'))))
        .executeTakeFirst();
      return Number(r.numDeletedRows) + Number(empty.numDeletedRows);
    }
    await this.db.updateTable('submissions').set({ graded_by: null }).where('graded_by', '=', userId).execute();
    return Number(r.numDeletedRows);
  }
}
