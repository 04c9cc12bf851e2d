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
  throw new Error('question-engine: itemStatistics is not built yet');
}
