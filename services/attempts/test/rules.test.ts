import { quizSettings } from '@lms/contracts';
import { describe, expect, it } from 'vitest';
import { deadlineOf, gradeByMethod, reviewAllowed, seededShuffle } from '../src/rules.js';

describe('attempt rules', () => {
  it('shuffles the same way for the same seed, and differently for another', () => {
    const items = Array.from({ length: 20 }, (_, i) => i);
    expect(seededShuffle(items, 'a', 'order')).toEqual(seededShuffle(items, 'a', 'order'));
    expect(seededShuffle(items, 'a', 'order')).not.toEqual(seededShuffle(items, 'b', 'order'));
    expect([...seededShuffle(items, 'a', 'order')].sort((x, y) => x - y)).toEqual(items);
  });

  it('ends an attempt at the time limit plus extra time, never after the closing time', () => {
    const start = new Date('2026-12-01T10:00:00Z');
    expect(deadlineOf(start, 600, 60, null)?.toISOString()).toBe('2026-12-01T10:11:00.000Z');
    expect(deadlineOf(start, 600, 0, new Date('2026-12-01T10:05:00Z'))?.toISOString()).toBe('2026-12-01T10:05:00.000Z');
    expect(deadlineOf(start, null, 0, null)).toBeNull();
  });

  it('grades by the quiz grading method', () => {
    expect(gradeByMethod('highest', [1, 3, 2])).toBe(3);
    expect(gradeByMethod('average', [1, 3, 2])).toBe(2);
    expect(gradeByMethod('first', [1, 3, 2])).toBe(1);
    expect(gradeByMethod('last', [1, 3, 2])).toBe(2);
  });

  it('shows nothing of a key before submitting, afterSubmit after, and afterClose once the quiz closed', () => {
    const s = quizSettings.parse({});
    const now = new Date('2026-12-01T10:00:00Z');
    expect(reviewAllowed(s, false, null, now, false)).toEqual({ score: false, correctness: false, feedback: false, rightAnswer: false });
    expect(reviewAllowed(s, true, new Date('2026-12-02T00:00:00Z'), now, false).rightAnswer).toBe(false);
    expect(reviewAllowed(s, true, new Date('2026-11-30T00:00:00Z'), now, false).rightAnswer).toBe(true);
  });
});
