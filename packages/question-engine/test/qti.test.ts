import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { questionDraft } from '@lms/contracts';
import { parseQti, toQti } from '../src/index.js';

/** Text with XML's specials, quotes, whitespace at the ends, newlines, tabs and unicode (XML cannot hold other controls). */
const txt = (max = 30) => fc.string({ unit: fc.constantFrom(...[...'ab Z09<>&"\'=;#\n\t\rèé漢😀'], '&amp;', ']]>'), maxLength: max });
const ne = (max = 30) => txt(max).filter((s) => s !== '');
const fb = fc.option(ne(), { nil: undefined });
const pct = fc.integer({ min: -100, max: 100 }).map((p) => p / 100);
const num = fc.double({ min: -1e9, max: 1e9, noNaN: true }).map((v) => v || 0);
const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);

const body = fc.oneof(
  fc.array(fc.record({ text: txt(), fraction: pct.filter((f) => f < 1), feedback: fb }), { minLength: 1, maxLength: 5 }).chain((wrong) =>
    fc.record({ text: txt(), feedback: fb, at: fc.nat(wrong.length), shuffle: fc.boolean() }).map(({ text, feedback, at, shuffle }) => {
      const choices = [...wrong];
      choices.splice(at, 0, { text, fraction: 1, feedback });
      return { type: 'single', shuffle, choices: choices.map((c, i) => ({ id: `c_${i + 1}`, ...c })) };
    }),
  ),
  fc
    .record({
      right: fc.array(fc.record({ text: txt(), feedback: fb }), { minLength: 2, maxLength: 2 }),
      wrong: fc.array(fc.record({ text: txt(), fraction: pct.filter((f) => f <= 0), feedback: fb }), { maxLength: 3 }),
      scoring: fc.constantFrom('partial', 'all-or-nothing'),
      shuffle: fc.boolean(),
    })
    .map(({ right, wrong, scoring, shuffle }) => ({
      type: 'multiple',
      scoring,
      shuffle,
      choices: [...right.map((r) => ({ ...r, fraction: 0.5 })), ...wrong].map((c, i) => ({ id: `m-${i + 1}`, ...c })),
    })),
  fc.record({ type: fc.constant('truefalse'), answer: fc.boolean(), feedbackTrue: fb, feedbackFalse: fb }),
  fc.record({
    type: fc.constant('short'),
    caseSensitive: fc.boolean(),
    answers: fc
      .tuple(fc.record({ pattern: ne(), feedback: fb }), fc.array(fc.record({ pattern: ne(), fraction: pct, feedback: fb }), { maxLength: 3 }))
      .map(([f, rest]) => [{ ...f, fraction: 1 }, ...rest]),
  }),
  fc.record({
    type: fc.constant('numerical'),
    answers: fc
      .tuple(
        fc.record({ value: num, tolerance: fc.double({ min: 0, max: 100, noNaN: true }), feedback: fb }),
        fc.array(fc.record({ value: num, tolerance: fc.double({ min: 0, max: 100, noNaN: true }), fraction: pct, feedback: fb }), { maxLength: 2 }),
      )
      .map(([f, rest]) => [{ ...f, fraction: 1 }, ...rest]),
    units: fc.constantFrom(
      [],
      [
        { unit: 'm', multiplier: 1 },
        { unit: 'c"m<', multiplier: 100 },
      ],
    ),
    unitHandling: fc.constantFrom('optional', 'required'),
  }),
  fc.record({
    type: fc.constant('matching'),
    shuffle: fc.boolean(),
    pairs: fc
      .array(fc.record({ prompt: txt(), answer: fc.constantFrom('x', 'y', 'z <&>', '') }), { minLength: 2, maxLength: 5 })
      .map((ps) => ps.map((p, i) => ({ id: `p${i + 1}`, ...p }))),
    distractors: fc.array(fc.constantFrom('d1', 'd 2', 'x'), { maxLength: 3 }),
  }),
  fc.record({
    type: fc.constant('ordering'),
    scoring: fc.constantFrom('partial', 'all-or-nothing'),
    items: fc.array(txt(), { minLength: 2, maxLength: 6 }).map((ts) => ts.map((text, i) => ({ id: ids('it', ts.length)[i] ?? '', text }))),
  }),
  fc.record({
    type: fc.constant('essay'),
    minWords: fc.option(fc.nat(50), { nil: undefined }),
    maxWords: fc.option(fc.integer({ min: 50, max: 500 }), { nil: undefined }),
    graderInfo: fc.option(txt(), { nil: undefined }),
  }),
  fc.record({
    type: fc.constant('file'),
    maxFiles: fc.integer({ min: 1, max: 20 }),
    accept: fc.constantFrom([], ['application/pdf'], ['image/*', 'application/pdf']),
    graderInfo: fc.option(txt(), { nil: undefined }),
  }),
);

const question = fc
  .record({
    title: ne(40),
    prompt: txt(80),
    body,
    defaultPoints: fc.integer({ min: 1, max: 400 }).map((p) => p / 4),
    generalFeedback: fc.option(txt(), { nil: undefined }),
    tags: fc.array(ne(10), { maxLength: 3 }),
    category: fc.option(txt(20), { nil: null }),
  })
  .map(({ category, ...d }) => ({ draft: questionDraft.parse(d), category }));

describe('QTI round trip', () => {
  it('parseQti(toQti(qs)) gives back the questions (property)', () => {
    fc.assert(
      fc.property(fc.array(question, { maxLength: 4 }), (qs) => {
        const { xml, skipped } = toQti(qs);
        expect(skipped).toEqual([]);
        const back = parseQti(xml);
        expect(back.errors).toEqual([]);
        expect(back.questions).toEqual(qs);
      }),
      { numRuns: 150 },
    );
  });
  it('writes the QTI 3.0 elements and skips calculated and cloze', () => {
    const q = (body: unknown, title = 'T') => ({ draft: questionDraft.parse({ title, prompt: 'P <b>&', body }), category: null });
    const { xml, skipped } = toQti([
      q({
        type: 'single',
        choices: [
          { id: 'a', text: 'A', fraction: 1 },
          { id: 'b', text: 'B', fraction: 0 },
        ],
      }),
      q({ type: 'calculated', params: [{ name: 'a', min: 1, max: 2 }], formula: 'a' }, 'Calc'),
      q({ type: 'cloze', text: '{{g}}', gaps: [{ id: 'g', body: { type: 'truefalse', answer: true } }] }, 'Cloze'),
    ]);
    expect(xml).toContain('<qti-assessment-items xmlns="http://www.imsglobal.org/xsd/imsqtiasi_v3p0">');
    expect(xml).toContain('<qti-correct-response>');
    expect(xml).toContain('<qti-choice-interaction response-identifier="RESPONSE" shuffle="true" max-choices="1">');
    expect(xml).toContain('P &lt;b&gt;&amp;');
    expect(skipped.map((s) => s.title)).toEqual(['Calc', 'Cloze']);
  });
});

describe('parseQti', () => {
  it('reads a single item written elsewhere (no lms extensions)', () => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
<qti-assessment-item xmlns="http://www.imsglobal.org/xsd/imsqtiasi_v3p0" identifier="choice" title="Unattended Luggage" adaptive="false" time-dependent="false">
  <qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="identifier">
    <qti-correct-response><qti-value>ChoiceA</qti-value></qti-correct-response>
  </qti-response-declaration>
  <qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float"><qti-default-value><qti-value>0</qti-value></qti-default-value></qti-outcome-declaration>
  <qti-item-body>
    <p>Look at the text in the picture.</p>
    <qti-choice-interaction response-identifier="RESPONSE" shuffle="false" max-choices="1">
      <qti-prompt>What does it say?</qti-prompt>
      <qti-simple-choice identifier="ChoiceA">You must stay with your luggage at all times.</qti-simple-choice>
      <qti-simple-choice identifier="ChoiceB">Do not let someone else look after your luggage.</qti-simple-choice>
    </qti-choice-interaction>
  </qti-item-body>
  <qti-response-processing template="https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/match_correct"/>
</qti-assessment-item>`;
    const r = parseQti(xml);
    expect(r.errors).toEqual([]);
    expect(r.questions[0]?.draft).toMatchObject({
      title: 'Unattended Luggage',
      prompt: 'Look at the text in the picture.\n\nWhat does it say?',
      body: {
        type: 'single',
        shuffle: false,
        choices: [
          { id: 'ChoiceA', fraction: 1 },
          { id: 'ChoiceB', fraction: 0 },
        ],
      },
    });
  });
  it('refuses hostile and broken documents without throwing', () => {
    const bomb = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><qti-assessment-items>&lol2;</qti-assessment-items>`;
    expect(parseQti(bomb)).toEqual({ questions: [], errors: [{ at: 'document', message: 'a DOCTYPE is not allowed' }] });
    const xxe = `<?xml version="1.0"?><!doctype x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><x>&xxe;</x>`;
    expect(parseQti(xxe).errors[0]?.message).toMatch(/DOCTYPE/);
    expect(parseQti('<qti-assessment-items><qti-assessment-item>').errors[0]?.message).toMatch(/well-formed/);
    expect(parseQti('').errors).toHaveLength(1);
    expect(parseQti('<a>' + '<b>'.repeat(5000) + '</b>'.repeat(5000) + '</a>').errors).toHaveLength(1);
    expect(parseQti('<html/>').errors[0]?.message).toMatch(/expected/);
  });
  it('an unreadable item is an error, the others still import', () => {
    const good = toQti([{ draft: questionDraft.parse({ title: 'ok', prompt: '', body: { type: 'truefalse', answer: true } }), category: null }]).xml;
    const xml = good.replace(
      '</qti-assessment-items>',
      '<qti-assessment-item identifier="bad" title="bad"><qti-item-body/></qti-assessment-item></qti-assessment-items>',
    );
    const r = parseQti(xml);
    expect(r.questions).toHaveLength(1);
    expect(r.errors).toEqual([{ at: 'item bad', message: 'no supported interaction' }]);
  });
  it('fuzz: random text never throws', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        const r = parseQti(s);
        expect(Array.isArray(r.errors)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
