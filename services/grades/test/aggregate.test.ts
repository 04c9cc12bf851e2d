import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { courseResult, defaultSettings, letterOf, type AggCategory, type AggGrade, type AggItem, type AggSettings } from '../src/aggregate.js';

const item = (id: string, maxPoints: number, o: Partial<AggItem> = {}): AggItem => ({
  id,
  categoryId: null,
  maxPoints,
  extraCredit: false,
  excluded: false,
  ...o,
});
const cat = (id: string, weight: number, o: Partial<AggCategory> = {}): AggCategory => ({ id, weight, dropLowest: 0, aggregation: 'natural', ...o });
const grades = (entries: Record<string, number | null | [number | null, number | null]>) =>
  new Map<string, AggGrade>(Object.entries(entries).map(([k, v]) => [k, Array.isArray(v) ? { points: v[0], override: v[1] } : { points: v, override: null }]));
const natural: AggSettings = defaultSettings;
const weighted: AggSettings = { ...defaultSettings, aggregation: 'weighted' };

describe('natural (sum of points over sum of maximum points)', () => {
  it('sums points and maxima', () => {
    const r = courseResult([item('a', 10), item('b', 30)], [], grades({ a: 5, b: 30 }), natural);
    expect(r.percent).toBeCloseTo(87.5);
    expect(r.letter).toBe('B');
  });
  it('ignores a missing grade (not zero) unless treat-missing-as-zero', () => {
    const items = [item('a', 10), item('b', 30)];
    expect(courseResult(items, [], grades({ a: 5 }), natural).percent).toBeCloseTo(50);
    expect(courseResult(items, [], grades({ a: 5, b: null }), natural).percent).toBeCloseTo(50);
    expect(courseResult(items, [], grades({ a: 5 }), { ...natural, treatMissingAsZero: true }).percent).toBeCloseTo(12.5);
  });
  it('has no percent and no letter without any grade', () => {
    expect(courseResult([item('a', 10)], [], grades({}), natural)).toMatchObject({ percent: null, letter: null });
  });
  it('leaves excluded items out', () => {
    expect(courseResult([item('a', 10), item('b', 10, { excluded: true })], [], grades({ a: 10, b: 0 }), natural).percent).toBeCloseTo(100);
  });
  it('adds extra credit points without adding to the maximum', () => {
    const r = courseResult([item('a', 10), item('x', 5, { extraCredit: true })], [], grades({ a: 8, x: 3 }), natural);
    expect(r.percent).toBeCloseTo(110);
    // Extra credit alone gives no percent; missing extra credit is never a zero.
    expect(courseResult([item('x', 5, { extraCredit: true })], [], grades({ x: 3 }), natural).percent).toBeNull();
    expect(
      courseResult([item('a', 10), item('x', 5, { extraCredit: true })], [], grades({ a: 5 }), { ...natural, treatMissingAsZero: true }).percent,
    ).toBeCloseTo(50);
  });
  it('uses an item override instead of the grade, and a total override instead of the computed percent', () => {
    const items = [item('a', 10), item('b', 10)];
    expect(courseResult(items, [], grades({ a: [2, 10], b: 10 }), natural).percent).toBeCloseTo(100);
    expect(courseResult(items, [], grades({ a: [null, 5] }), natural).percent).toBeCloseTo(50);
    const o = courseResult(items, [], grades({ a: 10, b: 10 }), natural, 55);
    expect(o).toMatchObject({ percent: 55, letter: 'F' });
    expect(o.computedPercent).toBeCloseTo(100);
  });
  it('drops the lowest n of a category, always keeping one', () => {
    const c = cat('c', 1, { dropLowest: 1 });
    const items = [item('a', 10, { categoryId: 'c' }), item('b', 10, { categoryId: 'c' }), item('d', 10, { categoryId: 'c' })];
    const r = courseResult(items, [c], grades({ a: 2, b: 8, d: 10 }), natural);
    expect(r.percent).toBeCloseTo(90);
    expect(r.categories[0]).toMatchObject({ categoryId: 'c', dropped: ['a'] });
    const all = courseResult(items, [cat('c', 1, { dropLowest: 9 })], grades({ a: 2, b: 8, d: 10 }), natural);
    expect(all.percent).toBeCloseTo(100);
    expect(courseResult(items, [c], grades({ a: 2 }), natural).percent).toBeCloseTo(20);
  });
});

describe('weighted mean of categories', () => {
  const cats = [cat('hw', 40), cat('exam', 60, { aggregation: 'mean' })];
  const items = [
    item('h1', 10, { categoryId: 'hw' }),
    item('h2', 30, { categoryId: 'hw' }),
    item('e1', 100, { categoryId: 'exam' }),
    item('e2', 50, { categoryId: 'exam' }),
  ];
  it('weights category percents and normalises over the categories with grades', () => {
    // hw natural: (10+15)/40 = 62.5; exam mean: (80% + 100%)/2 = 90
    const r = courseResult(items, cats, grades({ h1: 10, h2: 15, e1: 80, e2: 50 }), weighted);
    expect(r.percent).toBeCloseTo(62.5 * 0.4 + 90 * 0.6);
    expect(r.categories.map((c) => c.percent)).toEqual([62.5, 90]);
    // Only homework graded: the total is the homework percent, not 40 % of it.
    expect(courseResult(items, cats, grades({ h1: 10, h2: 15 }), weighted).percent).toBeCloseTo(62.5);
  });
  it('ignores uncategorised items at the default weight 0, counts them with a weight', () => {
    const more = [...items, item('u', 10)];
    expect(courseResult(more, cats, grades({ h1: 10, h2: 30, u: 0 }), weighted).percent).toBeCloseTo(100);
    expect(courseResult(more, cats, grades({ h1: 10, h2: 30, u: 0 }), { ...weighted, uncategorisedWeight: 40 }).percent).toBeCloseTo(50);
  });
  it('adds extra credit to its category percent', () => {
    const ec = [...items, item('bonus', 5, { categoryId: 'exam', extraCredit: true })];
    // exam mean 90 + 5/150*100
    expect(courseResult(ec, [cat('exam', 1, { aggregation: 'mean' })], grades({ e1: 80, e2: 50, bonus: 5 }), weighted).percent).toBeCloseTo(
      90 + (5 / 150) * 100,
    );
  });
});

describe('letters', () => {
  it('uses ordered thresholds, highest first, default A ≥ 90 … F', () => {
    expect([95, 90, 89.99, 80, 79.5, 70, 60, 59.99, 0].map((p) => letterOf(p))).toEqual(['A', 'A', 'B', 'B', 'C', 'C', 'D', 'F', 'F']);
    expect(letterOf(89.999_999_9)).toBe('A'); // float noise of 90
    expect(letterOf(null)).toBeNull();
    expect(
      letterOf(75, [
        { letter: 'Pass', min: 50 },
        { letter: 'Distinction', min: 70 },
      ]),
    ).toBe('Distinction');
    expect(letterOf(10, [{ letter: 'Pass', min: 50 }])).toBeNull();
  });
});

// ---------------------------------------------------------------- properties

const arbItems = fc.uniqueArray(
  fc.record({
    id: fc.uuid(),
    maxPoints: fc.integer({ min: 1, max: 100 }),
    cat: fc.integer({ min: 0, max: 3 }),
    frac: fc.option(fc.double({ min: 0, max: 1, noNaN: true })),
  }),
  { selector: (i) => i.id, minLength: 1, maxLength: 12 },
);
const arbCats = fc.array(fc.record({ weight: fc.integer({ min: 0, max: 10 }), dropLowest: fc.integer({ min: 0, max: 3 }), mean: fc.boolean() }), {
  minLength: 3,
  maxLength: 3,
});
const build = (
  raw: Array<{ id: string; maxPoints: number; cat: number; frac: number | null }>,
  rawCats: Array<{ weight: number; dropLowest: number; mean: boolean }>,
) => {
  const categories = rawCats.map((c, i) => cat(`c${i}`, c.weight, { dropLowest: c.dropLowest, aggregation: c.mean ? 'mean' : 'natural' }));
  const items = raw.map((r) => item(r.id, r.maxPoints, { categoryId: r.cat < 3 ? `c${r.cat}` : null }));
  const g = new Map<string, AggGrade>(raw.map((r) => [r.id, { points: r.frac === null ? null : r.frac * r.maxPoints, override: null }]));
  return { categories, items, g };
};

describe('properties', () => {
  it('a total without extra credit or overrides lies within 0–100', () => {
    fc.assert(
      fc.property(arbItems, arbCats, fc.boolean(), fc.boolean(), (raw, rawCats, w, zero) => {
        const { categories, items, g } = build(raw, rawCats);
        const p = courseResult(items, categories, g, {
          ...defaultSettings,
          aggregation: w ? 'weighted' : 'natural',
          treatMissingAsZero: zero,
          uncategorisedWeight: 1,
        }).percent;
        if (p === null) return;
        expect(p).toBeGreaterThanOrEqual(-1e-9);
        expect(p).toBeLessThanOrEqual(100 + 1e-9);
      }),
    );
  });
  it('does not depend on the order of items or categories', () => {
    fc.assert(
      fc.property(arbItems, arbCats, fc.boolean(), (raw, rawCats, w) => {
        const { categories, items, g } = build(raw, rawCats);
        const s = { ...defaultSettings, aggregation: w ? ('weighted' as const) : ('natural' as const), uncategorisedWeight: 2 };
        const a = courseResult(items, categories, g, s).percent;
        const b = courseResult([...items].reverse(), [...categories].reverse(), g, s).percent;
        if (a === null) expect(b).toBeNull();
        else expect(b).toBeCloseTo(a, 9);
      }),
    );
  });
  it('an empty grade counts as if the item were not graded at all, and an excluded item as if absent', () => {
    fc.assert(
      fc.property(arbItems, arbCats, fc.boolean(), (raw, rawCats, w) => {
        const { categories, items, g } = build(raw, rawCats);
        const s = { ...defaultSettings, aggregation: w ? ('weighted' as const) : ('natural' as const), uncategorisedWeight: 1 };
        const withoutEmpty = new Map([...g].filter(([, v]) => v.points !== null));
        const a = courseResult(items, categories, g, s).percent;
        expect(courseResult(items, categories, withoutEmpty, s).percent).toBe(a);
        const first = items[0];
        if (!first) return;
        const excluded = courseResult([{ ...first, excluded: true }, ...items.slice(1)], categories, g, s).percent;
        expect(excluded).toBe(courseResult(items.slice(1), categories, g, s).percent);
      }),
    );
  });
  it('natural without drops equals the sum of points over the sum of maxima; raising a grade never lowers it', () => {
    fc.assert(
      fc.property(arbItems, (raw) => {
        const { items, g } = build(raw, []);
        const graded = raw.filter((r) => r.frac !== null);
        const p = courseResult(items, [], g, defaultSettings).percent;
        if (graded.length === 0) {
          expect(p).toBeNull();
          return;
        }
        const expected = (graded.reduce((s, r) => s + (r.frac ?? 0) * r.maxPoints, 0) / graded.reduce((s, r) => s + r.maxPoints, 0)) * 100;
        expect(p).toBeCloseTo(expected, 9);
        const up = new Map(g);
        const r0 = graded[0];
        if (r0) up.set(r0.id, { points: r0.maxPoints, override: null });
        expect(courseResult(items, [], up, defaultSettings).percent ?? 0).toBeGreaterThanOrEqual((p ?? 0) - 1e-9);
      }),
    );
  });
  it('the letter is monotone in the percent', () => {
    const rank = (l: string | null) => ['F', 'D', 'C', 'B', 'A'].indexOf(l ?? 'F');
    fc.assert(
      fc.property(fc.double({ min: 0, max: 120, noNaN: true }), fc.double({ min: 0, max: 120, noNaN: true }), (a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        expect(rank(letterOf(lo))).toBeLessThanOrEqual(rank(letterOf(hi)));
      }),
    );
  });
});
