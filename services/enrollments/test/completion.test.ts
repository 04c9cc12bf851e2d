/** The course completion rule (completion.ts), shared by completeLesson and the assessment completion saga. */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { completionSagaId } from '../src/completion-saga.js';
import { consultsGradebook, courseCompletion, passes } from '../src/completion.js';
import { completionSagaId as sagaIdFromIndex } from '../src/index.js';
import type { Outline } from '../src/progress.js';

const all = { totalLessons: 3, completedLessons: 3 };

describe('courseCompletion', () => {
  it('needs every lesson, and a course with none is never complete', () => {
    expect(courseCompletion({ totalLessons: 0, completedLessons: 0 }, null)).toEqual({ complete: false, reason: 'no_lessons' });
    expect(courseCompletion({ totalLessons: 3, completedLessons: 2 }, null)).toEqual({ complete: false, reason: 'lessons_left' });
    expect(courseCompletion(all, null)).toEqual({ complete: true });
  });
  it('applies the gradebook minimum when there is one', () => {
    expect(courseCompletion(all, { percent: null, minimumPercent: null })).toEqual({ complete: true });
    expect(courseCompletion(all, { percent: 40, minimumPercent: null })).toEqual({ complete: true });
    expect(courseCompletion(all, { percent: null, minimumPercent: 50 })).toEqual({ complete: false, reason: 'grade_pending' });
    expect(courseCompletion(all, { percent: 49.9, minimumPercent: 50 })).toEqual({ complete: false, reason: 'grade_below_minimum' });
    expect(courseCompletion(all, { percent: 50, minimumPercent: 50 })).toEqual({ complete: true });
  });
  it('lessons left outrank the grade', () => {
    expect(courseCompletion({ totalLessons: 3, completedLessons: 1 }, { percent: 100, minimumPercent: 50 })).toEqual({
      complete: false,
      reason: 'lessons_left',
    });
  });
});

describe('passes', () => {
  it('passes at the lesson pass mark, or when the assessment says so', () => {
    expect(passes({ percent: 70 }, 70, null)).toBe(true);
    expect(passes({ percent: 69.9 }, 70, false)).toBe(false);
    expect(passes({ percent: 10 }, 70, true)).toBe(true);
    expect(passes(null, 70, null)).toBe(false);
    expect(passes({ percent: 100 }, null, null)).toBe(false); // no lesson and no pass mark: nothing to pass
  });
});

describe('consultsGradebook', () => {
  const outline = (assessment: boolean): Outline => ({
    courseId: randomUUID(),
    title: 'c',
    version: 1,
    sequential: false,
    modules: [
      {
        id: randomUUID(),
        title: 'm',
        requires: [],
        lessons: [
          { id: randomUUID(), title: 'l', type: 'markdown', completeAtPercent: null, assessment: null },
          ...(assessment
            ? [
                {
                  id: randomUUID(),
                  title: 'q',
                  type: 'quiz',
                  completeAtPercent: null,
                  assessment: { kind: 'quiz' as const, assessmentId: randomUUID(), passPercent: 70 },
                },
              ]
            : []),
        ],
      },
    ],
  });
  it('asks the gradebook for courses with graded lessons only', () => {
    expect(consultsGradebook(outline(false))).toBe(false);
    expect(consultsGradebook(outline(true))).toBe(true);
  });
});

describe('completionSagaId', () => {
  it('is one saga per submission and one per grade of it', () => {
    const attemptId = randomUUID();
    expect(completionSagaId({ trigger: 'submitted', attemptId })).toBe(`submitted:${attemptId}`);
    expect(sagaIdFromIndex({ trigger: 'graded', attemptId, gradedAt: '2026-12-01T10:00:00.000Z' })).toBe(`graded:${attemptId}:2026-12-01T10:00:00.000Z`);
  });
});
