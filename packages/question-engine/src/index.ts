/**
 * The question engine: the only code that reads a question's key. Pure functions, no I/O: what an attempt draws
 * (calculated params, shuffled orders) from a seed, what a learner is shown, how a response scores, the right
 * answer for review, GIFT and QTI 3.0 import/export, and item statistics. Used by `assessments` (authoring:
 * validation, import/export) and `attempts` (execution: draws, presentation, scoring, statistics).
 */
import type { PresentedQuestion, QuestionBody, QuestionDraft, QuestionResponse } from '@lms/contracts';

/** What one attempt fixed for one question: deterministic from (body, seed). Stored with the attempt. */
export interface Draw {
  /** Calculated questions: each param's value. */
  params: Record<string, number>;
  /** single/multiple: choice ids in the order shown; ordering: item ids as first shown; matching: answers shown. */
  order: string[];
  /** cloze: the draw of each gap. */
  gaps?: Record<string, Draw>;
}

export interface Scored {
  /** 0..1 of the question's points (never negative overall). Null when a person must grade it. */
  fraction: number | null;
  /** Whether the learner gave any answer. */
  answered: boolean;
  /** Feedback for the choices/answers the learner gave (shown only when the review options allow). */
  feedback: string[];
}

const todo = (what: string): never => {
  throw new Error(`question-engine: ${what} is not built yet`);
};

/** Throws a DomainError (VALIDATION_FAILED or FORMULA_INVALID) when a body cannot be used (no right answer, a bad formula, params out of range). */
export function checkBody(body: QuestionBody): void {
  void body;
  todo('checkBody');
}
/** Draw params and orders for an attempt; the same seed gives the same draw. */
export function draw(body: QuestionBody, seed: string): Draw {
  void body;
  void seed;
  return todo('draw');
}
/** What the learner sees: prompt with params substituted, options in the drawn order, no key, no fractions, no feedback. */
export function present(prompt: string, body: QuestionBody, d: Draw): PresentedQuestion {
  void prompt;
  void body;
  void d;
  return todo('present');
}
/** Score a response (null: unanswered). A response of another type scores 0, never throws. */
export function score(body: QuestionBody, d: Draw, response: QuestionResponse | null): Scored {
  void body;
  void d;
  void response;
  return todo('score');
}
/** A right answer (full credit) for review, and the same as text. */
export function rightAnswer(body: QuestionBody, d: Draw): { response: QuestionResponse | null; text: string } {
  void body;
  void d;
  return todo('rightAnswer');
}

export interface Imported {
  questions: Array<{ draft: QuestionDraft; category: string | null }>;
  errors: Array<{ at: string; message: string }>;
}
/** Moodle GIFT: `$CATEGORY:` lines give categories. */
export function parseGift(text: string): Imported {
  void text;
  return todo('parseGift');
}
export function toGift(questions: Imported['questions']): string {
  void questions;
  return todo('toGift');
}
/** QTI 3.0 XML (types QTI has); what toQti writes parseQti reads back to the same questions. */
export function parseQti(xml: string): Imported {
  void xml;
  return todo('parseQti');
}
export function toQti(questions: Imported['questions']): { xml: string; skipped: Array<{ title: string; reason: string }> } {
  void questions;
  return todo('toQti');
}

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
export function itemStatistics(input: StatsInput): ItemStats {
  void input;
  return todo('itemStatistics');
}
