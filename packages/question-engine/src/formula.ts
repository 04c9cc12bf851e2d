/**
 * Formulas of calculated questions: a tokenizer and a recursive-descent parser to an AST, and an evaluator over it.
 * Never `eval` or `new Function`. Grammar (lowest precedence first):
 *
 *   expr    := term (('+' | '-') term)*
 *   term    := unary (('*' | '/') unary)*
 *   unary   := ('-' | '+') unary | power
 *   power   := primary ('^' unary)?            right associative: 2^3^2 = 2^9; -2^2 = -(2^2)
 *   primary := number | name | name '(' args ')' | '(' expr ')'
 *
 * Numbers: 12, 1.5, .5, 1e-3. Names: params, the constants pi and e (a param of the same name wins), and the functions
 * below (`pi()` is accepted as Moodle writes it). Limits on length, nesting depth and node count keep hostile input
 * cheap. Every failure is a DomainError FORMULA_INVALID; a result (or an intermediate value) that is not finite too.
 */
import { DomainError } from '@lms/contracts';

export type FormulaNode =
  | { kind: 'num'; value: number }
  | { kind: 'name'; name: string; at: number }
  | { kind: 'neg'; arg: FormulaNode }
  | { kind: 'bin'; op: '+' | '-' | '*' | '/' | '^'; left: FormulaNode; right: FormulaNode }
  | { kind: 'call'; fn: string; args: FormulaNode[]; at: number };

export const FORMULA_LIMITS = { length: 1000, depth: 40, nodes: 400 } as const;

const unary = (f: (x: number) => number) => ({ min: 1, max: 1, f: (a: number[]) => f(a[0] ?? NaN) });
const roundTo = (x: number, d: number): number => {
  if (!Number.isInteger(d) || d < -15 || d > 15) return NaN;
  const k = 10 ** d;
  return Math.round(x * k) / k;
};
const functions = new Map<string, { min: number; max: number; f: (args: number[]) => number }>([
  ['sqrt', unary(Math.sqrt)],
  ['abs', unary(Math.abs)],
  ['sin', unary(Math.sin)],
  ['cos', unary(Math.cos)],
  ['tan', unary(Math.tan)],
  ['asin', unary(Math.asin)],
  ['acos', unary(Math.acos)],
  ['atan', unary(Math.atan)],
  ['log', unary(Math.log10)],
  ['ln', unary(Math.log)],
  ['exp', unary(Math.exp)],
  ['floor', unary(Math.floor)],
  ['ceil', unary(Math.ceil)],
  ['round', { min: 1, max: 2, f: (a) => roundTo(a[0] ?? NaN, a[1] ?? 0) }],
  ['min', { min: 1, max: 50, f: (a) => Math.min(...a) }],
  ['max', { min: 1, max: 50, f: (a) => Math.max(...a) }],
  ['pow', { min: 2, max: 2, f: (a) => Math.pow(a[0] ?? NaN, a[1] ?? NaN) }],
  ['pi', { min: 0, max: 0, f: () => Math.PI }],
]);
const constants = new Map<string, number>([
  ['pi', Math.PI],
  ['e', Math.E],
]);

export const formulaFunctions: readonly string[] = [...functions.keys()];

type Token = { t: 'num'; value: number; at: number } | { t: 'name'; name: string; at: number } | { t: 'op'; op: string; at: number } | { t: 'end'; at: number };

const fail = (message: string, at?: number): never => {
  throw new DomainError('FORMULA_INVALID', message, at === undefined ? {} : { position: at });
};

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src.charAt(i);
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const num = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(src.slice(i, i + 400));
    if (num) {
      const value = Number(num[0]);
      if (!Number.isFinite(value)) fail(`number out of range at ${i}`, i);
      tokens.push({ t: 'num', value, at: i });
      i += num[0].length;
      continue;
    }
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i, i + 100));
    if (name) {
      tokens.push({ t: 'name', name: name[0], at: i });
      i += name[0].length;
      continue;
    }
    if ('+-*/^(),'.includes(c)) {
      tokens.push({ t: 'op', op: c, at: i });
      i++;
      continue;
    }
    fail(`unexpected character '${c}' at ${i}`, i);
  }
  tokens.push({ t: 'end', at: src.length });
  return tokens;
}

/** Parse a formula to its AST; throws DomainError FORMULA_INVALID. */
export function parseFormula(src: string): FormulaNode {
  if (typeof src !== 'string') return fail('a formula is text');
  if (src.length > FORMULA_LIMITS.length) fail(`a formula has at most ${FORMULA_LIMITS.length} characters`);
  if (src.trim() === '') fail('the formula is empty');
  const tokens = tokenize(src);
  let pos = 0;
  let nodes = 0;
  let depth = 0;
  const peek = (): Token => tokens[pos] ?? { t: 'end', at: src.length };
  const isOp = (op: string): boolean => {
    const t = peek();
    return t.t === 'op' && t.op === op;
  };
  const node = <N extends FormulaNode>(n: N): N => {
    if (++nodes > FORMULA_LIMITS.nodes) fail(`a formula has at most ${FORMULA_LIMITS.nodes} parts`);
    return n;
  };
  const enter = () => {
    if (++depth > FORMULA_LIMITS.depth) fail(`a formula nests at most ${FORMULA_LIMITS.depth} deep`, peek().at);
  };
  const expect = (op: string) => {
    if (!isOp(op)) fail(`expected '${op}' at ${peek().at}`, peek().at);
    pos++;
  };

  const expr = (): FormulaNode => {
    enter();
    let left = term();
    for (;;) {
      const t = peek();
      if (t.t === 'op' && (t.op === '+' || t.op === '-')) {
        pos++;
        left = node({ kind: 'bin', op: t.op, left, right: term() });
      } else break;
    }
    depth--;
    return left;
  };
  const term = (): FormulaNode => {
    let left = unaryExpr();
    for (;;) {
      const t = peek();
      if (t.t === 'op' && (t.op === '*' || t.op === '/')) {
        pos++;
        left = node({ kind: 'bin', op: t.op, left, right: unaryExpr() });
      } else break;
    }
    return left;
  };
  const unaryExpr = (): FormulaNode => {
    enter();
    let out: FormulaNode;
    if (isOp('-')) {
      pos++;
      out = node({ kind: 'neg', arg: unaryExpr() });
    } else if (isOp('+')) {
      pos++;
      out = unaryExpr();
    } else out = power();
    depth--;
    return out;
  };
  const power = (): FormulaNode => {
    const base = primary();
    if (isOp('^')) {
      pos++;
      return node({ kind: 'bin', op: '^', left: base, right: unaryExpr() });
    }
    return base;
  };
  const primary = (): FormulaNode => {
    const t = peek();
    if (t.t === 'num') {
      pos++;
      return node({ kind: 'num', value: t.value });
    }
    if (t.t === 'name') {
      pos++;
      if (isOp('(')) {
        const fn = functions.get(t.name);
        if (!fn) return fail(`unknown function '${t.name}' at ${t.at}`, t.at);
        pos++;
        const args: FormulaNode[] = [];
        if (!isOp(')')) {
          args.push(expr());
          while (isOp(',')) {
            pos++;
            args.push(expr());
          }
        }
        expect(')');
        if (args.length < fn.min || args.length > fn.max) {
          fail(`${t.name} takes ${fn.min === fn.max ? fn.min : `${fn.min} to ${fn.max}`} argument(s), got ${args.length}`, t.at);
        }
        return node({ kind: 'call', fn: t.name, args, at: t.at });
      }
      return node({ kind: 'name', name: t.name, at: t.at });
    }
    if (t.t === 'op' && t.op === '(') {
      pos++;
      const inner = expr();
      expect(')');
      return inner;
    }
    return fail(t.t === 'end' ? 'the formula ends too early' : `unexpected '${t.t === 'op' ? t.op : ''}' at ${t.at}`, t.at);
  };

  const ast = expr();
  if (peek().t !== 'end') fail(`unexpected input at ${peek().at}`, peek().at);
  return ast;
}

/** The names a formula reads (params or constants), in order of first use. */
export function formulaNames(ast: FormulaNode): string[] {
  const out = new Set<string>();
  const walk = (n: FormulaNode): void => {
    switch (n.kind) {
      case 'name':
        out.add(n.name);
        return;
      case 'neg':
        return walk(n.arg);
      case 'bin':
        walk(n.left);
        return walk(n.right);
      case 'call':
        return n.args.forEach(walk);
      case 'num':
        return;
    }
  };
  walk(ast);
  return [...out];
}

/** Whether a name is a built-in constant (pi, e). */
export const isFormulaConstant = (name: string): boolean => constants.has(name);

/** Evaluate an AST with the given variables; throws DomainError FORMULA_INVALID for unknown names and non-finite values. */
export function evaluateFormula(ast: FormulaNode, vars: Readonly<Record<string, number>>): number {
  const finite = (v: number): number => (Number.isFinite(v) ? v : fail('the formula has no finite value for these parameters'));
  const ev = (n: FormulaNode): number => {
    switch (n.kind) {
      case 'num':
        return n.value;
      case 'name': {
        if (Object.hasOwn(vars, n.name)) {
          const v = vars[n.name];
          return typeof v === 'number' ? finite(v) : fail(`parameter '${n.name}' has no value`, n.at);
        }
        const c = constants.get(n.name);
        return c ?? fail(`unknown name '${n.name}' at ${n.at}`, n.at);
      }
      case 'neg':
        return -ev(n.arg);
      case 'bin': {
        const a = ev(n.left);
        const b = ev(n.right);
        switch (n.op) {
          case '+':
            return finite(a + b);
          case '-':
            return finite(a - b);
          case '*':
            return finite(a * b);
          case '/':
            return b === 0 ? fail('division by zero') : finite(a / b);
          case '^':
            return finite(Math.pow(a, b));
        }
        break;
      }
      case 'call': {
        const fn = functions.get(n.fn);
        if (!fn) return fail(`unknown function '${n.fn}'`, n.at);
        return finite(fn.f(n.args.map(ev)));
      }
    }
    return fail('unknown formula part');
  };
  return ev(ast);
}

/** Parsed formulas by text (ASTs are never mutated): scoring a quiz evaluates the same few formulas many times. */
const parsedCache = new Map<string, FormulaNode>();
const CACHE_SIZE = 256;

/** Parse (cached) and evaluate in one go. */
export function evaluate(src: string, vars: Readonly<Record<string, number>>): number {
  let ast = parsedCache.get(src);
  if (!ast) {
    ast = parseFormula(src);
    if (parsedCache.size >= CACHE_SIZE) parsedCache.clear();
    parsedCache.set(src, ast);
  }
  return evaluateFormula(ast, vars);
}
