import { describe, expect, it } from 'vitest';
import { itemStatistics } from '../src/index.js';

describe('itemStatistics', () => {
  it('matches a hand-computed example', () => {
    // q1 = [1, 1, 0], q2 = [1, 0, 0]. Facility 2/3 and 1/3. r(q1, q2) = (1/3) / sqrt(2/3 · 2/3) = 0.5 (both ways).
    // Sample variances 1/3 and 1/3; totals [2, 1, 0] have variance 1: alpha = 2 · (1 − 2/3) = 2/3.
    const s = itemStatistics({
      attempts: [{ fractions: { q1: 1, q2: 1 } }, { fractions: { q1: 1, q2: 0 } }, { fractions: { q1: 0, q2: 0 } }],
    });
    expect(s.attempts).toBe(3);
    expect(s.questions.q1?.n).toBe(3);
    expect(s.questions.q1?.facility).toBeCloseTo(2 / 3);
    expect(s.questions.q2?.facility).toBeCloseTo(1 / 3);
    expect(s.questions.q1?.discrimination).toBeCloseTo(0.5);
    expect(s.questions.q2?.discrimination).toBeCloseTo(0.5);
    expect(s.alpha).toBeCloseTo(2 / 3);
  });
  it('uses the total of the other items (corrected), and only attempts that drew the item', () => {
    // q3 drawn in two attempts only: its rest totals are q1+q2 there = [2, 0] against q3 = [1, 0]: r = 1.
    const s = itemStatistics({
      attempts: [{ fractions: { q1: 1, q2: 1, q3: 1 } }, { fractions: { q1: 1, q2: 0 } }, { fractions: { q1: 0, q2: 0, q3: 0 } }],
    });
    expect(s.questions.q3).toEqual({ n: 2, facility: 0.5, discrimination: 1 });
    // Alpha over q1 and q2 only (the questions every attempt answered): the same 2/3 as above.
    expect(s.alpha).toBeCloseTo(2 / 3);
  });
  it('a negatively discriminating item', () => {
    const s = itemStatistics({
      attempts: [
        { fractions: { a: 0, b: 1, c: 1 } },
        { fractions: { a: 1, b: 0, c: 0 } },
        { fractions: { a: 0, b: 1, c: 0 } },
        { fractions: { a: 1, b: 0, c: 1 } },
      ],
    });
    // a = [0,1,0,1], rest = [2,0,1,1]: mean a .5, rest 1; cov = (−.5)(1)+(.5)(−1)+(−.5)(0)+(.5)(0) = −1; sxx = 1, syy = 2 → r = −1/√2.
    expect(s.questions.a?.discrimination).toBeCloseTo(-1 / Math.sqrt(2));
  });
  it('nulls where undefined', () => {
    expect(itemStatistics({ attempts: [] })).toEqual({ questions: {}, alpha: null, attempts: 0 });
    const one = itemStatistics({ attempts: [{ fractions: { q1: 1, q2: 0 } }] });
    expect(one.questions.q1).toEqual({ n: 1, facility: 1, discrimination: null });
    expect(one.alpha).toBeNull();
    // Zero variance: everyone right.
    const flat = itemStatistics({ attempts: [{ fractions: { q1: 1, q2: 1 } }, { fractions: { q1: 1, q2: 1 } }] });
    expect(flat.questions.q1?.discrimination).toBeNull();
    expect(flat.alpha).toBeNull();
    const undrawn = itemStatistics({ attempts: [{ fractions: { q1: undefined } }] });
    expect(undrawn.questions.q1).toEqual({ n: 0, facility: null, discrimination: null });
  });
});
