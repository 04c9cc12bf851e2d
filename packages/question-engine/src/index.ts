/**
 * The question engine: the only code that reads a question's key. Pure functions, no I/O: what an attempt draws
 * (calculated params, shuffled orders) from a seed, what a learner is shown, how a response scores, the right
 * answer for review, GIFT and QTI 3.0 import/export, and item statistics. Used by `assessments` (authoring:
 * validation, import/export) and `attempts` (execution: draws, presentation, scoring, statistics).
 */
export type { Draw, Scored, Imported } from './types.js';
export { draw, present, score, rightAnswer, matchesPattern, substituteParams, paramsOf } from './engine.js';
export { checkBody, bodyIssues, type BodyIssue } from './check.js';
export { parseFormula, evaluateFormula, evaluate as evaluateFormulaText, formulaNames, formulaFunctions, FORMULA_LIMITS, type FormulaNode } from './formula.js';
export { parseNumberWithUnit } from './numbers.js';
export { parseGift, toGift, giftTypes } from './gift.js';
export { parseQti, toQti } from './qti.js';
export { itemStatistics, pearson, type StatsInput, type ItemStats } from './stats.js';
