/**
 * The arithmetic of marking, pure: rubric totals, lateness and late penalties. No I/O, so that the rules are
 * tested on their own (test/marking.test.ts).
 */
import { DomainError, type LatePolicy, type MarkingState, type Rubric } from '@lms/contracts';

/** Points are kept to two decimals, rounded half up (points are never negative); the hundredths are cut to 12 significant digits first, so that binary noise (1.005 × 100 = 100.4999…) rounds as written. */
export function roundPoints(x: number): number {
  return (Math.sign(x) * Math.round(Number((Math.abs(x) * 100).toPrecision(12)))) / 100;
}

/** A rubric's maximum: the sum of each criterion's top level. */
export function rubricMaxPoints(r: Rubric): number {
  return roundPoints(r.criteria.reduce((sum, c) => sum + Math.max(0, ...c.levels.map((l) => l.points)), 0));
}

const invalid = (path: string, message: string) => new DomainError('VALIDATION_FAILED', `Invalid input: ${path}: ${message}`, { issues: [{ path, message }] });

/**
 * The points of rubric selections: exactly one level of every criterion, by id; answers their sum.
 * An unknown criterion or level, a criterion chosen twice or one left out is VALIDATION_FAILED.
 */
export function rubricPoints(r: Rubric, selections: readonly { criterionId: string; levelId: string }[]): number {
  const chosen = new Map<string, string>();
  for (const s of selections) {
    if (chosen.has(s.criterionId)) throw invalid('rubric', `criterion ${s.criterionId} chosen twice`);
    chosen.set(s.criterionId, s.levelId);
  }
  let sum = 0;
  for (const c of r.criteria) {
    const levelId = chosen.get(c.id);
    if (levelId === undefined) throw invalid('rubric', `no level chosen for criterion ${c.id}`);
    const level = c.levels.find((l) => l.id === levelId);
    if (!level) throw invalid('rubric', `level ${levelId} is not a level of criterion ${c.id}`);
    sum += level.points;
    chosen.delete(c.id);
  }
  const [unknown] = chosen.keys();
  if (unknown !== undefined) throw invalid('rubric', `criterion ${unknown} is not in the rubric`);
  return roundPoints(sum);
}

/** Seconds after the due date (0 when on time or without a due date). */
export function lateSeconds(submittedAt: Date, dueAt: Date | null): number {
  if (!dueAt) return 0;
  return Math.max(0, Math.ceil((submittedAt.getTime() - dueAt.getTime()) / 1000));
}

/**
 * The late penalty in percent of the raw grade: `percent` for every started day (or hour) late — units late are
 * the ceiling of the lateness in days (hours) — capped so that the grade keeps at least `floorPercent` of raw.
 */
export function penaltyPercent(policy: LatePolicy | null, late: number): number {
  if (!policy || late <= 0) return 0;
  const unit = policy.per === 'day' ? 86_400 : 3_600;
  const units = Math.ceil(late / unit);
  return roundPoints(Math.min(policy.percent * units, 100 - policy.floorPercent, 100));
}

/** final = raw × (1 − penalty), rounded to two decimals. */
export function finalPoints(raw: number, penalty: number): number {
  return roundPoints(raw * (1 - penalty / 100));
}

export function percentOf(points: number, maxPoints: number): number {
  return maxPoints > 0 ? roundPoints((points / maxPoints) * 100) : 0;
}

const ORDER: readonly MarkingState[] = ['not_marked', 'in_marking', 'ready_for_release', 'released'];

/** The marking workflow only moves forward (staying put is fine). */
export function movesForward(from: MarkingState, to: MarkingState): boolean {
  return ORDER.indexOf(to) >= ORDER.indexOf(from);
}

/** Inline comments anchor to ranges of the text: 0 ≤ start ≤ end ≤ its length. */
export function checkComments(comments: readonly { start: number; end: number }[], text: string | null): void {
  const length = text?.length ?? 0;
  comments.forEach((c, i) => {
    if (c.start > c.end || c.end > length)
      throw invalid(`comments.${i}`, `range [${c.start}, ${c.end}) is not within the submitted text (${length} characters)`);
  });
}
