import { randomUUID } from 'node:crypto';
import type { Rubric } from '@lms/contracts';
import { describe, expect, it } from 'vitest';
import {
  checkComments,
  finalPoints,
  lateSeconds,
  movesForward,
  penaltyPercent,
  percentOf,
  roundPoints,
  rubricMaxPoints,
  rubricPoints,
} from '../src/marking.js';

const level = (points: number) => ({ id: randomUUID(), title: `${points}`, description: '', points });
const rubric: Rubric = {
  criteria: [
    { id: randomUUID(), title: 'Argument', description: '', levels: [level(0), level(5), level(10)] },
    // Levels in any order: the top level is the highest, not the last.
    { id: randomUUID(), title: 'Style', description: '', levels: [level(4), level(1.5), level(0)] },
  ],
};
const [argument, style] = rubric.criteria as [Rubric['criteria'][number], Rubric['criteria'][number]];
const pick = (c: Rubric['criteria'][number], i: number) => ({ criterionId: c.id, levelId: (c.levels[i] as { id: string }).id });

describe('rubric arithmetic', () => {
  it("takes the maximum as the sum of each criterion's top level", () => {
    expect(rubricMaxPoints(rubric)).toBe(14);
  });
  it('sums the chosen levels', () => {
    expect(rubricPoints(rubric, [pick(argument, 1), pick(style, 1)])).toBe(6.5);
    expect(rubricPoints(rubric, [pick(style, 0), pick(argument, 2)])).toBe(14);
  });
  it('refuses a missing, repeated or unknown criterion, and a level of another criterion', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return (err as { code: string }).code;
      }
      return 'ok';
    };
    expect(code(() => rubricPoints(rubric, [pick(argument, 1)]))).toBe('VALIDATION_FAILED');
    expect(code(() => rubricPoints(rubric, [pick(argument, 1), pick(argument, 2), pick(style, 0)]))).toBe('VALIDATION_FAILED');
    expect(code(() => rubricPoints(rubric, [pick(argument, 1), pick(style, 0), { criterionId: randomUUID(), levelId: randomUUID() }]))).toBe(
      'VALIDATION_FAILED',
    );
    expect(code(() => rubricPoints(rubric, [{ criterionId: argument.id, levelId: pick(style, 0).levelId }, pick(style, 0)]))).toBe('VALIDATION_FAILED');
  });
});

describe('late penalty', () => {
  const due = new Date('2026-12-01T12:00:00Z');
  it('measures lateness from the due date, none without one or when on time', () => {
    expect(lateSeconds(new Date('2026-12-01T11:59:59Z'), due)).toBe(0);
    expect(lateSeconds(new Date('2026-12-01T12:00:00Z'), due)).toBe(0);
    expect(lateSeconds(new Date('2026-12-01T12:00:00.001Z'), due)).toBe(1);
    expect(lateSeconds(new Date('2026-12-03T12:00:00Z'), null)).toBe(0);
  });
  it('counts every started day (or hour) late', () => {
    const perDay = { per: 'day' as const, percent: 10, floorPercent: 0 };
    expect(penaltyPercent(perDay, 0)).toBe(0);
    expect(penaltyPercent(perDay, 1)).toBe(10); // one second late is one day
    expect(penaltyPercent(perDay, 86_400)).toBe(10);
    expect(penaltyPercent(perDay, 86_401)).toBe(20);
    const perHour = { per: 'hour' as const, percent: 2.5, floorPercent: 0 };
    expect(penaltyPercent(perHour, 3 * 3600 + 1)).toBe(10);
    expect(penaltyPercent(null, 86_400)).toBe(0);
  });
  it('never goes below floorPercent of the raw grade, nor below zero', () => {
    const policy = { per: 'day' as const, percent: 25, floorPercent: 40 };
    expect(penaltyPercent(policy, 2 * 86_400)).toBe(50);
    expect(penaltyPercent(policy, 5 * 86_400)).toBe(60); // capped: 40 % of raw stays
    expect(finalPoints(80, penaltyPercent(policy, 5 * 86_400))).toBe(32);
    expect(penaltyPercent({ per: 'hour', percent: 50, floorPercent: 0 }, 10 * 3600)).toBe(100);
    expect(finalPoints(80, 100)).toBe(0);
  });
  it('rounds final points to two decimals, half up', () => {
    expect(finalPoints(7, 15)).toBe(5.95);
    expect(finalPoints(10, 100 / 3)).toBe(6.67);
    expect(roundPoints(1.005)).toBe(1.01);
    expect(roundPoints(2.344)).toBe(2.34);
    expect(percentOf(6.5, 14)).toBe(46.43);
    expect(percentOf(3, 0)).toBe(0);
  });
});

describe('marking workflow and comments', () => {
  it('moves only forward', () => {
    expect(movesForward('not_marked', 'in_marking')).toBe(true);
    expect(movesForward('in_marking', 'in_marking')).toBe(true);
    expect(movesForward('in_marking', 'ready_for_release')).toBe(true);
    expect(movesForward('ready_for_release', 'in_marking')).toBe(false);
    expect(movesForward('released', 'ready_for_release')).toBe(false);
  });
  it('anchors comments within the text', () => {
    expect(() => checkComments([{ start: 0, end: 5 }], 'hello')).not.toThrow();
    expect(() => checkComments([{ start: 3, end: 2 }], 'hello')).toThrow(/not within/);
    expect(() => checkComments([{ start: 0, end: 6 }], 'hello')).toThrow(/not within/);
    expect(() => checkComments([{ start: 0, end: 1 }], null)).toThrow(/not within/);
  });
});
