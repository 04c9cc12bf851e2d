import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DomainError } from '@lms/contracts';
import { evaluateFormulaText as ev, FORMULA_LIMITS, formulaNames, parseFormula } from '../src/index.js';

const code = (f: () => unknown): string | null => {
  try {
    f();
    return null;
  } catch (e) {
    return e instanceof DomainError ? e.code : `not a DomainError: ${String(e)}`;
  }
};

describe('formula', () => {
  it('numbers, precedence, associativity, unary minus', () => {
    expect(ev('1 + 2 * 3', {})).toBe(7);
    expect(ev('(1 + 2) * 3', {})).toBe(9);
    expect(ev('2 ^ 3 ^ 2', {})).toBe(512);
    expect(ev('-2 ^ 2', {})).toBe(-4);
    expect(ev('2 ^ -1', {})).toBe(0.5);
    expect(ev('--3', {})).toBe(3);
    expect(ev('10 / 4 / 5', {})).toBe(0.5);
    expect(ev('10 - 4 - 5', {})).toBe(1);
    expect(ev('1e-3 * 2E2 + .5', {})).toBeCloseTo(0.7);
    expect(ev('+4', {})).toBe(4);
  });
  it('params, constants and functions', () => {
    expect(ev('a * b', { a: 3, b: 4 })).toBe(12);
    expect(ev('pi', {})).toBe(Math.PI);
    expect(ev('e', {})).toBe(Math.E);
    expect(ev('pi()', {})).toBe(Math.PI);
    expect(ev('e', { e: 2 })).toBe(2);
    expect(ev('sqrt(16) + abs(-2) + log(1000) + ln(e) + exp(0)', {})).toBe(11);
    expect(ev('sin(0) + cos(0) + tan(0) + asin(0) + acos(1) + atan(0)', {})).toBe(1);
    expect(ev('min(3, 1, 2) + max(3, 1, 2)', {})).toBe(4);
    expect(ev('round(2.567, 2) + round(2.5) + floor(1.9) + ceil(1.1)', {})).toBeCloseTo(2.57 + 3 + 1 + 2);
    expect(ev('pow(2, 10)', {})).toBe(1024);
    expect(formulaNames(parseFormula('a * sin(b) + pi + a'))).toEqual(['a', 'b', 'pi']);
  });
  it('errors are DomainError FORMULA_INVALID', () => {
    for (const bad of [
      '',
      '  ',
      '1 +',
      '(1',
      '1)',
      '2 3',
      'a b',
      '1 ** 2',
      'foo(1)',
      'sqrt()',
      'sqrt(1, 2)',
      'pow(1)',
      '1 $ 2',
      'x',
      '1/0',
      'sqrt(-1)',
      'ln(0)',
      '10^400',
      'constructor',
      'toString(1)',
      '__proto__',
    ]) {
      expect(
        code(() => ev(bad, {})),
        bad,
      ).toBe('FORMULA_INVALID');
    }
    expect(code(() => parseFormula('1+'.repeat(FORMULA_LIMITS.nodes) + '1'))).toBe('FORMULA_INVALID');
    expect(code(() => parseFormula('('.repeat(100) + '1' + ')'.repeat(100)))).toBe('FORMULA_INVALID');
    expect(code(() => parseFormula('-'.repeat(100) + '1'))).toBe('FORMULA_INVALID');
    expect(code(() => parseFormula('1'.repeat(FORMULA_LIMITS.length + 1)))).toBe('FORMULA_INVALID');
  });
  it('never throws anything but DomainError on random text (property)', () => {
    const alphabet = fc.constantFrom(...'0123456789.eE+-*/^(), abpisqrtminaxlog'.split(''), 'sqrt(', 'pi', 'max(', '1e', '^-');
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 60 }), fc.string({ unit: alphabet, maxLength: 60 })), (s) => {
        const c = code(() => ev(s, { a: 1.5, b: -2 }));
        expect(c === null || c === 'FORMULA_INVALID').toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
