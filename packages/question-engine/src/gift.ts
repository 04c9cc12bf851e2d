/**
 * Moodle GIFT import/export (https://docs.moodle.org/en/GIFT_format) for the types GIFT has: multiple choice
 * (single: `=right ~wrong`, multiple: `~%50%a ~%50%b ~%-100%c`), true/false `{T}`/`{F}` (`{T#wrong#right}`), short
 * answer `{=a =%50%b}`, numerical `{#3.14:0.01}`, `{#1..5}`, `{#=3.14:0.01 =%50%3:1}`, matching `{=a -> b = -> extra}`
 * and essay `{}`. Titles `::t::`, `//` comment lines, escapes `\~ \= \# \{ \} \: \\ \n`, `$CATEGORY:` lines, per-answer
 * feedback `#...`, general feedback `####...`, a leading format tag `[markdown]` (dropped, the text kept), the
 * "missing word" form (text after the braces). A question that cannot be read is an error with its line; the others
 * still import. Ordering, calculated, cloze and file questions have no GIFT form: toGift writes a `// skipped` comment
 * for each. Choice ids are c1, c2, …; pair ids p1, p2, … (GIFT has no ids), so a round trip keeps bodies that use them.
 */
import type { QuestionBody } from '@lms/contracts';
import { importedQuestion } from './draft.js';
import type { Imported } from './types.js';

type Question = Imported['questions'][number];

// ---------------------------------------------------------------- escapes

/** Index of `needle` at or after `from` outside escapes (`\x`); -1 when none. */
function findUnescaped(s: string, needle: string, from = 0): number {
  for (let i = from; i < s.length; i++) {
    if (s[i] === '\\') {
      i++;
      continue;
    }
    if (s.startsWith(needle, i)) return i;
  }
  return -1;
}

function unescape(s: string): string {
  return s.replace(/\\(.)/gs, (whole, c: string) => (c === 'n' ? '\n' : '~=#{}:\\%>[]'.includes(c) ? c : whole));
}

/** Escapes GIFT's special characters and `->` (matching's arrow); newlines as `\n` (a blank line would end the question). */
function escape(s: string): string {
  return s
    .replace(/[\\~=#{}:]/g, (c) => `\\${c}`)
    .replace(/\r?\n/g, '\\n')
    .replace(/->/g, '-\\>');
}
/** An answer's text: also a leading `%` (it would read as a weight). */
function escapeAnswer(s: string): string {
  return escape(s).replace(/^%/, '\\%');
}

// ---------------------------------------------------------------- parse

interface Block {
  line: number;
  text: string;
  category: string | null;
}

function blocksOf(text: string, errors: Imported['errors']): Block[] {
  const blocks: Block[] = [];
  let category: string | null = null;
  let current: { line: number; lines: string[] } | null = null;
  const flush = () => {
    if (current && current.lines.some((l) => l.trim() !== '')) blocks.push({ line: current.line, text: current.lines.join('\n'), category });
    current = null;
  };
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line.startsWith('//')) return;
    if (line === '') return flush();
    const cat = /^\$CATEGORY:(.*)$/i.exec(line);
    if (cat) {
      flush();
      category = (cat[1] ?? '').trim() || null;
      return;
    }
    if (/^\$[A-Z]+:/.test(line)) {
      errors.push({ at: `line ${i + 1}`, message: `unknown directive ${line.split(':')[0] ?? ''}` });
      return;
    }
    current ??= { line: i + 1, lines: [] };
    current.lines.push(raw);
  });
  flush();
  return blocks;
}

/** `%50%` at the start of an answer: the fraction and the rest. */
function weightOf(s: string, fallback: number): { fraction: number; rest: string } {
  const m = /^\s*%(-?\d+(?:\.\d+)?)%/.exec(s);
  if (!m) return { fraction: fallback, rest: s };
  return { fraction: Number(m[1]) / 100, rest: s.slice(m[0].length) };
}

/** Text and feedback of an answer: `text#feedback`. */
function withFeedback(s: string): { text: string; feedback?: string } {
  const at = findUnescaped(s, '#');
  const text = unescape(at < 0 ? s : s.slice(0, at)).trim();
  const feedback = at < 0 ? '' : unescape(s.slice(at + 1)).trim();
  return feedback === '' ? { text } : { text, feedback };
}

/** Split an answer block at unescaped `=` and `~` markers: each answer with its marker. */
function answersOf(s: string): Array<{ mark: '=' | '~'; raw: string }> {
  const out: Array<{ mark: '=' | '~'; raw: string }> = [];
  let cur: { mark: '=' | '~'; raw: string } | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s.charAt(i);
    if (c === '\\') {
      if (cur) cur.raw += s.slice(i, i + 2);
      i++;
      continue;
    }
    if (c === '=' || c === '~') {
      if (cur) out.push(cur);
      cur = { mark: c, raw: '' };
      continue;
    }
    if (cur) cur.raw += c;
    else if (c.trim() !== '') throw new Error(`text before the first answer: '${s.slice(i, i + 20)}'`);
  }
  if (cur) out.push(cur);
  return out;
}

function parseNumber(s: string): number {
  const t = s.trim();
  if (!/^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(t)) throw new Error(`'${t}' is not a number`);
  return Number(t);
}

/** `3.14:0.01`, `1..5` or `3.14`. */
function numericAnswer(s: string): { value: number; tolerance: number } {
  const range = s.indexOf('..');
  if (range >= 0) {
    const lo = parseNumber(s.slice(0, range));
    const hi = parseNumber(s.slice(range + 2));
    if (hi < lo) throw new Error(`range ${lo}..${hi} is empty`);
    return { value: (lo + hi) / 2, tolerance: (hi - lo) / 2 };
  }
  const colon = s.indexOf(':');
  if (colon >= 0) return { value: parseNumber(s.slice(0, colon)), tolerance: Math.abs(parseNumber(s.slice(colon + 1))) };
  return { value: parseNumber(s), tolerance: 0 };
}

function bodyOf(answerRaw: string): unknown {
  const inner = answerRaw.trim();
  if (inner === '') return { type: 'essay' };
  if (inner.startsWith('#')) {
    const rest = inner.slice(1);
    if (findUnescaped(rest, '=') < 0) {
      const { text, feedback } = withFeedback(rest);
      return { type: 'numerical', answers: [{ ...numericAnswer(text), fraction: 1, ...(feedback ? { feedback } : {}) }] };
    }
    return {
      type: 'numerical',
      answers: answersOf(rest).map((a) => {
        if (a.mark !== '=') throw new Error('numerical answers start with =');
        const { fraction, rest: r } = weightOf(a.raw, 1);
        const { text, feedback } = withFeedback(r);
        return { ...numericAnswer(text), fraction, ...(feedback ? { feedback } : {}) };
      }),
    };
  }
  if (findUnescaped(inner, '~') >= 0) {
    const single = findUnescaped(inner, '=') >= 0;
    const answers = answersOf(inner);
    return {
      type: single ? 'single' : 'multiple',
      choices: answers.map((a, i) => {
        const { fraction, rest } = weightOf(a.raw, a.mark === '=' ? 1 : 0);
        const { text, feedback } = withFeedback(rest);
        return { id: `c${i + 1}`, text, fraction, ...(feedback ? { feedback } : {}) };
      }),
    };
  }
  if (findUnescaped(inner, '=') >= 0 && findUnescaped(inner, '->') >= 0) {
    const pairs: Array<{ id: string; prompt: string; answer: string }> = [];
    const distractors: string[] = [];
    for (const a of answersOf(inner)) {
      const arrow = findUnescaped(a.raw, '->');
      if (a.mark !== '=' || arrow < 0) throw new Error('matching answers are written =question -> answer');
      const left = unescape(a.raw.slice(0, arrow)).trim();
      const right = unescape(a.raw.slice(arrow + 2)).trim();
      if (left === '') distractors.push(right);
      else pairs.push({ id: `p${pairs.length + 1}`, prompt: left, answer: right });
    }
    return { type: 'matching', pairs, distractors };
  }
  const tf = /^(T|F|TRUE|FALSE)\s*(#.*)?$/is.exec(inner);
  if (tf) {
    const answer = (tf[1] ?? '').toUpperCase().startsWith('T');
    const fb = tf[2] ?? '';
    // {T#feedback for a wrong answer#feedback for the right answer}
    const parts: string[] = [];
    let from = 1;
    while (fb.length > 0 && from <= fb.length) {
      const next = findUnescaped(fb, '#', from);
      parts.push(unescape(fb.slice(from, next < 0 ? undefined : next)).trim());
      if (next < 0) break;
      from = next + 1;
    }
    const wrong = parts[0] || undefined;
    const right = parts[1] || undefined;
    return {
      type: 'truefalse',
      answer,
      ...((answer ? right : wrong) ? { feedbackTrue: answer ? right : wrong } : {}),
      ...((answer ? wrong : right) ? { feedbackFalse: answer ? wrong : right } : {}),
    };
  }
  const answers = answersOf(inner);
  if (answers.length === 0) throw new Error('no answers');
  if (answers.some((a) => a.mark !== '=')) throw new Error('short answers start with =');
  return {
    type: 'short',
    answers: answers.map((a) => {
      const { fraction, rest } = weightOf(a.raw, 1);
      const { text, feedback } = withFeedback(rest);
      return { pattern: text, fraction, ...(feedback ? { feedback } : {}) };
    }),
  };
}

function questionOf(block: Block, n: number): Question {
  let s = block.text.trim();
  let title: string | null = null;
  if (s.startsWith('::')) {
    const end = findUnescaped(s, '::', 2);
    if (end < 0) throw new Error('the title has no closing ::');
    title = unescape(s.slice(2, end)).trim();
    s = s.slice(end + 2).trimStart();
  }
  const format = /^\[(markdown|html|plain|moodle)\]/i.exec(s);
  if (format) s = s.slice(format[0].length);
  const open = findUnescaped(s, '{');
  if (open < 0) throw new Error('no answer block {…} (description items are not imported)');
  const close = findUnescaped(s, '}', open + 1);
  if (close < 0) throw new Error('the answer block has no closing }');
  const before = s.slice(0, open);
  const after = s.slice(close + 1);
  let answerRaw = s.slice(open + 1, close);
  let generalFeedback: string | undefined;
  const gf = findUnescaped(answerRaw, '####');
  if (gf >= 0) {
    generalFeedback = unescape(answerRaw.slice(gf + 4)).trim() || undefined;
    answerRaw = answerRaw.slice(0, gf);
  }
  const prompt = after.trim() === '' ? unescape(before).trim() : `${unescape(before).trim()} _____ ${unescape(after).trim()}`.trim();
  const body = bodyOf(answerRaw);
  return importedQuestion(
    {
      title: title || prompt.replace(/\s+/g, ' ').slice(0, 60).trim() || `Question ${n}`,
      prompt,
      body,
      ...(generalFeedback ? { generalFeedback } : {}),
    },
    block.category,
  );
}

/** Moodle GIFT: `$CATEGORY:` lines give categories. */
export function parseGift(text: string): Imported {
  const out: Imported = { questions: [], errors: [] };
  for (const block of blocksOf(text, out.errors)) {
    try {
      out.questions.push(questionOf(block, out.questions.length + 1));
    } catch (e) {
      out.errors.push({ at: `line ${block.line}`, message: e instanceof Error ? e.message : 'cannot be read' });
    }
  }
  return out;
}

// ---------------------------------------------------------------- write

const percent = (fraction: number): string => String(Number((fraction * 100).toPrecision(12)));
const fb = (feedback: string | undefined): string => (feedback ? `#${escape(feedback)}` : '');
const num = (v: number): string => String(v);

/** The answer block of a body; null for types GIFT does not have. */
function answersOf_(body: QuestionBody): string | null {
  switch (body.type) {
    case 'single':
      return body.choices
        .map((c) => `${c.fraction === 1 ? '=' : c.fraction === 0 ? '~' : `~%${percent(c.fraction)}%`}${escapeAnswer(c.text)}${fb(c.feedback)}`)
        .join(' ');
    case 'multiple':
      return body.choices.map((c) => `~${c.fraction === 0 ? '' : `%${percent(c.fraction)}%`}${escapeAnswer(c.text)}${fb(c.feedback)}`).join(' ');
    case 'truefalse': {
      const right = body.answer ? body.feedbackTrue : body.feedbackFalse;
      const wrong = body.answer ? body.feedbackFalse : body.feedbackTrue;
      return `${body.answer ? 'TRUE' : 'FALSE'}${right || wrong ? `#${escape(wrong ?? '')}#${escape(right ?? '')}` : ''}`;
    }
    case 'short':
      return body.answers.map((a) => `=${a.fraction === 1 ? '' : `%${percent(a.fraction)}%`}${escapeAnswer(a.pattern)}${fb(a.feedback)}`).join(' ');
    case 'numerical':
      return `#${body.answers.map((a) => `=${a.fraction === 1 ? '' : `%${percent(a.fraction)}%`}${num(a.value)}:${num(a.tolerance)}${fb(a.feedback)}`).join(' ')}`;
    case 'matching':
      return [
        ...body.pairs.map((p) => `=${escapeAnswer(p.prompt)} -> ${escapeAnswer(p.answer)}`),
        ...body.distractors.map((d) => `= -> ${escapeAnswer(d)}`),
      ].join(' ');
    case 'essay':
      return '';
    default:
      return null;
  }
}

/**
 * GIFT text of the questions GIFT can hold. Others (ordering, calculated, cloze, file) and what GIFT cannot say (units,
 * case sensitivity, shuffle off, all-or-nothing scoring, points, tags) are lost; each skipped question is a
 * `// skipped: …` comment line in the output.
 */
export function toGift(questions: Imported['questions']): string {
  const out: string[] = [];
  let category: string | null = null;
  for (const { draft, category: cat } of questions) {
    const answers = answersOf_(draft.body);
    if (answers === null) {
      out.push(`// skipped: "${draft.title.replace(/\s+/g, ' ')}" (${draft.body.type} questions have no GIFT form)`, '');
      continue;
    }
    if (cat !== category) {
      out.push(`$CATEGORY: ${(cat ?? '').replace(/\s+/g, ' ')}`, '');
      category = cat;
    }
    const general = draft.generalFeedback ? ` ####${escape(draft.generalFeedback)}` : '';
    out.push(`::${escape(draft.title)}::[markdown]${escape(draft.prompt)} {${answers}${general}}`, '');
  }
  return out.join('\n');
}

/** Question types GIFT can hold. */
export const giftTypes: readonly QuestionBody['type'][] = ['single', 'multiple', 'truefalse', 'short', 'numerical', 'matching', 'essay'];
