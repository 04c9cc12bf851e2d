/**
 * The gradebook's arithmetic: pure functions from items, categories, a learner's grades and the course's settings to
 * the learner's category percents, course percent and letter. No I/O; the exact rules are in the service README
 * ("How a total is computed") and every one of them has a test in test/aggregate.test.ts.
 */

export type CourseAggregation = 'weighted' | 'natural';
export type CategoryAggregation = 'mean' | 'natural';

export interface LetterThreshold {
  letter: string;
  /** The lowest percent that earns this letter. */
  min: number;
}

export const defaultScale: readonly LetterThreshold[] = [
  { letter: 'A', min: 90 },
  { letter: 'B', min: 80 },
  { letter: 'C', min: 70 },
  { letter: 'D', min: 60 },
  { letter: 'F', min: 0 },
];

export interface AggItem {
  id: string;
  categoryId: string | null;
  maxPoints: number;
  /** Adds its points to its category's (and the course's) earned points, never to the possible points. */
  extraCredit: boolean;
  /** Counts nowhere (it stays in the grid). */
  excluded: boolean;
}

export interface AggCategory {
  id: string;
  /** Relative weight (any non-negative scale: weights are normalised over the categories that have grades). */
  weight: number;
  /** Drop the n lowest grades (by percent) of the category; at least one graded item is always kept. */
  dropLowest: number;
  aggregation: CategoryAggregation;
}

export interface AggSettings {
  aggregation: CourseAggregation;
  /** A missing grade counts as 0 instead of being ignored (extra credit items stay ignored). */
  treatMissingAsZero: boolean;
  /** Weight of the implicit category holding uncategorised items (weighted aggregation only). */
  uncategorisedWeight: number;
  scale: readonly LetterThreshold[];
}

export const defaultSettings: AggSettings = { aggregation: 'natural', treatMissingAsZero: false, uncategorisedWeight: 0, scale: defaultScale };

export interface AggGrade {
  /** The grade as entered or received; null: none yet. */
  points: number | null;
  /** A staff override of the grade (wins over `points`); null: none. */
  override: number | null;
}

export interface CategoryResult {
  categoryId: string | null;
  percent: number | null;
  /** Ids of the items dropped as the lowest. */
  dropped: string[];
}

export interface CourseResult {
  percent: number | null;
  letter: string | null;
  /** The computed percent, before a course-total override. */
  computedPercent: number | null;
  categories: CategoryResult[];
}

/** The grade an item counts with: the override, else the grade, else 0 or nothing (treat-missing-as-zero). */
export function effectivePoints(item: AggItem, grade: AggGrade | undefined, treatMissingAsZero: boolean): number | null {
  const g = grade?.override ?? grade?.points ?? null;
  if (g !== null) return g;
  return treatMissingAsZero && !item.extraCredit ? 0 : null;
}

/** The letter of a percent: the first threshold (highest first) the percent reaches; null for no percent. */
export function letterOf(percent: number | null, scale: readonly LetterThreshold[] = defaultScale): string | null {
  if (percent === null || !Number.isFinite(percent)) return null;
  // Rounded to 2 decimals first, so that 89.999999 (float noise of 90) reads as 90.
  const p = Math.round(percent * 100) / 100;
  const ordered = [...scale].sort((a, b) => b.min - a.min);
  return ordered.find((t) => p >= t.min)?.letter ?? null;
}

interface Counted {
  id: string;
  points: number;
  max: number;
}

/** One category's kept grades (after dropping) and extra credit points. */
function categoryParts(items: readonly AggItem[], grades: ReadonlyMap<string, AggGrade>, dropLowest: number, treatMissingAsZero: boolean) {
  const regular: Counted[] = [];
  let extra = 0;
  for (const item of items) {
    if (item.excluded) continue;
    const points = effectivePoints(item, grades.get(item.id), treatMissingAsZero);
    if (points === null) continue;
    if (item.extraCredit) extra += points;
    else if (item.maxPoints > 0) regular.push({ id: item.id, points, max: item.maxPoints });
  }
  // Lowest percent first; ties: the larger item first (dropping it loses more possible points), then by id (stable).
  const byPercent = [...regular].sort((a, b) => a.points / a.max - b.points / b.max || b.max - a.max || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const drop = Math.max(0, Math.min(Math.floor(dropLowest), regular.length - 1));
  const dropped = byPercent.slice(0, drop).map((c) => c.id);
  const kept = byPercent.slice(drop);
  return { kept, dropped, extra };
}

function categoryPercent(kept: readonly Counted[], extra: number, aggregation: CategoryAggregation): number | null {
  if (kept.length === 0) return null;
  const max = kept.reduce((s, c) => s + c.max, 0);
  if (aggregation === 'mean') return (kept.reduce((s, c) => s + c.points / c.max, 0) / kept.length) * 100 + (extra / max) * 100;
  return ((kept.reduce((s, c) => s + c.points, 0) + extra) / max) * 100;
}

/**
 * A learner's course grade. `totalOverride` (a percent) replaces the computed percent when set.
 */
export function courseResult(
  items: readonly AggItem[],
  categories: readonly AggCategory[],
  grades: ReadonlyMap<string, AggGrade>,
  settings: AggSettings,
  totalOverride: number | null = null,
): CourseResult {
  const known = new Map(categories.map((c) => [c.id, c]));
  const groups = new Map<string | null, AggItem[]>();
  for (const item of items) {
    // An item whose category is gone counts as uncategorised.
    const key = item.categoryId !== null && known.has(item.categoryId) ? item.categoryId : null;
    const list = groups.get(key);
    if (list) list.push(item);
    else groups.set(key, [item]);
  }
  const results: CategoryResult[] = [];
  let weighted = 0;
  let weights = 0;
  let earned = 0;
  let possible = 0;
  const all: Array<{ id: string | null; weight: number; dropLowest: number; aggregation: CategoryAggregation }> = [
    ...categories,
    { id: null, weight: settings.uncategorisedWeight, dropLowest: 0, aggregation: 'natural' },
  ];
  for (const cat of all) {
    const { kept, dropped, extra } = categoryParts(groups.get(cat.id) ?? [], grades, cat.dropLowest, settings.treatMissingAsZero);
    const percent = categoryPercent(kept, extra, cat.aggregation);
    if (cat.id !== null || groups.has(null)) results.push({ categoryId: cat.id, percent, dropped });
    if (percent !== null && cat.weight > 0) {
      weighted += percent * cat.weight;
      weights += cat.weight;
    }
    earned += kept.reduce((s, c) => s + c.points, 0) + (kept.length > 0 ? extra : 0);
    possible += kept.reduce((s, c) => s + c.max, 0);
  }
  let computed: number | null;
  if (settings.aggregation === 'weighted') computed = weights > 0 ? weighted / weights : null;
  else computed = possible > 0 ? (earned / possible) * 100 : null;
  const percent = totalOverride ?? computed;
  return { percent, letter: letterOf(percent, settings.scale), computedPercent: computed, categories: results };
}

/** A percent as the API shows it: 2 decimals. */
export function round2(n: number | null): number | null {
  return n === null ? null : Math.round(n * 100) / 100;
}
