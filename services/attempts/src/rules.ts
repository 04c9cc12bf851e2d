/** The attempts service's pure rules: the draw's order, deadlines, the grading method, what review may show. */
import { createHash } from 'node:crypto';
import type { QuizSettings } from '@lms/contracts';

/** A deterministic number in [0, 1) from a seed and a label (the server's seed; the client has no say). */
function unit(seed: string, label: string): number {
  return createHash('sha256').update(`${seed}:${label}`).digest().readUInt32BE(0) / 2 ** 32;
}

/** Fisher–Yates with the seed: the same seed, the same order. */
export function seededShuffle<T>(items: readonly T[], seed: string, label: string): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(unit(seed, `${label}:${i}`) * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** The attempt's deadline: the time limit (plus extra time) from the start, and never after the closing time. */
export function deadlineOf(start: Date, timeLimitS: number | null, extraTimeS: number, closesAt: Date | null): Date | null {
  const byLimit = timeLimitS === null ? null : new Date(start.getTime() + (timeLimitS + extraTimeS) * 1000);
  if (byLimit && closesAt) return byLimit < closesAt ? byLimit : closesAt;
  return byLimit ?? closesAt;
}

/** The learner's points on the quiz by its grading method, over their graded attempts (oldest first). */
export function gradeByMethod(method: QuizSettings['gradingMethod'], points: number[]): number | null {
  if (points.length === 0) return null;
  switch (method) {
    case 'highest':
      return Math.max(...points);
    case 'average':
      return points.reduce((a, b) => a + b, 0) / points.length;
    case 'first':
      return points[0] ?? null;
    case 'last':
      return points[points.length - 1] ?? null;
  }
}

export function gradeValueOf(points: number, maxPoints: number) {
  const p = Math.round(points * 1000) / 1000;
  return { points: p, maxPoints, percent: maxPoints > 0 ? Math.round((p / maxPoints) * 10_000) / 100 : 0 };
}

export type ReviewWhen = QuizSettings['review']['afterSubmit'];

/**
 * What review may show now: nothing of a key while the attempt is open; after submitting, `afterSubmit`; once
 * the quiz has closed (its own closing time), `afterClose` as well. Staff see everything.
 */
export function reviewAllowed(settings: QuizSettings, submitted: boolean, closesAt: Date | null, now: Date, staff: boolean): ReviewWhen {
  if (staff) return { score: true, correctness: true, feedback: true, rightAnswer: true };
  const none = { score: false, correctness: false, feedback: false, rightAnswer: false };
  if (!submitted) return none;
  const a = settings.review.afterSubmit;
  if (!closesAt || closesAt > now) return a;
  const c = settings.review.afterClose;
  return {
    score: a.score || c.score,
    correctness: a.correctness || c.correctness,
    feedback: a.feedback || c.feedback,
    rightAnswer: a.rightAnswer || c.rightAnswer,
  };
}

export function correctnessOf(fraction: number | null): 'correct' | 'partial' | 'incorrect' | null {
  if (fraction === null) return null;
  if (fraction >= 0.999_999) return 'correct';
  return fraction > 0 ? 'partial' : 'incorrect';
}
