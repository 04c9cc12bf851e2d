import type { AssessmentKind } from '@lms/contracts';

/** The published outline of a course, as the courses service answers it. */
export interface Outline {
  courseId: string;
  title: string;
  version: number;
  sequential: boolean;
  modules: Array<{
    id: string;
    title: string;
    requires: string[];
    lessons: Array<{
      id: string;
      title: string;
      type: string;
      completeAtPercent: number | null;
      /** Quiz and assignment lessons: completed by passing this assessment (the completion saga), never by hand. */
      assessment?: { kind: AssessmentKind; assessmentId: string; passPercent: number } | null;
    }>;
  }>;
}

export interface Progress {
  courseId: string;
  version: number;
  percent: number;
  completedLessons: number;
  totalLessons: number;
  nextLesson: { id: string; title: string; moduleId: string } | null;
  modules: Array<{
    id: string;
    title: string;
    complete: boolean;
    unlocked: boolean;
    lessons: Array<{ id: string; title: string; complete: boolean; unlocked: boolean }>;
  }>;
}

/**
 * Progress against the published outline. Rules (documented in the service README):
 * - a lesson is complete once marked, and stays so; only lessons of the current version count;
 * - a module is complete when all its lessons are (an empty module is complete);
 * - a module is unlocked when the modules it `requires` are complete and, in a sequential course, the
 *   one before it is too; a lesson is unlocked when its module is;
 * - the next lesson is the first unlocked, incomplete one in course order.
 */
export function computeProgress(outline: Outline, done: Set<string>): Progress {
  const complete = new Map<string, boolean>();
  for (const m of outline.modules)
    complete.set(
      m.id,
      m.lessons.every((l) => done.has(l.id)),
    );
  let total = 0;
  let completed = 0;
  let next: Progress['nextLesson'] = null;
  const modules = outline.modules.map((m, i) => {
    const before = outline.modules[i - 1];
    const previousDone = !outline.sequential || !before || complete.get(before.id) === true;
    const unlocked = previousDone && m.requires.every((r) => complete.get(r) !== false);
    const lessons = m.lessons.map((l) => {
      total++;
      const isDone = done.has(l.id);
      if (isDone) completed++;
      if (!isDone && unlocked && !next) next = { id: l.id, title: l.title, moduleId: m.id };
      return { id: l.id, title: l.title, complete: isDone, unlocked };
    });
    return { id: m.id, title: m.title, complete: complete.get(m.id) === true, unlocked, lessons };
  });
  return {
    courseId: outline.courseId,
    version: outline.version,
    percent: total === 0 ? 0 : Math.round((completed / total) * 1000) / 10,
    completedLessons: completed,
    totalLessons: total,
    nextLesson: next,
    modules,
  };
}
