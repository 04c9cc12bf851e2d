/**
 * QTI 3.0 export and import for the types QTI has.
 *
 * The container: QTI 3.0 packages items as separate files in an IMS content package (a zip with a manifest); the
 * engine does no I/O and returns one XML document, so toQti writes a single `<qti-assessment-items>` root (in the QTI
 * 3.0 ASI namespace) holding one ordinary `<qti-assessment-item>` per question. Each item is a complete QTI item and
 * can be cut out as its own file; parseQti reads this container and also a document whose root is one item.
 *
 * Mapping: single/multiple/truefalse → `qti-choice-interaction` (identifier, cardinality single/multiple,
 * `qti-mapping` for each choice's fraction, feedback as `qti-feedback-inline`); short → `qti-text-entry-interaction`
 * with base-type string, patterns as map entries (in order, `*` kept as our wildcard, `case-sensitive`); numerical →
 * the same with base-type float, each answer a map entry with its tolerance in `data-lms-tolerance`; matching →
 * `qti-match-interaction` (directedPair, two `qti-simple-match-set`s, unused right-side choices are distractors);
 * ordering → `qti-order-interaction` (cardinality ordered); essay → `qti-extended-text-interaction`; file →
 * `qti-upload-interaction`. What QTI has no attribute for travels in `data-lms-*` attributes (type, category, tags,
 * units, scoring, word limits, accepted media types); grader information in a scorer `qti-rubric-block`; per-answer and
 * general feedback in `qti-modal-feedback`. Calculated and cloze questions are skipped (listed in `skipped`).
 */
import type { QuestionBody, QuestionDraft } from '@lms/contracts';
import { importedQuestion } from './draft.js';
import type { Imported } from './types.js';
import { allText, el, elements, find, first, ownText, parseXml, serialize, type WEl, type XEl } from './xml.js';

const NS = 'http://www.imsglobal.org/xsd/imsqtiasi_v3p0';
const TEMPLATES = 'https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/';
const RESPONSE = 'RESPONSE';

type Question = Imported['questions'][number];

// ---------------------------------------------------------------- write

const value = (v: string) => el('qti-value', {}, v);
const feedbackInline = (id: string, text: string | undefined) =>
  text ? el('qti-feedback-inline', { 'outcome-identifier': 'FEEDBACK', identifier: id, 'show-hide': 'show' }, text) : null;
const modal = (id: string, text: string) =>
  el('qti-modal-feedback', { 'outcome-identifier': 'FEEDBACK', identifier: id, 'show-hide': 'show' }, el('qti-content-body', {}, text));
const rubric = (info: string | undefined) =>
  info === undefined ? null : el('qti-rubric-block', { view: 'scorer', use: 'scoring' }, el('qti-content-body', {}, info));
const declaration = (cardinality: string, baseType: string, correct: string[], mapping: WEl | null = null) =>
  el(
    'qti-response-declaration',
    { identifier: RESPONSE, cardinality, 'base-type': baseType },
    correct.length > 0 ? el('qti-correct-response', {}, ...correct.map(value)) : null,
    mapping,
  );
const mapping = (entries: WEl[]) => el('qti-mapping', { 'default-value': '0', 'lower-bound': '0', 'upper-bound': '1' }, ...entries);
const json = (v: unknown[]) => (v.length > 0 ? JSON.stringify(v) : undefined);

interface Parts {
  declaration: WEl;
  interaction: WEl;
  template: string;
  extra?: WEl | null;
  feedback?: WEl[];
}

function parts(body: QuestionBody): Parts | null {
  switch (body.type) {
    case 'single':
    case 'multiple': {
      const correct = body.choices.filter((c) => (body.type === 'single' ? c.fraction === 1 : c.fraction > 0)).map((c) => c.id);
      const entries = body.choices.filter((c) => c.fraction !== 0).map((c) => el('qti-map-entry', { 'map-key': c.id, 'mapped-value': String(c.fraction) }));
      return {
        declaration: declaration(body.type === 'single' ? 'single' : 'multiple', 'identifier', correct, mapping(entries)),
        interaction: el(
          'qti-choice-interaction',
          {
            'response-identifier': RESPONSE,
            shuffle: String(body.shuffle),
            'max-choices': body.type === 'single' ? 1 : 0,
            'data-lms-scoring': body.type === 'multiple' ? body.scoring : undefined,
          },
          ...body.choices.map((c) => el('qti-simple-choice', { identifier: c.id }, c.text, feedbackInline(c.id, c.feedback))),
        ),
        template: body.type === 'multiple' && body.scoring === 'all-or-nothing' ? 'match_correct' : 'map_response',
      };
    }
    case 'truefalse':
      return {
        declaration: declaration('single', 'identifier', [String(body.answer)]),
        interaction: el(
          'qti-choice-interaction',
          { 'response-identifier': RESPONSE, shuffle: 'false', 'max-choices': 1 },
          el('qti-simple-choice', { identifier: 'true' }, 'True', feedbackInline('true', body.feedbackTrue)),
          el('qti-simple-choice', { identifier: 'false' }, 'False', feedbackInline('false', body.feedbackFalse)),
        ),
        template: 'match_correct',
      };
    case 'short': {
      const best = body.answers.find((a) => a.fraction === 1) ?? body.answers[0];
      return {
        declaration: declaration(
          'single',
          'string',
          best ? [best.pattern] : [],
          mapping(
            body.answers.map((a) =>
              el('qti-map-entry', { 'map-key': a.pattern, 'mapped-value': String(a.fraction), 'case-sensitive': String(body.caseSensitive) }),
            ),
          ),
        ),
        interaction: el('p', {}, el('qti-text-entry-interaction', { 'response-identifier': RESPONSE })),
        template: 'map_response',
        feedback: body.answers.flatMap((a, i) => (a.feedback ? [modal(`answer-${i + 1}`, a.feedback)] : [])),
      };
    }
    case 'numerical': {
      const best = body.answers.find((a) => a.fraction === 1) ?? body.answers[0];
      return {
        declaration: declaration(
          'single',
          'float',
          best ? [String(best.value)] : [],
          mapping(
            body.answers.map((a) =>
              el('qti-map-entry', { 'map-key': String(a.value), 'mapped-value': String(a.fraction), 'data-lms-tolerance': String(a.tolerance) }),
            ),
          ),
        ),
        interaction: el(
          'p',
          {},
          el('qti-text-entry-interaction', {
            'response-identifier': RESPONSE,
            'data-lms-units': json(body.units),
            'data-lms-unit-handling': body.unitHandling,
          }),
        ),
        template: 'map_response',
        feedback: body.answers.flatMap((a, i) => (a.feedback ? [modal(`answer-${i + 1}`, a.feedback)] : [])),
      };
    }
    case 'matching': {
      // Right side: each distinct pair answer once (A1, A2, …), then each distractor (D1, D2, …).
      const answerIds = new Map<string, string>();
      for (const p of body.pairs) if (!answerIds.has(p.answer)) answerIds.set(p.answer, `A${answerIds.size + 1}`);
      const correct = body.pairs.map((p) => `${p.id} ${answerIds.get(p.answer) ?? ''}`);
      const share = String(1 / body.pairs.length);
      return {
        declaration: declaration(
          'multiple',
          'directedPair',
          correct,
          mapping(correct.map((c) => el('qti-map-entry', { 'map-key': c, 'mapped-value': share }))),
        ),
        interaction: el(
          'qti-match-interaction',
          { 'response-identifier': RESPONSE, shuffle: String(body.shuffle), 'max-associations': body.pairs.length },
          el('qti-simple-match-set', {}, ...body.pairs.map((p) => el('qti-simple-associable-choice', { identifier: p.id, 'match-max': 1 }, p.prompt))),
          el(
            'qti-simple-match-set',
            {},
            ...[...answerIds].map(([text, id]) => el('qti-simple-associable-choice', { identifier: id, 'match-max': 0 }, text)),
            ...body.distractors.map((d, i) => el('qti-simple-associable-choice', { identifier: `D${i + 1}`, 'match-max': 0 }, d)),
          ),
        ),
        template: 'map_response',
      };
    }
    case 'ordering':
      return {
        declaration: declaration(
          'ordered',
          'identifier',
          body.items.map((i) => i.id),
        ),
        interaction: el(
          'qti-order-interaction',
          { 'response-identifier': RESPONSE, shuffle: 'true', 'data-lms-scoring': body.scoring },
          ...body.items.map((i) => el('qti-simple-choice', { identifier: i.id }, i.text)),
        ),
        template: 'match_correct',
      };
    case 'essay':
      return {
        declaration: declaration('single', 'string', []),
        interaction: el('qti-extended-text-interaction', {
          'response-identifier': RESPONSE,
          'data-lms-min-words': body.minWords,
          'data-lms-max-words': body.maxWords,
        }),
        template: '',
        extra: rubric(body.graderInfo),
      };
    case 'file':
      return {
        declaration: declaration('single', 'file', []),
        interaction: el('qti-upload-interaction', {
          'response-identifier': RESPONSE,
          type: body.accept.length === 1 ? body.accept[0] : undefined,
          'data-lms-accept': json(body.accept),
          'data-lms-max-files': body.maxFiles,
        }),
        template: '',
        extra: rubric(body.graderInfo),
      };
    default:
      return null;
  }
}

function item(draft: QuestionDraft, category: string | null, identifier: string, p: Parts): WEl {
  const feedback = [...(p.feedback ?? []), ...(draft.generalFeedback !== undefined ? [modal('general', draft.generalFeedback)] : [])];
  return el(
    'qti-assessment-item',
    {
      identifier,
      title: draft.title,
      adaptive: 'false',
      'time-dependent': 'false',
      'data-lms-type': draft.body.type,
      'data-lms-category': category ?? undefined,
      'data-lms-tags': json(draft.tags),
    },
    p.declaration,
    el('qti-outcome-declaration', { identifier: 'SCORE', cardinality: 'single', 'base-type': 'float' }),
    el(
      'qti-outcome-declaration',
      { identifier: 'MAXSCORE', cardinality: 'single', 'base-type': 'float' },
      el('qti-default-value', {}, value(String(draft.defaultPoints))),
    ),
    el('qti-outcome-declaration', { identifier: 'FEEDBACK', cardinality: 'multiple', 'base-type': 'identifier' }),
    el('qti-item-body', {}, el('div', { class: 'lms-prompt' }, draft.prompt), p.interaction, p.extra),
    p.template ? el('qti-response-processing', { template: `${TEMPLATES}${p.template}` }) : null,
    ...feedback,
  );
}

/** One XML document (see the module comment for the container); calculated and cloze questions are skipped. */
export function toQti(questions: Imported['questions']): { xml: string; skipped: Array<{ title: string; reason: string }> } {
  const items: WEl[] = [];
  const skipped: Array<{ title: string; reason: string }> = [];
  questions.forEach(({ draft, category }, i) => {
    const p = parts(draft.body);
    if (p) items.push(item(draft, category, `q${i + 1}`, p));
    else skipped.push({ title: draft.title, reason: `${draft.body.type} questions have no QTI form here` });
  });
  const root = el('qti-assessment-items', { xmlns: NS }, ...items);
  const xml = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!-- One qti-assessment-item per question, each complete on its own; the root only groups them in one document. -->',
    serialize(root),
    '',
  ].join('\n');
  return { xml, skipped };
}

// ---------------------------------------------------------------- read

const num = (s: string | undefined, what: string): number => {
  const v = s === undefined || s.trim() === '' ? NaN : Number(s);
  if (!Number.isFinite(v)) throw new Error(`${what}: '${s ?? ''}' is not a number`);
  return v;
};
const optNum = (s: string | undefined, what: string): number | undefined => (s === undefined ? undefined : num(s, what));
const jsonArray = (s: string | undefined, what: string): unknown[] => {
  if (s === undefined) return [];
  try {
    const v: unknown = JSON.parse(s);
    if (Array.isArray(v)) return v as unknown[];
  } catch {
    // reported below
  }
  throw new Error(`${what} is not a JSON array`);
};
const INTERACTIONS = [
  'qti-choice-interaction',
  'qti-text-entry-interaction',
  'qti-match-interaction',
  'qti-order-interaction',
  'qti-extended-text-interaction',
  'qti-upload-interaction',
];

function readItem(x: XEl, index: number): Question {
  const itemBody = first(x, 'qti-item-body');
  if (!itemBody) throw new Error('no qti-item-body');
  const decl = elements(x, 'qti-response-declaration').find((d) => d.attrs.identifier === RESPONSE) ?? first(x, 'qti-response-declaration');
  const correct = decl ? find(decl, 'qti-correct-response').flatMap((c) => elements(c, 'qti-value').map(ownText)) : [];
  const entries = decl ? find(decl, 'qti-map-entry') : [];
  const mapped = new Map(entries.map((e) => [e.attrs['map-key'] ?? '', num(e.attrs['mapped-value'], 'mapped-value')]));
  const modals = new Map(elements(x, 'qti-modal-feedback').map((m) => [m.attrs.identifier ?? '', allText(first(m, 'qti-content-body') ?? m)]));
  const interaction = INTERACTIONS.map((name) => find(itemBody, name)[0]).find((i): i is XEl => i !== undefined);
  if (!interaction) throw new Error('no supported interaction');

  const promptEl = elements(itemBody, 'div').find((d) => d.attrs.class === 'lms-prompt');
  const prompt = promptEl
    ? ownText(promptEl)
    : [
        ...elements(itemBody)
          .filter((e) => !INTERACTIONS.includes(e.name) && e.name !== 'qti-rubric-block' && find(e, interaction.name).length === 0)
          .map(allText),
        ...elements(interaction, 'qti-prompt').map(allText),
      ]
        .map((s) => s.trim())
        .filter((s) => s !== '')
        .join('\n\n');
  const graderInfo = find(itemBody, 'qti-rubric-block')
    .filter((r) => r.attrs.view === 'scorer')
    .map((r) => allText(first(r, 'qti-content-body') ?? r))[0];
  const template = first(x, 'qti-response-processing')?.attrs.template ?? '';

  const declared = x.attrs['data-lms-type'];
  const type =
    declared ??
    {
      'qti-choice-interaction': interaction.attrs['max-choices'] === '1' ? 'single' : 'multiple',
      'qti-text-entry-interaction': decl?.attrs['base-type'] === 'float' ? 'numerical' : 'short',
      'qti-match-interaction': 'matching',
      'qti-order-interaction': 'ordering',
      'qti-extended-text-interaction': 'essay',
      'qti-upload-interaction': 'file',
    }[interaction.name];

  let body: Record<string, unknown>;
  switch (type) {
    case 'single':
    case 'multiple': {
      const rightShare = correct.length > 0 ? (type === 'single' ? 1 : 1 / correct.length) : 0;
      body = {
        type,
        shuffle: interaction.attrs.shuffle === 'true',
        ...(type === 'multiple'
          ? { scoring: interaction.attrs['data-lms-scoring'] ?? (template.endsWith('match_correct') ? 'all-or-nothing' : 'partial') }
          : {}),
        choices: elements(interaction, 'qti-simple-choice').map((c) => {
          const id = c.attrs.identifier ?? '';
          const fb = first(c, 'qti-feedback-inline');
          return {
            id,
            text: ownText(c),
            fraction: mapped.get(id) ?? (correct.includes(id) ? rightShare : 0),
            ...(fb ? { feedback: allText(fb) } : {}),
          };
        }),
      };
      break;
    }
    case 'truefalse': {
      const fb = (id: string) => {
        const c = elements(interaction, 'qti-simple-choice').find((s) => s.attrs.identifier === id);
        const f = c && first(c, 'qti-feedback-inline');
        return f ? allText(f) : undefined;
      };
      const t = fb('true');
      const f = fb('false');
      body = { type, answer: correct[0] === 'true', ...(t !== undefined ? { feedbackTrue: t } : {}), ...(f !== undefined ? { feedbackFalse: f } : {}) };
      break;
    }
    case 'short': {
      const answers =
        entries.length > 0
          ? entries.map((e, i) => ({
              pattern: e.attrs['map-key'] ?? '',
              fraction: num(e.attrs['mapped-value'], 'mapped-value'),
              feedback: modals.get(`answer-${i + 1}`),
            }))
          : correct.map((c) => ({ pattern: c, fraction: 1, feedback: undefined }));
      body = {
        type,
        caseSensitive: entries[0]?.attrs['case-sensitive'] === 'true',
        answers: answers.map(({ feedback, ...a }) => (feedback !== undefined ? { ...a, feedback } : a)),
      };
      break;
    }
    case 'numerical': {
      const entry = find(interaction, 'qti-text-entry-interaction')[0] ?? interaction;
      const answers =
        entries.length > 0
          ? entries.map((e, i) => ({
              value: num(e.attrs['map-key'], 'map-key'),
              tolerance: num(e.attrs['data-lms-tolerance'] ?? '0', 'data-lms-tolerance'),
              fraction: num(e.attrs['mapped-value'], 'mapped-value'),
              feedback: modals.get(`answer-${i + 1}`),
            }))
          : correct.map((c) => ({ value: num(c, 'correct response'), tolerance: 0, fraction: 1, feedback: undefined }));
      body = {
        type,
        answers: answers.map(({ feedback, ...a }) => (feedback !== undefined ? { ...a, feedback } : a)),
        units: jsonArray(entry.attrs['data-lms-units'], 'data-lms-units'),
        ...(entry.attrs['data-lms-unit-handling'] ? { unitHandling: entry.attrs['data-lms-unit-handling'] } : {}),
      };
      break;
    }
    case 'matching': {
      const sets = elements(interaction, 'qti-simple-match-set');
      const side = (i: number) =>
        elements(sets[i] ?? interaction, 'qti-simple-associable-choice').map((c) => ({ id: c.attrs.identifier ?? '', text: ownText(c) }));
      const left = side(0);
      const right = side(1);
      const links = new Map<string, string>();
      for (const c of correct) {
        const [from, to] = c.trim().split(/\s+/);
        if (from && to) links.set(from, to);
      }
      const used = new Set(links.values());
      body = {
        type,
        shuffle: interaction.attrs.shuffle !== 'false',
        pairs: left.map((l) => {
          const answer = right.find((r) => r.id === links.get(l.id));
          if (!answer) throw new Error(`matching: '${l.id}' has no correct answer`);
          return { id: l.id, prompt: l.text, answer: answer.text };
        }),
        distractors: right.filter((r) => !used.has(r.id)).map((r) => r.text),
      };
      break;
    }
    case 'ordering': {
      const texts = new Map(elements(interaction, 'qti-simple-choice').map((c) => [c.attrs.identifier ?? '', ownText(c)]));
      body = {
        type,
        scoring: interaction.attrs['data-lms-scoring'] ?? (template.endsWith('map_response') ? 'partial' : 'all-or-nothing'),
        items: (correct.length > 0 ? correct : [...texts.keys()]).map((id) => {
          const text = texts.get(id);
          if (text === undefined) throw new Error(`ordering: '${id}' is not a choice`);
          return { id, text };
        }),
      };
      break;
    }
    case 'essay':
      body = {
        type,
        ...(interaction.attrs['data-lms-min-words'] !== undefined ? { minWords: optNum(interaction.attrs['data-lms-min-words'], 'data-lms-min-words') } : {}),
        ...(interaction.attrs['data-lms-max-words'] !== undefined ? { maxWords: optNum(interaction.attrs['data-lms-max-words'], 'data-lms-max-words') } : {}),
        ...(graderInfo !== undefined ? { graderInfo } : {}),
      };
      break;
    case 'file': {
      const accept = interaction.attrs['data-lms-accept'];
      body = {
        type,
        accept: accept !== undefined ? jsonArray(accept, 'data-lms-accept') : interaction.attrs.type ? [interaction.attrs.type] : [],
        ...(interaction.attrs['data-lms-max-files'] !== undefined ? { maxFiles: num(interaction.attrs['data-lms-max-files'], 'data-lms-max-files') } : {}),
        ...(graderInfo !== undefined ? { graderInfo } : {}),
      };
      break;
    }
    default:
      throw new Error(`question type '${type ?? ''}' is not supported`);
  }

  const maxScore = elements(x, 'qti-outcome-declaration').find((o) => o.attrs.identifier === 'MAXSCORE');
  const points = maxScore ? find(maxScore, 'qti-value')[0] : undefined;
  const general = modals.get('general');
  return importedQuestion(
    {
      title: x.attrs.title || x.attrs.identifier || `Question ${index + 1}`,
      prompt,
      body,
      ...(points ? { defaultPoints: num(ownText(points), 'MAXSCORE') } : {}),
      ...(general !== undefined ? { generalFeedback: general } : {}),
      tags: jsonArray(x.attrs['data-lms-tags'], 'data-lms-tags'),
    },
    x.attrs['data-lms-category'] ?? null,
  );
}

/** QTI 3.0 XML (types QTI has); what toQti writes parseQti reads back to the same questions. */
export function parseQti(xml: string): Imported {
  const out: Imported = { questions: [], errors: [] };
  let root: XEl;
  try {
    root = parseXml(xml);
  } catch (e) {
    out.errors.push({ at: 'document', message: e instanceof Error ? e.message : 'cannot be read' });
    return out;
  }
  const items = root.name === 'qti-assessment-item' ? [root] : root.name === 'qti-assessment-items' ? elements(root, 'qti-assessment-item') : null;
  if (!items) {
    out.errors.push({ at: 'document', message: `expected qti-assessment-items or qti-assessment-item, found ${root.name}` });
    return out;
  }
  items.forEach((x, i) => {
    try {
      out.questions.push(readItem(x, i));
    } catch (e) {
      out.errors.push({ at: `item ${x.attrs.identifier ?? i + 1}`, message: e instanceof Error ? e.message : 'cannot be read' });
    }
  });
  return out;
}
