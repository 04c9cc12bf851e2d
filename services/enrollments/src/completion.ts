import { enrollmentEvents } from '@lms/contracts';
import type { Emit } from '@lms/runtime';
import type { EnrollmentRow, EnrollmentsRepository } from './enrollments.repository.js';
import { computeProgress, type Outline, type Progress } from './progress.js';

/** What the gradebook answers about a learner's course grade (gradesInternal.courseGrade). */
export interface CourseGrade {
  percent: number | null;
  minimumPercent: number | null;
}

export type Completion = { complete: true } | { complete: false; reason: 'no_lessons' | 'lessons_left' | 'grade_pending' | 'grade_below_minimum' };

/**
 * THE course completion rule, used by `completeLesson` and by the assessment completion saga alike:
 * - every lesson of the published version is complete (a quiz or assignment lesson is complete once passed);
 * - and, where the gradebook sets a minimum, the course grade reaches it (no grade yet with a minimum: not yet).
 * `grade` is null where the gradebook was not consulted (see `consultsGradebook`).
 */
export function courseCompletion(progress: Pick<Progress, 'totalLessons' | 'completedLessons'>, grade: CourseGrade | null): Completion {
  if (progress.totalLessons === 0) return { complete: false, reason: 'no_lessons' };
  if (progress.completedLessons < progress.totalLessons) return { complete: false, reason: 'lessons_left' };
  if (grade && grade.minimumPercent !== null) {
    if (grade.percent === null) return { complete: false, reason: 'grade_pending' };
    if (grade.percent < grade.minimumPercent) return { complete: false, reason: 'grade_below_minimum' };
  }
  return { complete: true };
}

/**
 * Whether a course's completion asks the gradebook: courses with quiz or assignment lessons do; a course of
 * reading and videos only has nothing graded, so completing its last lesson does not depend on the grades service.
 */
export const consultsGradebook = (outline: Outline) => outline.modules.some((m) => m.lessons.some((l) => l.assessment));

/** A lesson is passed when the grade reaches the lesson's pass mark, or the assessment's own pass mark says so. */
export function passes(grade: { percent: number } | null, passPercent: number | null | undefined, passed: boolean | null): boolean {
  if (passed === true) return true;
  return grade !== null && passPercent !== null && passPercent !== undefined && grade.percent >= passPercent;
}

/** The ids of the modules not unlocked in `p`. */
export const lockedModules = (p: Progress) => p.modules.filter((m) => !m.unlocked).map((m) => m.id);

/**
 * Records a completed lesson in a unit of work: the lesson, the percentage, each module it completed (one
 * `moduleCompleted` each, ever). Answers the progress after it and the modules it completed.
 */
export async function recordLesson(
  w: { repo: EnrollmentsRepository; emit: Emit },
  e: EnrollmentRow,
  outline: Outline,
  lessonId: string,
): Promise<{ after: Progress; lessonCompleted: boolean; modulesCompleted: string[] }> {
  const lessonCompleted = await w.repo.completeLesson(e.id, lessonId);
  const done = new Set((await w.repo.completedLessons(e.id)).map((l) => l.lesson_id));
  const after = computeProgress(outline, done);
  await w.repo.setProgress(e.id, after.percent);
  const modulesCompleted: string[] = [];
  for (const m of after.modules) {
    if (m.complete && m.lessons.length > 0 && (await w.repo.completeModule(e.id, m.id))) {
      modulesCompleted.push(m.id);
      await w.emit(enrollmentEvents.moduleCompleted, { enrollmentId: e.id, courseId: e.course_id, userId: e.user_id, moduleId: m.id }, e.course_id);
    }
  }
  return { after, lessonCompleted, modulesCompleted };
}

/** Announces the modules of `lockedBefore` that `after` unlocked: one `moduleUnlocked` per module, ever. */
export async function recordUnlocks(
  w: { repo: EnrollmentsRepository; emit: Emit },
  e: EnrollmentRow,
  lockedBefore: string[],
  after: Progress,
): Promise<string[]> {
  const unlocked: string[] = [];
  for (const m of after.modules) {
    if (m.unlocked && lockedBefore.includes(m.id) && (await w.repo.unlockModule(e.id, m.id))) {
      unlocked.push(m.id);
      await w.emit(enrollmentEvents.moduleUnlocked, { enrollmentId: e.id, courseId: e.course_id, userId: e.user_id, moduleId: m.id }, e.course_id);
    }
  }
  return unlocked;
}

/**
 * Marks the enrollment completed and announces it (`courseCompleted`, `changed`), once: decided on the status under
 * its row lock, so a concurrent or retried call that completed it first makes this a no-op. Completion is sticky.
 * Answers when it was completed by this call, or undefined.
 */
export async function recordCompletion(w: { repo: EnrollmentsRepository; emit: Emit }, e: EnrollmentRow, version: number): Promise<Date | undefined> {
  if ((await w.repo.lockedStatus(e.id)) !== 'active') return undefined;
  const s = await w.repo.setStatus(e.id, 'completed', null, e.user_id);
  const ref = { enrollmentId: e.id, courseId: e.course_id, userId: e.user_id };
  await w.emit(enrollmentEvents.courseCompleted, { ...ref, version }, e.course_id);
  await w.emit(enrollmentEvents.changed, { ...ref, status: 'completed', previous: 'active', reason: null }, e.course_id);
  return s.after.completed_at ?? undefined;
}
