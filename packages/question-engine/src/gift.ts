import type { Imported } from './types.js';

const todo = (what: string): never => {
  throw new Error(`question-engine: ${what} is not built yet`);
};
/** Moodle GIFT: `$CATEGORY:` lines give categories. */
export function parseGift(text: string): Imported {
  void text;
  return todo('parseGift');
}
export function toGift(questions: Imported['questions']): string {
  void questions;
  return todo('toGift');
}
