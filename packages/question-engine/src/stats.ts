/**
 * Classical test theory over first attempts: facility (mean fraction), discrimination (corrected item-total
 * correlation: the item against the total of the *other* items in the same attempt) and Cronbach's alpha.
 */

/** First attempts: each attempt's fraction per question (undefined: not drawn) and total. */
export interface StatsInput {
  attempts: Array<{ fractions: Record<string, number | undefined> }>;
}
export interface ItemStats {
  questions: Record<string, { n: number; facility: number | null; discrimination: number | null }>;
  /** Cronbach's alpha over the questions every attempt answered; null under 2 attempts or items. */
  alpha: number | null;
  attempts: number;
}

const mean = (xs: readonly number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
/** Sample variance (n − 1); null under two values. */
const variance = (xs: readonly number[]): number | null => {
  if (xs.length < 2) return null;
  const m = mean(xs);
  return xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1);
};
/** Pearson's r; null under two pairs or when either side has no variance. */
export function pearson(xs: readonly number[], ys: readonly number[]): number | null {
  if (xs.length < 2 || xs.length !== ys.length) return null;
  const mx = mean(xs);
  const my = mean(ys);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < xs.length; i++) {
    const dx = (xs[i] ?? 0) - mx;
    const dy = (ys[i] ?? 0) - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx <= 1e-12 || syy <= 1e-12) return null;
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

const valueOf = (fractions: Record<string, number | undefined>, q: string): number | undefined => {
  const v = Object.hasOwn(fractions, q) ? fractions[q] : undefined;
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
};

export function itemStatistics(input: StatsInput): ItemStats {
  const attempts = input.attempts;
  const ids = [...new Set(attempts.flatMap((a) => Object.keys(a.fractions)))].sort();
  const questions: ItemStats['questions'] = {};
  for (const q of ids) {
    const xs: number[] = [];
    const rest: number[] = [];
    for (const a of attempts) {
      const x = valueOf(a.fractions, q);
      if (x === undefined) continue;
      xs.push(x);
      let other = 0;
      for (const o of Object.keys(a.fractions)) if (o !== q) other += valueOf(a.fractions, o) ?? 0;
      rest.push(other);
    }
    questions[q] = { n: xs.length, facility: xs.length > 0 ? mean(xs) : null, discrimination: pearson(xs, rest) };
  }
  // Alpha over the questions every attempt answered (a random draw from a bank leaves the others incomplete).
  const common = ids.filter((q) => attempts.every((a) => valueOf(a.fractions, q) !== undefined));
  let alpha: number | null = null;
  if (attempts.length >= 2 && common.length >= 2) {
    const k = common.length;
    const itemVar = common.reduce((s, q) => s + (variance(attempts.map((a) => valueOf(a.fractions, q) ?? 0)) ?? 0), 0);
    const totalVar = variance(attempts.map((a) => common.reduce((s, q) => s + (valueOf(a.fractions, q) ?? 0), 0)));
    if (totalVar !== null && totalVar > 1e-12) alpha = (k / (k - 1)) * (1 - itemVar / totalVar);
  }
  return { questions, alpha, attempts: attempts.length };
}
