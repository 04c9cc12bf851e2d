import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { questionDraft, type QuestionDraft } from '@lms/contracts';
import { parseGift, toGift } from '../src/index.js';

/** A GIFT file the way Moodle users write them (the examples of docs.moodle.org/en/GIFT_format, plus oddities). */
const moodleSample = String.raw`// question: 1 name: Grant's tomb
$CATEGORY: $course$/top/History

::Grant's tomb::Who's buried in Grant's tomb?{~Grant =no one#Nobody is buried there ~Napoleon ~Churchill ~Mother Teresa}

//Comment line
::Question title
:: Question {
=A correct answer
~Wrong answer1
#A response to wrong answer1
~Wrong answer2
####General feedback
}

::Sun rises::The sun rises in the East.{T}

::Two plus::Two plus two equals three.{F#No, it is four.#Right, it is not three.}

::Five::Two plus three equals {=five =5 =%50%fiv*}

$CATEGORY: $course$/top/Maths

::Pi::What is pi (to 2 places)?{#3.14:0.01#close enough}

::Range::A number between 1 and 5 {#1..5}

::Multi num::When was Ulysses S. Grant born?{#
=1822:0      # Correct! Full credit.
=%50%1822:2  # He was born in 1822. Half credit for being close.
}

::Match::Match the countries.{
=Canada -> Ottawa
=Italy -> Rome
=Japan -> Tokyo
= -> Berlin
}

::Escapes::Math\: 1 \= 1 and \{braces\} and \# and \~ tilde{=yes}

::Essay::[markdown]Write **about** your summer.{}

Mahatma Gandhi's birthday is an Indian holiday on {~15th ~3rd =2nd} of October.

::Multi::What two people are entombed in Grant's tomb? {
~%-100%No one
~%50%Grant
~%50%Grant's wife
~%-100%Grant's father
}

::Broken::This one has no end {=yes

::No answers::Just a description without braces.

::Fine after errors::Still read? {TRUE}
`;

describe('parseGift', () => {
  const { questions, errors } = parseGift(moodleSample);
  const byTitle = new Map(questions.map((q) => [q.draft.title, q]));
  it('reads every type with categories, feedback and escapes', () => {
    expect(byTitle.get("Grant's tomb")).toMatchObject({
      category: '$course$/top/History',
      draft: { prompt: "Who's buried in Grant's tomb?", body: { type: 'single' } },
    });
    const grant = byTitle.get("Grant's tomb")?.draft.body;
    expect(grant?.type === 'single' && grant.choices.map((c) => [c.id, c.text, c.fraction, c.feedback])).toEqual([
      ['c1', 'Grant', 0, undefined],
      ['c2', 'no one', 1, 'Nobody is buried there'],
      ['c3', 'Napoleon', 0, undefined],
      ['c4', 'Churchill', 0, undefined],
      ['c5', 'Mother Teresa', 0, undefined],
    ]);
    expect(byTitle.get('Question title')?.draft).toMatchObject({
      prompt: 'Question',
      generalFeedback: 'General feedback',
      body: {
        choices: [{ text: 'A correct answer', fraction: 1 }, { text: 'Wrong answer1', feedback: 'A response to wrong answer1' }, { text: 'Wrong answer2' }],
      },
    });
    expect(byTitle.get('Sun rises')?.draft.body).toEqual({ type: 'truefalse', answer: true });
    expect(byTitle.get('Two plus')?.draft.body).toEqual({
      type: 'truefalse',
      answer: false,
      feedbackTrue: 'No, it is four.',
      feedbackFalse: 'Right, it is not three.',
    });
    expect(byTitle.get('Five')?.draft.body).toMatchObject({
      type: 'short',
      answers: [
        { pattern: 'five', fraction: 1 },
        { pattern: '5', fraction: 1 },
        { pattern: 'fiv*', fraction: 0.5 },
      ],
    });
    expect(byTitle.get('Pi')).toMatchObject({
      category: '$course$/top/Maths',
      draft: { body: { type: 'numerical', answers: [{ value: 3.14, tolerance: 0.01, fraction: 1, feedback: 'close enough' }] } },
    });
    expect(byTitle.get('Range')?.draft.body).toMatchObject({ answers: [{ value: 3, tolerance: 2, fraction: 1 }] });
    expect(byTitle.get('Multi num')?.draft.body).toMatchObject({
      answers: [
        { value: 1822, tolerance: 0, fraction: 1, feedback: 'Correct! Full credit.' },
        { value: 1822, tolerance: 2, fraction: 0.5 },
      ],
    });
    expect(byTitle.get('Match')?.draft.body).toMatchObject({
      type: 'matching',
      pairs: [
        { id: 'p1', prompt: 'Canada', answer: 'Ottawa' },
        { id: 'p2', prompt: 'Italy', answer: 'Rome' },
        { id: 'p3', prompt: 'Japan', answer: 'Tokyo' },
      ],
      distractors: ['Berlin'],
    });
    expect(byTitle.get('Escapes')?.draft.prompt).toBe('Math: 1 = 1 and {braces} and # and ~ tilde');
    expect(byTitle.get('Essay')?.draft).toMatchObject({ prompt: 'Write **about** your summer.', body: { type: 'essay' } });
    const gandhi = questions.find((q) => q.draft.prompt.startsWith('Mahatma'));
    expect(gandhi?.draft.prompt).toBe("Mahatma Gandhi's birthday is an Indian holiday on _____ of October.");
    expect(gandhi?.draft.title).toContain('Mahatma');
    expect(byTitle.get('Multi')?.draft.body).toMatchObject({
      type: 'multiple',
      choices: [{ fraction: -1 }, { fraction: 0.5 }, { fraction: 0.5 }, { fraction: -1 }],
    });
  });
  it('reports broken questions with their line and goes on', () => {
    expect(errors.map((e) => e.at)).toEqual([`line ${lineOf('::Broken::')}`, `line ${lineOf('::No answers::')}`]);
    expect(byTitle.get('Fine after errors')?.draft.body).toEqual({ type: 'truefalse', answer: true });
    expect(questions).toHaveLength(14);
  });
  it('reports a question whose body is unusable (no right choice)', () => {
    const r = parseGift('::x::Pick {~a ~b}');
    expect(r.questions).toHaveLength(0);
    expect(r.errors[0]?.message).toMatch(/add up to 1/);
  });
});

function lineOf(s: string): number {
  return moodleSample.split('\n').findIndex((l) => l.startsWith(s)) + 1;
}

// ---------------------------------------------------------------- round trip

/** Printable text with GIFT's specials, unicode and inner whitespace; trimmed and non-empty (GIFT trims). */
const txt = (max = 30) =>
  fc
    .string({ unit: fc.constantFrom(...'ab Z09~=#{}:\\%->[]*_\tèé漢\n'.split('')), minLength: 1, maxLength: max })
    .map((s) => s.trim())
    .filter((s) => s !== '' && !s.includes('\n\n'));
const fb = fc.option(txt(), { nil: undefined });
const pct = fc.integer({ min: -100, max: 100 }).map((p) => p / 100);
const num = fc.double({ min: -1e6, max: 1e6, noNaN: true }).map((v) => v || 0);

const body = fc.oneof(
  // single: one right choice, the others below 1
  fc.array(fc.record({ text: txt(), fraction: pct.filter((f) => f < 1), feedback: fb }), { minLength: 1, maxLength: 5 }).chain((wrong) =>
    fc.record({ text: txt(), feedback: fb, at: fc.nat(wrong.length) }).map(({ text, feedback, at }) => {
      const choices = [...wrong];
      choices.splice(at, 0, { text, fraction: 1, feedback });
      return { type: 'single', choices: choices.map((c, i) => ({ id: `c${i + 1}`, ...c })) };
    }),
  ),
  // multiple: positive fractions adding up to 1, the others 0 or negative
  fc
    .tuple(
      fc.integer({ min: 1, max: 4 }),
      fc.array(fc.record({ text: txt(), fraction: pct.filter((f) => f <= 0), feedback: fb }), { minLength: 1, maxLength: 3 }),
    )
    .chain(([k, wrong]) =>
      fc.array(fc.record({ text: txt(), feedback: fb }), { minLength: k, maxLength: k }).map((right) => {
        const split = [[1], [0.5, 0.5], [0.5, 0.25, 0.25], [0.25, 0.25, 0.25, 0.25]][k - 1] ?? [];
        const choices = [...right.map((r, i) => ({ ...r, fraction: split[i] ?? 0 })), ...wrong];
        return { type: 'multiple', choices: choices.map((c, i) => ({ id: `c${i + 1}`, text: c.text, fraction: c.fraction, feedback: c.feedback })) };
      }),
    ),
  fc.record({ type: fc.constant('truefalse'), answer: fc.boolean(), feedbackTrue: fb, feedbackFalse: fb }),
  fc
    .tuple(fc.record({ pattern: txt(), feedback: fb }), fc.array(fc.record({ pattern: txt(), fraction: pct, feedback: fb }), { maxLength: 3 }))
    .map(([first, rest]) => ({
      type: 'short',
      answers: [{ ...first, fraction: 1 }, ...rest],
    })),
  fc
    .tuple(
      fc.record({ value: num, tolerance: fc.double({ min: 0, max: 100, noNaN: true }), feedback: fb }),
      fc.array(fc.record({ value: num, tolerance: fc.double({ min: 0, max: 100, noNaN: true }), fraction: pct, feedback: fb }), { maxLength: 2 }),
    )
    .map(([first, rest]) => ({ type: 'numerical', answers: [{ ...first, fraction: 1 }, ...rest] })),
  fc.record({
    type: fc.constant('matching'),
    pairs: fc.array(fc.record({ prompt: txt(), answer: txt() }), { minLength: 2, maxLength: 5 }).map((ps) => ps.map((p, i) => ({ id: `p${i + 1}`, ...p }))),
    distractors: fc.array(txt(), { maxLength: 2 }),
  }),
  fc.constant({ type: 'essay' }),
);

const question = fc
  .record({
    title: txt(40),
    prompt: fc.oneof(txt(80), fc.constant('')),
    body,
    generalFeedback: fb,
    category: fc.option(fc.constantFrom('$course$/top/A', 'B/C d'), { nil: null }),
  })
  .map(({ category, ...d }) => ({ draft: questionDraft.parse(d), category }));

describe('GIFT round trip', () => {
  it('parseGift(toGift(qs)) gives back the questions (property)', () => {
    fc.assert(
      fc.property(fc.array(question, { maxLength: 5 }), (qs) => {
        const text = toGift(qs);
        const back = parseGift(text);
        expect(back.errors).toEqual([]);
        expect(back.questions).toEqual(qs);
      }),
      { numRuns: 200 },
    );
  });
  it('the Moodle sample survives export and import', () => {
    const first = parseGift(moodleSample).questions;
    expect(parseGift(toGift(first)).questions).toEqual(first);
  });
  it('skips types GIFT cannot hold, with a comment', () => {
    const ordering: QuestionDraft = questionDraft.parse({
      title: 'Order',
      prompt: 'Order these',
      body: {
        type: 'ordering',
        items: [
          { id: 'a', text: 'A' },
          { id: 'b', text: 'B' },
        ],
      },
    });
    const text = toGift([{ draft: ordering, category: null }]);
    expect(text).toContain('// skipped: "Order" (ordering questions have no GIFT form)');
    expect(parseGift(text)).toEqual({ questions: [], errors: [] });
  });
});

describe('parseGift on anything', () => {
  it('never throws (property)', () => {
    const unit = fc.constantFrom(...'ab =~#{}:\\%->\n\n$CATEGORY:TF.0123'.split(''), '::', '{', '}', '####', '\n\n', '$CATEGORY: x\n', '//');
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit, maxLength: 120 })), (s) => {
        const r = parseGift(s);
        expect(r.questions.length + r.errors.length).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 1000 },
    );
  });
});
