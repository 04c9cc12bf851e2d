import { describe, expect, it } from 'vitest';
import { DomainError, questionBody, type QuestionBody } from '@lms/contracts';
import { checkBody, draw, present, rightAnswer, score } from '../src/index.js';

/** Bodies as authors write them (zod fills the defaults). */
const body = (b: unknown): QuestionBody => questionBody.parse(b);

export const samples: Record<string, QuestionBody> = {
  single: body({
    type: 'single',
    choices: [
      { id: 'a', text: 'Paris', fraction: 1, feedback: 'FB-right' },
      { id: 'b', text: 'Lyon', fraction: 0, feedback: 'FB-wrong' },
      { id: 'c', text: 'Nice', fraction: -0.5 },
    ],
  }),
  multiple: body({
    type: 'multiple',
    choices: [
      { id: 'a', text: 'two', fraction: 0.5 },
      { id: 'b', text: 'three', fraction: 0.5 },
      { id: 'c', text: 'four', fraction: -1 },
      { id: 'd', text: 'nine', fraction: 0 },
    ],
  }),
  truefalse: body({ type: 'truefalse', answer: false, feedbackTrue: 'FB-no', feedbackFalse: 'FB-yes' }),
  short: body({
    type: 'short',
    answers: [
      { pattern: 'Ada Lovelace', fraction: 1 },
      { pattern: '*Lovelace*', fraction: 0.5, feedback: 'FB-full-name' },
      { pattern: 'a.b (c)?', fraction: 0.25 },
    ],
  }),
  numerical: body({
    type: 'numerical',
    answers: [
      { value: 9.81, tolerance: 0.01, fraction: 1 },
      { value: 10, tolerance: 0.5, fraction: 0.5 },
    ],
    units: [
      { unit: 'm/s^2', multiplier: 1 },
      { unit: 'cm/s^2', multiplier: 100 },
    ],
    unitHandling: 'required',
  }),
  calculated: body({
    type: 'calculated',
    params: [
      { name: 'a', min: 1, max: 10, decimals: 1 },
      { name: 'b', min: 2, max: 5 },
    ],
    formula: 'a * b + sqrt(b)',
    decimals: 3,
  }),
  matching: body({
    type: 'matching',
    pairs: [
      { id: 'p1', prompt: 'France', answer: 'Paris' },
      { id: 'p2', prompt: 'Italy', answer: 'Rome' },
      { id: 'p3', prompt: 'Spain', answer: 'Madrid' },
    ],
    distractors: ['Berlin'],
  }),
  ordering: body({
    type: 'ordering',
    items: [
      { id: 'i1', text: 'one' },
      { id: 'i2', text: 'two' },
      { id: 'i3', text: 'three' },
      { id: 'i4', text: 'four' },
    ],
  }),
  cloze: body({
    type: 'cloze',
    text: 'The capital of France is {{g1}} and 2+2 = {{g2}}.',
    gaps: [
      {
        id: 'g1',
        weight: 2,
        body: {
          type: 'single',
          choices: [
            { id: 'x', text: 'Paris', fraction: 1 },
            { id: 'y', text: 'Rome', fraction: 0 },
          ],
        },
      },
      { id: 'g2', body: { type: 'numerical', answers: [{ value: 4, fraction: 1 }] } },
    ],
  }),
  essay: body({ type: 'essay', minWords: 10, maxWords: 200, graderInfo: 'GRADER-ONLY' }),
  file: body({ type: 'file', maxFiles: 2, accept: ['application/pdf'] }),
};

describe('draw', () => {
  it('is deterministic per seed and differs across seeds', () => {
    for (const b of Object.values(samples)) expect(draw(b, 'seed-1')).toEqual(draw(b, 'seed-1'));
    const orders = new Set(Array.from({ length: 20 }, (_, i) => draw(samples.ordering as QuestionBody, `s${i}`).order.join()));
    expect(orders.size).toBeGreaterThan(3);
  });
  it('never shows an ordering question in its correct order', () => {
    const b = body({
      type: 'ordering',
      items: [
        { id: 'a', text: 'A' },
        { id: 'b', text: 'B' },
      ],
    });
    for (let i = 0; i < 50; i++) expect(draw(b, `s${i}`).order).toEqual(['b', 'a']);
  });
  it('draws calculated params on their grid inside [min, max]', () => {
    for (let i = 0; i < 200; i++) {
      const { params } = draw(samples.calculated as QuestionBody, `s${i}`);
      expect(params.a).toBeGreaterThanOrEqual(1);
      expect(params.a).toBeLessThanOrEqual(10);
      expect(Math.round((params.a ?? 0) * 10) / 10).toBe(params.a);
      expect(Number.isInteger(params.b)).toBe(true);
    }
  });
  it('keeps the body order when shuffle is off', () => {
    const b = body({
      type: 'single',
      shuffle: false,
      choices: [
        { id: 'a', text: 'A', fraction: 1 },
        { id: 'b', text: 'B', fraction: 0 },
        { id: 'c', text: 'C', fraction: 0 },
      ],
    });
    expect(draw(b, 'x').order).toEqual(['a', 'b', 'c']);
  });
  it('draws cloze gaps recursively', () => {
    const d = draw(samples.cloze as QuestionBody, 'x');
    expect(Object.keys(d.gaps ?? {})).toEqual(['g1', 'g2']);
    expect([...(d.gaps?.g1?.order ?? [])].sort()).toEqual(['x', 'y']);
  });
});

describe('present', () => {
  it('substitutes calculated params and hides keys', () => {
    const b = samples.calculated as QuestionBody;
    const d = draw(b, 'x');
    const p = present('What is {a} times {b} plus the root of {b}? {c} stays.', b, d);
    expect(p.prompt).toBe(`What is ${d.params.a?.toFixed(1)} times ${d.params.b} plus the root of ${d.params.b}? {c} stays.`);
    expect(JSON.stringify(p)).not.toContain('sqrt');
  });
  it('shows choices in drawn order, without fractions or feedback', () => {
    const b = samples.single as QuestionBody;
    const d = draw(b, 'y');
    const p = present('Capital?', b, d);
    expect(p.choices?.map((c) => c.id)).toEqual(d.order);
    expect(JSON.stringify(p)).not.toMatch(/fraction|FB-/);
  });
  it('matching: left side in body order, answers drawn with distractors', () => {
    const p = present('Match', samples.matching as QuestionBody, draw(samples.matching as QuestionBody, 'z'));
    expect(p.pairs?.map((x) => x.id)).toEqual(['p1', 'p2', 'p3']);
    expect([...(p.answers ?? [])].sort()).toEqual(['Berlin', 'Madrid', 'Paris', 'Rome']);
  });
  it('cloze: text and gaps, choices only for choice gaps', () => {
    const p = present('', samples.cloze as QuestionBody, draw(samples.cloze as QuestionBody, 'z'));
    expect(p.text).toContain('{{g1}}');
    expect(p.gaps?.[0]?.choices?.length).toBe(2);
    expect(p.gaps?.[1]).toEqual({ id: 'g2', type: 'numerical' });
  });
  it('essay and file limits; no grader info', () => {
    const e = present('Write', samples.essay as QuestionBody, draw(samples.essay as QuestionBody, 'z'));
    expect(e).toEqual({ type: 'essay', prompt: 'Write', minWords: 10, maxWords: 200 });
    expect(present('Up', samples.file as QuestionBody, draw(samples.file as QuestionBody, 'z'))).toEqual({
      type: 'file',
      prompt: 'Up',
      maxFiles: 2,
      accept: ['application/pdf'],
    });
  });
});

describe('score', () => {
  const d0 = { params: {}, order: [] };
  it('single: the choice fraction, floored at 0, with its feedback', () => {
    const b = samples.single as QuestionBody;
    expect(score(b, d0, { type: 'single', choiceId: 'a' })).toEqual({ fraction: 1, answered: true, feedback: ['FB-right'] });
    expect(score(b, d0, { type: 'single', choiceId: 'c' }).fraction).toBe(0);
    expect(score(b, d0, { type: 'single', choiceId: 'nope' })).toEqual({ fraction: 0, answered: true, feedback: [] });
    expect(score(b, d0, { type: 'single', choiceId: null }).answered).toBe(false);
    expect(score(b, d0, null)).toEqual({ fraction: 0, answered: false, feedback: [] });
    expect(score(b, d0, { type: 'short', text: 'a' }).fraction).toBe(0);
  });
  it('multiple: partial sums clamped; all-or-nothing', () => {
    const b = samples.multiple as QuestionBody;
    expect(score(b, d0, { type: 'multiple', choiceIds: ['a'] }).fraction).toBe(0.5);
    expect(score(b, d0, { type: 'multiple', choiceIds: ['a', 'b'] }).fraction).toBe(1);
    expect(score(b, d0, { type: 'multiple', choiceIds: ['a', 'b', 'd'] }).fraction).toBe(1);
    expect(score(b, d0, { type: 'multiple', choiceIds: ['a', 'c'] }).fraction).toBe(0);
    expect(score(b, d0, { type: 'multiple', choiceIds: ['a', 'a', 'zz'] }).fraction).toBe(0.5);
    expect(score(b, d0, { type: 'multiple', choiceIds: [] }).answered).toBe(false);
    const aon = body({ ...b, scoring: 'all-or-nothing' });
    expect(score(aon, d0, { type: 'multiple', choiceIds: ['a'] }).fraction).toBe(0);
    expect(score(aon, d0, { type: 'multiple', choiceIds: ['b', 'a'] }).fraction).toBe(1);
    expect(score(aon, d0, { type: 'multiple', choiceIds: ['b', 'a', 'd'] }).fraction).toBe(0);
  });
  it('truefalse with feedback of the given answer', () => {
    const b = samples.truefalse as QuestionBody;
    expect(score(b, d0, { type: 'truefalse', value: false })).toEqual({ fraction: 1, answered: true, feedback: ['FB-yes'] });
    expect(score(b, d0, { type: 'truefalse', value: true })).toEqual({ fraction: 0, answered: true, feedback: ['FB-no'] });
    expect(score(b, d0, { type: 'truefalse', value: null }).answered).toBe(false);
  });
  it('short: wildcards, case, whitespace, first pattern wins, regex specials literal', () => {
    const b = samples.short as QuestionBody;
    expect(score(b, d0, { type: 'short', text: '  ada   LOVELACE ' }).fraction).toBe(1);
    expect(score(b, d0, { type: 'short', text: 'Countess Lovelace' })).toEqual({ fraction: 0.5, answered: true, feedback: ['FB-full-name'] });
    expect(score(b, d0, { type: 'short', text: 'a.b (c)?' }).fraction).toBe(0.25);
    expect(score(b, d0, { type: 'short', text: 'axb (c)?' }).fraction).toBe(0);
    expect(score(b, d0, { type: 'short', text: 'a.b c' }).fraction).toBe(0);
    expect(score(b, d0, { type: 'short', text: '   ' }).answered).toBe(false);
    const cs = body({ type: 'short', caseSensitive: true, answers: [{ pattern: 'NaCl', fraction: 1 }] });
    expect(score(cs, d0, { type: 'short', text: 'nacl' }).fraction).toBe(0);
    expect(score(cs, d0, { type: 'short', text: 'NaCl' }).fraction).toBe(1);
  });
  it('short: no catastrophic backtracking on many wildcards', () => {
    const b = body({ type: 'short', answers: [{ pattern: '*a'.repeat(200) + 'b', fraction: 1 }] });
    const t0 = performance.now();
    expect(score(b, d0, { type: 'short', text: 'a'.repeat(1000) }).fraction).toBe(0);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
  it('numerical: units converted, required unit, tolerance, first matching answer', () => {
    const b = samples.numerical as QuestionBody;
    expect(score(b, d0, { type: 'numerical', text: '9.815 m/s^2' }).fraction).toBe(1);
    expect(score(b, d0, { type: 'numerical', text: '981 cm/s^2' }).fraction).toBe(1);
    expect(score(b, d0, { type: 'numerical', text: '9,81m/s^2' }).fraction).toBe(1);
    expect(score(b, d0, { type: 'numerical', text: '9.81' }).fraction).toBe(0);
    expect(score(b, d0, { type: 'numerical', text: '9.81 km' }).fraction).toBe(0);
    expect(score(b, d0, { type: 'numerical', text: '10.2 m/s^2' }).fraction).toBe(0.5);
    expect(score(b, d0, { type: 'numerical', text: 'ten' })).toEqual({ fraction: 0, answered: true, feedback: [] });
    const opt = body({ type: 'numerical', answers: [{ value: 3.14, tolerance: 0.01, fraction: 1 }] });
    expect(score(opt, d0, { type: 'numerical', text: '3.141' }).fraction).toBe(1);
    expect(score(opt, d0, { type: 'numerical', text: '314e-2' }).fraction).toBe(1);
  });
  it('calculated: formula with drawn params, relative and absolute tolerance', () => {
    const b = samples.calculated as QuestionBody;
    const d = { params: { a: 2, b: 4 }, order: [] };
    expect(score(b, d, { type: 'calculated', text: '10' }).fraction).toBe(1);
    expect(score(b, d, { type: 'calculated', text: '10.09' }).fraction).toBe(1);
    expect(score(b, d, { type: 'calculated', text: '10.2' }).fraction).toBe(0);
    const abs = body({ ...b, tolerance: 0.5, toleranceType: 'absolute' });
    expect(score(abs, d, { type: 'calculated', text: '10.4' }).fraction).toBe(1);
    expect(score(abs, d, { type: 'calculated', text: '10.6' }).fraction).toBe(0);
  });
  it('matching: share of pairs right', () => {
    const b = samples.matching as QuestionBody;
    expect(score(b, d0, { type: 'matching', answers: { p1: 'Paris', p2: 'Madrid', p3: null, zz: 'Rome' } }).fraction).toBeCloseTo(1 / 3);
    expect(score(b, d0, { type: 'matching', answers: {} }).answered).toBe(false);
  });
  it('ordering: partial share in position, all-or-nothing', () => {
    const b = samples.ordering as QuestionBody;
    expect(score(b, d0, { type: 'ordering', order: ['i1', 'i2', 'i4', 'i3'] }).fraction).toBe(0.5);
    const aon = body({ ...b, scoring: 'all-or-nothing' });
    expect(score(aon, d0, { type: 'ordering', order: ['i1', 'i2', 'i4', 'i3'] }).fraction).toBe(0);
    expect(score(aon, d0, { type: 'ordering', order: ['i1', 'i2', 'i3', 'i4'] }).fraction).toBe(1);
  });
  it('cloze: weighted mean of the gaps', () => {
    const b = samples.cloze as QuestionBody;
    const d = draw(b, 'x');
    expect(score(b, d, { type: 'cloze', gaps: { g1: { choiceId: 'x' }, g2: { text: '5' } } }).fraction).toBeCloseTo(2 / 3);
    expect(score(b, d, { type: 'cloze', gaps: { g1: { choiceId: 'y' }, g2: { text: '4' } } }).fraction).toBeCloseTo(1 / 3);
    expect(score(b, d, { type: 'cloze', gaps: { g1: { text: 'x' }, g2: { choiceId: 'x' } } })).toEqual({ fraction: 0, answered: false, feedback: [] });
  });
  it('essay/file: manual (null) when answered', () => {
    expect(score(samples.essay as QuestionBody, d0, { type: 'essay', text: 'words' })).toEqual({ fraction: null, answered: true, feedback: [] });
    expect(score(samples.essay as QuestionBody, d0, { type: 'essay', text: ' ' }).answered).toBe(false);
    expect(score(samples.file as QuestionBody, d0, { type: 'file', fileIds: ['6c1f3d2e-0000-4000-8000-000000000000'] }).fraction).toBeNull();
  });
});

describe('rightAnswer', () => {
  it('scores full credit for every auto-scored sample and draw', () => {
    for (const [type, b] of Object.entries(samples)) {
      if (type === 'essay' || type === 'file') continue;
      for (let i = 0; i < 10; i++) {
        const d = draw(b, `s${i}`);
        const ra = rightAnswer(b, d);
        expect(score(b, d, ra.response).fraction, type).toBe(1);
        expect(ra.text.length, type).toBeGreaterThan(0);
      }
    }
  });
  it('calculated text uses the decimals', () => {
    expect(rightAnswer(samples.calculated as QuestionBody, { params: { a: 1, b: 2 }, order: [] }).text).toBe('3.414');
  });
});

describe('checkBody', () => {
  const code = (b: unknown): string | null => {
    try {
      checkBody(body(b));
      return null;
    } catch (e) {
      return e instanceof DomainError ? e.code : 'OTHER';
    }
  };
  it('accepts the samples', () => {
    for (const b of Object.values(samples)) expect(() => checkBody(b)).not.toThrow();
  });
  it('rejects bodies without a right answer or with duplicate ids', () => {
    expect(
      code({
        type: 'single',
        choices: [
          { id: 'a', text: 'A', fraction: 0.5 },
          { id: 'b', text: 'B', fraction: 0 },
        ],
      }),
    ).toBe('VALIDATION_FAILED');
    expect(
      code({
        type: 'multiple',
        choices: [
          { id: 'a', text: 'A', fraction: 0.5 },
          { id: 'b', text: 'B', fraction: 0.4 },
        ],
      }),
    ).toBe('VALIDATION_FAILED');
    expect(code({ type: 'multiple', choices: [1, 2, 3].map((i) => ({ id: `c${i}`, text: `${i}`, fraction: 0.3333 })) })).toBeNull();
    expect(code({ type: 'numerical', answers: [{ value: 1, fraction: 0.5 }] })).toBe('VALIDATION_FAILED');
    expect(
      code({
        type: 'ordering',
        items: [
          { id: 'a', text: 'A' },
          { id: 'a', text: 'B' },
        ],
      }),
    ).toBe('VALIDATION_FAILED');
    expect(
      code({
        type: 'matching',
        pairs: [
          { id: 'a', prompt: 'A', answer: 'x' },
          { id: 'a', prompt: 'B', answer: 'y' },
        ],
      }),
    ).toBe('VALIDATION_FAILED');
  });
  it('rejects cloze gaps missing from the text and markers without a gap', () => {
    const gap = { type: 'truefalse', answer: true };
    expect(
      code({
        type: 'cloze',
        text: 'x {{g1}}',
        gaps: [
          { id: 'g1', body: gap },
          { id: 'g2', body: gap },
        ],
      }),
    ).toBe('VALIDATION_FAILED');
    expect(code({ type: 'cloze', text: 'x {{g1}} {{g3}}', gaps: [{ id: 'g1', body: gap }] })).toBe('VALIDATION_FAILED');
    expect(
      code({
        type: 'cloze',
        text: 'x {{g1}}',
        gaps: [
          {
            id: 'g1',
            body: {
              type: 'single',
              choices: [
                { id: 'a', text: 'A', fraction: 0 },
                { id: 'b', text: 'B', fraction: 0 },
              ],
            },
          },
        ],
      }),
    ).toBe('VALIDATION_FAILED');
  });
  it('rejects bad formulas, undeclared params, non-finite values', () => {
    const calc = (formula: string, params: unknown[] = [{ name: 'a', min: 1, max: 2 }]) => code({ type: 'calculated', params, formula });
    expect(calc('a * 2')).toBeNull();
    expect(calc('a * ')).toBe('FORMULA_INVALID');
    expect(calc('a * b')).toBe('FORMULA_INVALID');
    expect(calc('1 / (a - 1)')).toBe('FORMULA_INVALID');
    expect(calc('sqrt(a - 2)', [{ name: 'a', min: 0, max: 2 }])).toBe('FORMULA_INVALID');
    expect(calc('a', [{ name: 'a', min: 3, max: 2 }])).toBe('FORMULA_INVALID');
    expect(calc('constructor(a)')).toBe('FORMULA_INVALID');
  });
});
