/**
 * Draw, present, score, right answer: an attempt's life with one question. Pure functions; a draw is deterministic
 * from (body, seed) and is stored with the attempt, so presenting and scoring later never depend on chance.
 */
import type { PresentedQuestion, QuestionBody, QuestionResponse } from '@lms/contracts';
import { evaluate } from './formula.js';
import { formatFixed, normalizeSpace, readValue, within } from './numbers.js';
import { intBetween, rngFrom, shuffled, type Rng } from './random.js';
import type { BodyOf, Draw, GapBody, GapResponse, Scored } from './types.js';

// ---------------------------------------------------------------- draw

/** One calculated param: uniform over the values with `decimals` digits inside [min, max]. */
function drawParam(rng: Rng, p: BodyOf<'calculated'>['params'][number]): number {
  const k = 10 ** p.decimals;
  const lo = Math.ceil(p.min * k - 1e-9);
  const hi = Math.floor(p.max * k + 1e-9);
  if (hi < lo) return Number(formatFixed(p.min, p.decimals));
  return Number(formatFixed(intBetween(rng, lo, hi) / k, p.decimals));
}

/** Ids in a shuffled order that is not the given one (when there are two different ids to swap). */
function shuffledNotIdentity(rng: Rng, ids: readonly string[]): string[] {
  const out = shuffled(rng, ids);
  if (out.length > 1 && out.every((id, i) => id === ids[i])) out.push(out.shift() as string);
  return out;
}

/** The answers a matching question offers: each distinct answer once, distractors included. */
function matchingAnswers(body: BodyOf<'matching'>): string[] {
  return [...new Set([...body.pairs.map((p) => p.answer), ...body.distractors])];
}

/** Draw params and orders for an attempt; the same seed gives the same draw. */
export function draw(body: QuestionBody, seed: string): Draw {
  const rng = rngFrom(`${seed}\u0000${body.type}`);
  switch (body.type) {
    case 'single':
    case 'multiple': {
      const ids = body.choices.map((c) => c.id);
      return { params: {}, order: body.shuffle ? shuffled(rng, ids) : ids };
    }
    case 'ordering':
      return {
        params: {},
        order: shuffledNotIdentity(
          rng,
          body.items.map((i) => i.id),
        ),
      };
    case 'matching': {
      // Unshuffled answers would give the key away in pair order: shuffle=false shows them sorted instead.
      const answers = matchingAnswers(body);
      return { params: {}, order: body.shuffle ? shuffled(rng, answers) : answers.sort() };
    }
    case 'calculated': {
      const params: Record<string, number> = {};
      for (const p of body.params) params[p.name] = drawParam(rng, p);
      return { params, order: [] };
    }
    case 'cloze': {
      const gaps: Record<string, Draw> = {};
      for (const g of body.gaps) gaps[g.id] = draw(g.body, `${seed}\u0000gap\u0000${g.id}`);
      return { params: {}, order: [], gaps };
    }
    default:
      return { params: {}, order: [] };
  }
}

/** The drawn order restricted to ids that still exist, then any the draw does not know (a body edited after the draw). */
function inDrawnOrder<T>(items: readonly T[], key: (t: T) => string, order: readonly string[] | undefined): T[] {
  const byKey = new Map<string, T>();
  for (const it of items) if (!byKey.has(key(it))) byKey.set(key(it), it);
  const out: T[] = [];
  for (const k of order ?? []) {
    const it = byKey.get(k);
    if (it !== undefined) {
      out.push(it);
      byKey.delete(k);
    }
  }
  return [...out, ...byKey.values()];
}

/** Param values of a draw; a param the draw lacks (added after it) takes its range's middle. */
export function paramsOf(body: BodyOf<'calculated'>, d: Draw | undefined): Record<string, number> {
  const params: Record<string, number> = {};
  for (const p of body.params) {
    const v = d?.params && Object.hasOwn(d.params, p.name) ? d.params[p.name] : undefined;
    params[p.name] = typeof v === 'number' && Number.isFinite(v) ? v : Number(formatFixed((p.min + p.max) / 2, p.decimals));
  }
  return params;
}

/** `{name}` in a prompt replaced by the param's drawn value (with the param's decimals). */
export function substituteParams(prompt: string, body: BodyOf<'calculated'>, params: Record<string, number>): string {
  const decimals = new Map(body.params.map((p) => [p.name, p.decimals]));
  return prompt.replace(/\{([a-z][a-z0-9_]{0,19})\}/g, (whole, name: string) => {
    const dec = decimals.get(name);
    const v = params[name];
    return dec === undefined || v === undefined ? whole : formatFixed(v, dec);
  });
}

// ---------------------------------------------------------------- present

/** What the learner sees: prompt with params substituted, options in the drawn order, no key, no fractions, no feedback. */
export function present(prompt: string, body: QuestionBody, d: Draw): PresentedQuestion {
  switch (body.type) {
    case 'single':
    case 'multiple':
      return { type: body.type, prompt, choices: inDrawnOrder(body.choices, (c) => c.id, d.order).map((c) => ({ id: c.id, text: c.text })) };
    case 'truefalse':
    case 'short':
      return { type: body.type, prompt };
    case 'numerical':
      return { type: body.type, prompt, ...(body.units.length > 0 ? { units: body.units.map((u) => u.unit) } : {}) };
    case 'calculated':
      return {
        type: body.type,
        prompt: substituteParams(prompt, body, paramsOf(body, d)),
        ...(body.units.length > 0 ? { units: body.units.map((u) => u.unit) } : {}),
      };
    case 'matching':
      return {
        type: body.type,
        prompt,
        pairs: body.pairs.map((p) => ({ id: p.id, prompt: p.prompt })),
        answers: inDrawnOrder(matchingAnswers(body), (a) => a, d.order),
      };
    case 'ordering':
      return { type: body.type, prompt, items: inDrawnOrder(body.items, (i) => i.id, d.order).map((i) => ({ id: i.id, text: i.text })) };
    case 'cloze':
      return {
        type: body.type,
        prompt,
        text: body.text,
        gaps: body.gaps.map((g) => {
          const gb = g.body;
          if (gb.type === 'single' || gb.type === 'multiple') {
            const order = d.gaps && Object.hasOwn(d.gaps, g.id) ? d.gaps[g.id]?.order : undefined;
            return { id: g.id, type: gb.type, choices: inDrawnOrder(gb.choices, (c) => c.id, order).map((c) => ({ id: c.id, text: c.text })) };
          }
          return { id: g.id, type: gb.type };
        }),
      };
    case 'essay':
      return {
        type: body.type,
        prompt,
        ...(body.minWords !== undefined ? { minWords: body.minWords } : {}),
        ...(body.maxWords !== undefined ? { maxWords: body.maxWords } : {}),
      };
    case 'file':
      return { type: body.type, prompt, maxFiles: body.maxFiles, accept: [...body.accept] };
  }
}

// ---------------------------------------------------------------- score

const STAR = Symbol('star');
type GlobPart = string | typeof STAR;

/** A short-answer pattern as code points and wildcards: `*` any run of characters, `\*` a literal star. */
function globParts(pattern: string): GlobPart[] {
  const chars = [...pattern];
  const out: GlobPart[] = [];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string;
    if (c === '\\' && chars[i + 1] === '*') {
      out.push('*');
      i++;
    } else out.push(c === '*' ? STAR : c);
  }
  return out;
}

/** Wildcard match without regular expressions (no escaping to get wrong, no catastrophic backtracking): O(n·m). */
function globMatch(pattern: readonly GlobPart[], text: readonly string[]): boolean {
  let p = 0;
  let t = 0;
  let starP = -1;
  let starT = 0;
  while (t < text.length) {
    if (p < pattern.length && pattern[p] !== STAR && pattern[p] === text[t]) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === STAR) {
      starP = p++;
      starT = t;
    } else if (starP >= 0) {
      p = starP + 1;
      t = ++starT;
    } else return false;
  }
  while (p < pattern.length && pattern[p] === STAR) p++;
  return p === pattern.length;
}

/** Whether a short answer matches a pattern (both trimmed and whitespace-collapsed; case folded unless caseSensitive). */
export function matchesPattern(pattern: string, answer: string, caseSensitive: boolean): boolean {
  const fold = (s: string) => (caseSensitive ? normalizeSpace(s) : normalizeSpace(s).toLowerCase());
  return globMatch(globParts(fold(pattern)), [...fold(answer)]);
}

const clamp01 = (x: number): number => {
  if (!Number.isFinite(x) || x <= 0) return 0;
  if (x >= 1) return 1;
  return Math.round(x * 1e9) / 1e9;
};
const none = (answered = false): Scored => ({ fraction: 0, answered, feedback: [] });
const withFeedback = (fraction: number, ...feedback: Array<string | undefined>): Scored => ({
  fraction: clamp01(fraction),
  answered: true,
  feedback: feedback.filter((f): f is string => typeof f === 'string' && f !== ''),
});

function scoreNumber(
  answers: BodyOf<'numerical'>['answers'],
  text: string,
  units: BodyOf<'numerical'>['units'],
  unitHandling: 'optional' | 'required',
): Scored {
  if (normalizeSpace(text) === '') return none();
  const value = readValue(text, units, unitHandling);
  if (value === null) return none(true);
  const hit = answers.find((a) => within(value, a.value, a.tolerance));
  return hit ? withFeedback(hit.fraction, hit.feedback) : none(true);
}

/** Score a response (null: unanswered). A response of another type scores 0, never throws. */
export function score(body: QuestionBody, d: Draw, response: QuestionResponse | null): Scored {
  try {
    return scoreUnsafe(body, d, response);
  } catch {
    // A body that cannot be scored (a formula that does not evaluate for this draw) gives no credit; never a crash.
    return none(response != null);
  }
}

function scoreUnsafe(body: QuestionBody, d: Draw, r: QuestionResponse | null): Scored {
  if (r == null || typeof r !== 'object') return none();
  switch (body.type) {
    case 'single': {
      if (r.type !== 'single' || r.choiceId == null) return none();
      const c = body.choices.find((x) => x.id === r.choiceId);
      return c ? withFeedback(c.fraction, c.feedback) : none(true);
    }
    case 'multiple': {
      if (r.type !== 'multiple' || !Array.isArray(r.choiceIds)) return none();
      const chosen = new Set(r.choiceIds);
      const picked = body.choices.filter((c) => chosen.has(c.id));
      if (picked.length === 0) return none(chosen.size > 0);
      const right = body.choices.filter((c) => c.fraction > 0);
      const exact = picked.length === right.length && right.every((c) => chosen.has(c.id));
      const fraction = exact ? 1 : body.scoring === 'all-or-nothing' ? 0 : picked.reduce((s, c) => s + c.fraction, 0);
      return withFeedback(fraction, ...picked.map((c) => c.feedback));
    }
    case 'truefalse': {
      if (r.type !== 'truefalse' || typeof r.value !== 'boolean') return none();
      return withFeedback(r.value === body.answer ? 1 : 0, r.value ? body.feedbackTrue : body.feedbackFalse);
    }
    case 'short': {
      if (r.type !== 'short' || typeof r.text !== 'string' || normalizeSpace(r.text) === '') return none();
      const hit = body.answers.find((a) => matchesPattern(a.pattern, r.text, body.caseSensitive));
      return hit ? withFeedback(hit.fraction, hit.feedback) : none(true);
    }
    case 'numerical':
      if (r.type !== 'numerical' || typeof r.text !== 'string') return none();
      return scoreNumber(body.answers, r.text, body.units, body.unitHandling);
    case 'calculated': {
      if (r.type !== 'calculated' || typeof r.text !== 'string') return none();
      if (normalizeSpace(r.text) === '') return none();
      const value = readValue(r.text, body.units, 'optional');
      if (value === null) return none(true);
      const correct = evaluate(body.formula, paramsOf(body, d));
      const tolerance = body.toleranceType === 'relative' ? body.tolerance * Math.abs(correct) : body.tolerance;
      return withFeedback(within(value, correct, tolerance) ? 1 : 0);
    }
    case 'matching': {
      if (r.type !== 'matching' || r.answers == null || typeof r.answers !== 'object') return none();
      const given = (id: string) => (Object.hasOwn(r.answers, id) ? r.answers[id] : undefined);
      const answered = body.pairs.some((p) => typeof given(p.id) === 'string' && given(p.id) !== '');
      if (!answered) return none();
      const right = body.pairs.filter((p) => given(p.id) === p.answer).length;
      return withFeedback(right / body.pairs.length);
    }
    case 'ordering': {
      if (r.type !== 'ordering' || !Array.isArray(r.order) || r.order.length === 0) return none();
      const right = body.items.filter((it, i) => r.order[i] === it.id).length;
      const fraction = body.scoring === 'all-or-nothing' ? (right === body.items.length ? 1 : 0) : right / body.items.length;
      return withFeedback(fraction);
    }
    case 'cloze': {
      if (r.type !== 'cloze' || r.gaps == null || typeof r.gaps !== 'object') return none();
      let total = 0;
      let got = 0;
      let answered = false;
      const feedback: string[] = [];
      for (const g of body.gaps) {
        total += g.weight;
        const gr = Object.hasOwn(r.gaps, g.id) ? r.gaps[g.id] : undefined;
        const s = scoreUnsafe(g.body, d.gaps?.[g.id] ?? { params: {}, order: [] }, gapResponse(g.body, gr));
        got += g.weight * (s.fraction ?? 0);
        answered ||= s.answered;
        feedback.push(...s.feedback);
      }
      return answered ? { fraction: clamp01(total > 0 ? got / total : 0), answered, feedback } : none();
    }
    case 'essay':
      if (r.type !== 'essay' || typeof r.text !== 'string' || r.text.trim() === '') return none();
      return { fraction: null, answered: true, feedback: [] };
    case 'file':
      if (r.type !== 'file' || !Array.isArray(r.fileIds) || r.fileIds.length === 0) return none();
      return { fraction: null, answered: true, feedback: [] };
  }
}

/** A cloze gap's answer as the response of the gap's own type (null when it has the wrong shape). */
function gapResponse(body: GapBody, gr: GapResponse | undefined): QuestionResponse | null {
  if (gr == null || typeof gr !== 'object') return null;
  switch (body.type) {
    case 'single':
      return 'choiceId' in gr && (typeof gr.choiceId === 'string' || gr.choiceId === null) ? { type: 'single', choiceId: gr.choiceId } : null;
    case 'multiple':
      return 'choiceIds' in gr && Array.isArray(gr.choiceIds) ? { type: 'multiple', choiceIds: gr.choiceIds } : null;
    case 'truefalse':
      return 'value' in gr && (typeof gr.value === 'boolean' || gr.value === null) ? { type: 'truefalse', value: gr.value } : null;
    case 'short':
    case 'numerical':
      return 'text' in gr && typeof gr.text === 'string' ? { type: body.type, text: gr.text } : null;
  }
}

/** A cloze gap's response shape from a full response of the gap's type. */
function toGapResponse(r: QuestionResponse | null): GapResponse | null {
  if (!r) return null;
  switch (r.type) {
    case 'single':
      return { choiceId: r.choiceId };
    case 'multiple':
      return { choiceIds: r.choiceIds };
    case 'truefalse':
      return { value: r.value };
    case 'short':
    case 'numerical':
      return { text: r.text };
    default:
      return null;
  }
}

// ---------------------------------------------------------------- right answer

/** A text a learner could type to match a pattern: wildcards left out (`\\*` is a star), or filled with 'x' where they must match something. */
function exampleFor(pattern: string, caseSensitive: boolean): string {
  for (const fill of ['', 'x']) {
    const text = normalizeSpace(
      globParts(pattern)
        .map((p) => (p === STAR ? fill : p))
        .join(''),
    );
    if (text !== '' && matchesPattern(pattern, text, caseSensitive)) return text;
  }
  return 'x';
}

const numberText = (v: number): string => String(v);

/** A right answer (full credit) for review, and the same as text. */
export function rightAnswer(body: QuestionBody, d: Draw): { response: QuestionResponse | null; text: string } {
  switch (body.type) {
    case 'single': {
      const best = body.choices.reduce((a, b) => (b.fraction > a.fraction ? b : a));
      return { response: { type: 'single', choiceId: best.id }, text: best.text };
    }
    case 'multiple': {
      const right = body.choices.filter((c) => c.fraction > 0);
      return { response: { type: 'multiple', choiceIds: right.map((c) => c.id) }, text: right.map((c) => c.text).join('; ') };
    }
    case 'truefalse':
      return { response: { type: 'truefalse', value: body.answer }, text: body.answer ? 'True' : 'False' };
    case 'short': {
      const best = body.answers.reduce((a, b) => (b.fraction > a.fraction ? b : a));
      // An earlier pattern in the list may match the example with less credit: take the best one that scores fully.
      const candidates = body.answers.filter((a) => a.fraction === best.fraction);
      const example = (a: (typeof body.answers)[number]) => exampleFor(a.pattern, body.caseSensitive);
      const pick = candidates.find((a) => body.answers.find((x) => matchesPattern(x.pattern, example(a), body.caseSensitive)) === a) ?? best;
      return { response: { type: 'short', text: example(pick) }, text: example(pick) };
    }
    case 'numerical': {
      const best = body.answers.reduce((a, b) => (b.fraction > a.fraction ? b : a));
      const unit = body.units[0]?.unit;
      const text = unit ? `${numberText(best.value)} ${unit}` : numberText(best.value);
      return { response: { type: 'numerical', text }, text: best.tolerance > 0 ? `${text} (± ${numberText(best.tolerance)})` : text };
    }
    case 'calculated': {
      const unit = body.units[0]?.unit;
      const suffix = unit ? ` ${unit}` : '';
      try {
        const value = evaluate(body.formula, paramsOf(body, d));
        // The response carries the full value (a rounded one may fall outside a relative tolerance); the text is rounded.
        return { response: { type: 'calculated', text: `${numberText(value)}${suffix}` }, text: `${formatFixed(value, body.decimals)}${suffix}` };
      } catch {
        return { response: null, text: '' };
      }
    }
    case 'matching': {
      const answers: Record<string, string> = {};
      for (const p of body.pairs) answers[p.id] = p.answer;
      return { response: { type: 'matching', answers }, text: body.pairs.map((p) => `${p.prompt} → ${p.answer}`).join('; ') };
    }
    case 'ordering':
      return { response: { type: 'ordering', order: body.items.map((i) => i.id) }, text: body.items.map((i, n) => `${n + 1}. ${i.text}`).join('; ') };
    case 'cloze': {
      const gaps: Record<string, GapResponse> = {};
      const texts: string[] = [];
      for (const g of body.gaps) {
        const ra = rightAnswer(g.body, d.gaps?.[g.id] ?? { params: {}, order: [] });
        const gr = toGapResponse(ra.response);
        if (gr) gaps[g.id] = gr;
        texts.push(`${g.id}: ${ra.text}`);
      }
      return { response: { type: 'cloze', gaps }, text: texts.join('; ') };
    }
    case 'essay':
    case 'file':
      // A person grades these; graderInfo is for graders only and never leaves through here.
      return { response: null, text: '' };
  }
}
