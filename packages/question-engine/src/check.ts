/** Whether a body can be used: a right answer exists, ids are unique, a calculated formula works over its params. */
import { DomainError, type QuestionBody } from '@lms/contracts';
import { evaluateFormula, formulaNames, isFormulaConstant, parseFormula } from './formula.js';
import type { BodyOf } from './types.js';

export interface BodyIssue {
  path: string;
  message: string;
}

const near = (a: number, b: number, eps = 0.005) => Math.abs(a - b) <= eps;

function duplicates(ids: readonly string[]): string[] {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const id of ids) (seen.has(id) ? dup : seen).add(id);
  return [...dup];
}

/** The issues of a body (empty: usable). Formula problems have code FORMULA_INVALID, the rest VALIDATION_FAILED. */
export function bodyIssues(body: QuestionBody, at = 'body'): Array<BodyIssue & { code: 'FORMULA_INVALID' | 'VALIDATION_FAILED' }> {
  const out: Array<BodyIssue & { code: 'FORMULA_INVALID' | 'VALIDATION_FAILED' }> = [];
  const issue = (path: string, message: string, code: 'FORMULA_INVALID' | 'VALIDATION_FAILED' = 'VALIDATION_FAILED') =>
    out.push({ path: `${at}.${path}`, message, code });
  const unique = (path: string, ids: readonly string[]) => {
    const d = duplicates(ids);
    if (d.length > 0) issue(path, `ids must be unique: ${d.join(', ')}`);
  };
  switch (body.type) {
    case 'single':
      unique(
        'choices',
        body.choices.map((c) => c.id),
      );
      if (!body.choices.some((c) => c.fraction === 1)) issue('choices', 'one choice must give full credit (fraction 1)');
      break;
    case 'multiple': {
      unique(
        'choices',
        body.choices.map((c) => c.id),
      );
      const sum = body.choices.filter((c) => c.fraction > 0).reduce((s, c) => s + c.fraction, 0);
      if (!near(sum, 1)) issue('choices', `the right choices' fractions must add up to 1 (they add up to ${sum})`);
      break;
    }
    case 'truefalse':
      break;
    case 'short':
      if (!body.answers.some((a) => a.fraction === 1)) issue('answers', 'one answer must give full credit (fraction 1)');
      break;
    case 'numerical':
      if (!body.answers.some((a) => a.fraction === 1)) issue('answers', 'one answer must give full credit (fraction 1)');
      checkUnits(body.units, issue);
      break;
    case 'calculated':
      checkCalculated(body, issue);
      checkUnits(body.units, issue);
      break;
    case 'matching':
      unique(
        'pairs',
        body.pairs.map((p) => p.id),
      );
      break;
    case 'ordering':
      unique(
        'items',
        body.items.map((i) => i.id),
      );
      break;
    case 'cloze': {
      const ids = body.gaps.map((g) => g.id);
      unique('gaps', ids);
      const referenced = new Set([...body.text.matchAll(/\{\{([A-Za-z0-9_-]+)\}\}/g)].map((m) => m[1] ?? ''));
      for (const id of ids) if (!referenced.has(id)) issue('text', `gap '${id}' is not in the text as {{${id}}}`);
      for (const id of referenced) if (!ids.includes(id)) issue('text', `{{${id}}} has no gap`);
      body.gaps.forEach((g, i) => out.push(...bodyIssues(g.body, `${at}.gaps.${i}.body`)));
      break;
    }
    case 'essay':
      if (body.minWords !== undefined && body.maxWords !== undefined && body.minWords > body.maxWords) issue('minWords', 'minWords is above maxWords');
      break;
    case 'file':
      break;
  }
  return out;
}

function checkUnits(units: BodyOf<'numerical'>['units'], issue: (path: string, message: string) => void): void {
  const first = units[0];
  if (first && first.multiplier !== 1) issue('units', 'the first unit is the base unit: its multiplier is 1');
  const d = duplicates(units.map((u) => u.unit.trim()));
  if (d.length > 0) issue('units', `units must be unique: ${d.join(', ')}`);
}

function checkCalculated(body: BodyOf<'calculated'>, issue: (path: string, message: string, code?: 'FORMULA_INVALID') => void): void {
  const names = body.params.map((p) => p.name);
  const d = duplicates(names);
  if (d.length > 0) issue('params', `param names must be unique: ${d.join(', ')}`, 'FORMULA_INVALID');
  let bad = false;
  for (const p of body.params) {
    if (!(p.min <= p.max)) {
      issue('params', `param '${p.name}': min is above max`, 'FORMULA_INVALID');
      bad = true;
    }
  }
  let ast;
  try {
    ast = parseFormula(body.formula);
  } catch (e) {
    issue('formula', e instanceof Error ? e.message : 'the formula does not parse', 'FORMULA_INVALID');
    return;
  }
  const undeclared = formulaNames(ast).filter((n) => !names.includes(n) && !isFormulaConstant(n));
  if (undeclared.length > 0) {
    issue('formula', `the formula uses undeclared params: ${undeclared.join(', ')}`, 'FORMULA_INVALID');
    return;
  }
  if (bad) return;
  const at = (pick: (p: BodyOf<'calculated'>['params'][number]) => number) => Object.fromEntries(body.params.map((p) => [p.name, pick(p)]));
  const points: Array<[string, Record<string, number>]> = [
    ['min', at((p) => p.min)],
    ['max', at((p) => p.max)],
    ['mid', at((p) => Number(((p.min + p.max) / 2).toFixed(p.decimals)))],
  ];
  for (const [where, vars] of points) {
    try {
      evaluateFormula(ast, vars);
    } catch (e) {
      issue('formula', `at the params' ${where} values: ${e instanceof Error ? e.message : 'no value'}`, 'FORMULA_INVALID');
      return;
    }
  }
}

/** Throws a DomainError (FORMULA_INVALID or VALIDATION_FAILED) when a body cannot be used (no right answer, a bad formula, params out of range). */
export function checkBody(body: QuestionBody): void {
  const issues = bodyIssues(body);
  const first = issues[0];
  if (!first) return;
  const code = issues.some((i) => i.code === 'FORMULA_INVALID') ? 'FORMULA_INVALID' : 'VALIDATION_FAILED';
  const shown = issues.find((i) => i.code === code) ?? first;
  throw new DomainError(code, `${shown.path}: ${shown.message}`, { issues: issues.map(({ path, message, code: c }) => ({ path, message, code: c })) });
}
