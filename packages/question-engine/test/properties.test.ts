import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { questionBody, type QuestionBody } from '@lms/contracts';
import { checkBody, draw, present, rightAnswer, score } from '../src/index.js';

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const word = fc.string({ unit: fc.constantFrom(...'abcdefgh '.split('')), minLength: 1, maxLength: 8 });

/** Bodies with a usable key; secrets (feedback, patterns, values, grader info) carry the marker KEY-… */
const body: fc.Arbitrary<QuestionBody> = fc
  .oneof(
    fc.integer({ min: 2, max: 8 }).chain((n) =>
      fc.record({ type: fc.constant('single'), shuffle: fc.boolean(), right: fc.nat(n - 1) }).map(({ right, ...b }) => ({
        ...b,
        choices: ids('c', n).map((id, i) => ({ id, text: `choice ${i}`, fraction: i === right ? 1 : 0, feedback: `KEY-fb-${id}` })),
      })),
    ),
    fc.integer({ min: 2, max: 8 }).chain((n) =>
      fc
        .record({ type: fc.constant('multiple'), scoring: fc.constantFrom('partial', 'all-or-nothing'), k: fc.integer({ min: 1, max: n }) })
        .map(({ k, ...b }) => ({
          ...b,
          choices: ids('c', n).map((id, i) => ({ id, text: `choice ${i}`, fraction: i < k ? 1 / k : -0.5, feedback: `KEY-fb-${id}` })),
        })),
    ),
    fc.record({ type: fc.constant('truefalse'), answer: fc.boolean(), feedbackTrue: fc.constant('KEY-t'), feedbackFalse: fc.constant('KEY-f') }),
    fc.record({
      type: fc.constant('short'),
      caseSensitive: fc.boolean(),
      answers: fc
        .array(word, { minLength: 1, maxLength: 4 })
        .map((ws) => [...ws.map((w, i) => ({ pattern: `KEY${i}${w}*`, fraction: 0.5, feedback: `KEY-fb${i}` })), { pattern: 'KEY-right *', fraction: 1 }]),
    }),
    fc.record({
      type: fc.constant('numerical'),
      answers: fc
        .tuple(fc.integer({ min: 100000, max: 999999 }), fc.constantFrom(0, 0.5))
        .map(([v, t]) => [{ value: v + 0.125, tolerance: t, fraction: 1, feedback: 'KEY-num' }]),
      units: fc.constantFrom(
        [],
        [
          { unit: 'm', multiplier: 1 },
          { unit: 'cm', multiplier: 100 },
        ],
      ),
      unitHandling: fc.constantFrom('optional', 'required'),
    }),
    fc.record({
      type: fc.constant('calculated'),
      params: fc.constant([
        { name: 'a', min: 1, max: 9, decimals: 2 },
        { name: 'b', min: -5, max: 5, decimals: 0 },
      ]),
      formula: fc.constantFrom('a * 7919 + b', 'sqrt(a) * 7919 - b ^ 2', 'a / 7919', 'max(a, b) * 7919'),
      tolerance: fc.constantFrom(0, 0.01),
      toleranceType: fc.constantFrom('absolute', 'relative'),
      decimals: fc.integer({ min: 0, max: 4 }),
    }),
    fc.integer({ min: 2, max: 8 }).map((n) => ({
      type: 'matching',
      pairs: ids('p', n).map((id, i) => ({ id, prompt: `left ${i}`, answer: `right ${i % 3}` })),
      distractors: ['other'],
    })),
    fc
      .integer({ min: 2, max: 8 })
      .chain((n) =>
        fc
          .constantFrom('partial', 'all-or-nothing')
          .map((scoring) => ({ type: 'ordering', scoring, items: ids('i', n).map((id, i) => ({ id, text: `item ${i}` })) })),
      ),
    fc.constant({
      type: 'cloze',
      text: 'A {{g1}} b {{g2}} c {{g3}}',
      gaps: [
        {
          id: 'g1',
          weight: 2,
          body: {
            type: 'single',
            choices: [
              { id: 'x', text: 'X', fraction: 1, feedback: 'KEY-g' },
              { id: 'y', text: 'Y', fraction: 0 },
            ],
          },
        },
        { id: 'g2', body: { type: 'short', answers: [{ pattern: 'KEY-gap*', fraction: 1 }] } },
        { id: 'g3', body: { type: 'numerical', answers: [{ value: 424242, fraction: 1 }] } },
      ],
    }),
    fc.constant({ type: 'essay', graderInfo: 'KEY-grader' }),
    fc.constant({ type: 'file', graderInfo: 'KEY-grader' }),
  )
  .map((b) => questionBody.parse(b));

describe('engine properties', () => {
  it('every generated body is valid', () => {
    fc.assert(
      fc.property(body, (b) => {
        expect(() => checkBody(b)).not.toThrow();
      }),
      { numRuns: 300 },
    );
  });
  it('the right answer scores 1 for every seed (a shuffled order never changes the score)', () => {
    fc.assert(
      fc.property(body, fc.string(), fc.string(), (b, seed, other) => {
        const d = draw(b, seed);
        expect(draw(b, seed)).toEqual(d);
        const { response } = rightAnswer(b, d);
        const s = score(b, d, response);
        if (b.type === 'essay' || b.type === 'file') {
          expect(response).toBeNull();
          return;
        }
        expect(s.fraction).toBe(1);
        expect(s.answered).toBe(true);
        // The score does not depend on the order drawn (except calculated, whose params are the draw).
        if (b.type !== 'calculated') expect(score(b, draw(b, other), response).fraction).toBe(1);
      }),
      { numRuns: 500 },
    );
  });
  it('present() never shows a key: no feedback, pattern, value, formula, grader info, fraction', () => {
    fc.assert(
      fc.property(body, fc.string(), (b, seed) => {
        const d = draw(b, seed);
        const shown = JSON.stringify({ ...present('Question {a} {b}', b, d), type: undefined });
        expect(shown).not.toMatch(/KEY|fraction|feedback|7919|424242|pattern/);
        if (b.type === 'numerical') expect(shown).not.toContain(String(b.answers[0]?.value));
        if (b.type === 'truefalse') expect(shown).not.toMatch(/true|false/);
        if (b.type === 'ordering') expect(present('', b, d).items?.map((i) => i.id)).not.toEqual(b.items.map((i) => i.id));
        if (b.type === 'matching') expect(shown).not.toMatch(/"answer"/);
      }),
      { numRuns: 500 },
    );
  });
  it('score never throws on any response and stays in [0, 1] or null', () => {
    const anyResponse = fc.oneof(
      fc.constant(null),
      fc.record({ type: fc.constant('single'), choiceId: fc.option(fc.constantFrom('c0', 'c1', 'x', 'zz'), { nil: null }) }),
      fc.record({ type: fc.constant('multiple'), choiceIds: fc.array(fc.constantFrom('c0', 'c1', 'c2', 'x', 'c0')) }),
      fc.record({ type: fc.constant('truefalse'), value: fc.option(fc.boolean(), { nil: null }) }),
      fc.record({ type: fc.constantFrom('short', 'numerical', 'calculated', 'essay'), text: fc.string() }),
      fc.record({ type: fc.constant('matching'), answers: fc.dictionary(fc.constantFrom('p0', 'p1', 'q'), fc.option(fc.string(), { nil: null })) }),
      fc.record({ type: fc.constant('ordering'), order: fc.array(fc.constantFrom('i0', 'i1', 'i2', 'x')) }),
      fc.record({
        type: fc.constant('cloze'),
        gaps: fc.dictionary(
          fc.constantFrom('g1', 'g2', 'g3', 'g9'),
          fc.oneof(fc.record({ choiceId: fc.constant('x') }), fc.record({ text: fc.string() }), fc.record({ value: fc.boolean() })),
        ),
      }),
      fc.record({ type: fc.constant('file'), fileIds: fc.array(fc.uuid(), { maxLength: 2 }) }),
    );
    fc.assert(
      fc.property(body, fc.string(), anyResponse, (b, seed, r) => {
        const s = score(b, draw(b, seed), r);
        if (s.fraction !== null) {
          expect(s.fraction).toBeGreaterThanOrEqual(0);
          expect(s.fraction).toBeLessThanOrEqual(1);
        }
        if (r === null) expect(s.answered).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });
});
