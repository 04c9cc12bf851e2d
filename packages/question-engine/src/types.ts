import type { QuestionBody, QuestionDraft, QuestionResponse } from '@lms/contracts';

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

export interface Imported {
  questions: Array<{ draft: QuestionDraft; category: string | null }>;
  errors: Array<{ at: string; message: string }>;
}

export type BodyOf<T extends QuestionBody['type']> = Extract<QuestionBody, { type: T }>;
export type ResponseOf<T extends QuestionResponse['type']> = Extract<QuestionResponse, { type: T }>;
export type ClozeGap = BodyOf<'cloze'>['gaps'][number];
/** A cloze gap's body: single, multiple, truefalse, short or numerical. */
export type GapBody = ClozeGap['body'];
export type GapResponse = ResponseOf<'cloze'>['gaps'][string];
