/**
 * Question types: what an author writes (the body, with its key), what a learner is shown (the presented
 * question, never a key), and what a learner answers (the response). The scoring engine in
 * `services/assessments/src/engine/` is the only code that reads a key.
 */
import { z } from 'zod';

const text = (max = 20_000) => z.string().max(max);
/** Credit a choice or an answer gives, as a fraction of the question's points (negative for a penalty). */
const fraction = z.number().min(-1).max(1);
const localId = z
  .string()
  .min(1)
  .max(40)
  .regex(/^[A-Za-z0-9_-]+$/)
  .meta({ description: 'Stable id of a choice, item, pair or gap within the question' });

const choice = z.object({ id: localId, text: text(5000), fraction, feedback: text(5000).optional() });

export const singleChoiceBody = z.object({
  type: z.literal('single'),
  choices: z.array(choice).min(2).max(30),
  shuffle: z.boolean().default(true),
});
export const multipleChoiceBody = z.object({
  type: z.literal('multiple'),
  /** Each choice's fraction: the right ones add up to 1; wrong ones may take credit away. */
  choices: z.array(choice).min(2).max(30),
  shuffle: z.boolean().default(true),
  /** partial: sum of the chosen fractions (floored at 0); all-or-nothing: full credit only for exactly the right set. */
  scoring: z.enum(['partial', 'all-or-nothing']).default('partial'),
});
export const trueFalseBody = z.object({
  type: z.literal('truefalse'),
  answer: z.boolean(),
  feedbackTrue: text(5000).optional(),
  feedbackFalse: text(5000).optional(),
});
export const shortAnswerBody = z.object({
  type: z.literal('short'),
  /** Patterns in order; `*` matches any run of characters. The first that matches gives its fraction. */
  answers: z
    .array(z.object({ pattern: z.string().min(1).max(500), fraction, feedback: text(5000).optional() }))
    .min(1)
    .max(30),
  caseSensitive: z.boolean().default(false),
});
const unit = z.object({ unit: z.string().min(1).max(20), multiplier: z.number().positive() });
export const numericalBody = z.object({
  type: z.literal('numerical'),
  answers: z
    .array(z.object({ value: z.number(), tolerance: z.number().min(0).default(0), fraction, feedback: text(5000).optional() }))
    .min(1)
    .max(30),
  /** Accepted units; the first has multiplier 1. An answer in another unit is converted. */
  units: z.array(unit).max(10).default([]),
  /** required: an answer without a (known) unit gets no credit; optional: a bare number is read in the first unit. */
  unitHandling: z.enum(['optional', 'required']).default('optional'),
});
export const calculatedBody = z.object({
  type: z.literal('calculated'),
  /** Drawn once per attempt, uniformly from [min, max], rounded to `decimals`. Referenced as {name} in the prompt. */
  params: z
    .array(
      z.object({ name: z.string().regex(/^[a-z][a-z0-9_]{0,19}$/), min: z.number(), max: z.number(), decimals: z.number().int().min(0).max(6).default(0) }),
    )
    .min(1)
    .max(10),
  /** Arithmetic over the params: + - * / ^, parentheses, and sqrt abs sin cos tan log ln exp min max round pi e. Never `eval`ed. */
  formula: z.string().min(1).max(500),
  tolerance: z.number().min(0).default(0.01),
  toleranceType: z.enum(['absolute', 'relative']).default('relative'),
  /** Decimals the correct answer is shown with. */
  decimals: z.number().int().min(0).max(6).default(2),
  units: z.array(unit).max(10).default([]),
});
export const matchingBody = z.object({
  type: z.literal('matching'),
  pairs: z
    .array(z.object({ id: localId, prompt: text(2000), answer: text(2000) }))
    .min(2)
    .max(30),
  /** Extra wrong answers offered. */
  distractors: z.array(text(2000)).max(20).default([]),
  shuffle: z.boolean().default(true),
});
export const orderingBody = z.object({
  type: z.literal('ordering'),
  /** In the correct order. */
  items: z
    .array(z.object({ id: localId, text: text(2000) }))
    .min(2)
    .max(30),
  /** all-or-nothing, or partial: share of items in their correct position. */
  scoring: z.enum(['all-or-nothing', 'partial']).default('partial'),
});
export const essayBody = z.object({
  type: z.literal('essay'),
  minWords: z.number().int().min(0).optional(),
  maxWords: z.number().int().min(1).optional(),
  /** Shown to graders. */
  graderInfo: text(20_000).optional(),
});
export const fileResponseBody = z.object({
  type: z.literal('file'),
  maxFiles: z.number().int().min(1).max(20).default(1),
  /** Accepted media types (e.g. application/pdf, image/*); empty: any. */
  accept: z.array(z.string().max(100)).max(20).default([]),
  graderInfo: text(20_000).optional(),
});

/** A gap of a fill-in-the-blanks question: any automatically scored type. */
export const gapBody = z.discriminatedUnion('type', [singleChoiceBody, multipleChoiceBody, trueFalseBody, shortAnswerBody, numericalBody]);
export const clozeBody = z.object({
  type: z.literal('cloze'),
  /** The text with gaps written `{{gapId}}`. */
  text: text(20_000),
  gaps: z
    .array(z.object({ id: localId, weight: z.number().positive().default(1), body: gapBody }))
    .min(1)
    .max(50),
});

export const questionBody = z
  .discriminatedUnion('type', [
    singleChoiceBody,
    multipleChoiceBody,
    trueFalseBody,
    shortAnswerBody,
    numericalBody,
    calculatedBody,
    matchingBody,
    orderingBody,
    clozeBody,
    essayBody,
    fileResponseBody,
  ])
  .meta({ id: 'QuestionBody' });
export type QuestionBody = z.infer<typeof questionBody>;
export type QuestionType = QuestionBody['type'];
export const questionTypes = [
  'single',
  'multiple',
  'truefalse',
  'short',
  'numerical',
  'calculated',
  'matching',
  'ordering',
  'cloze',
  'essay',
  'file',
] as const satisfies readonly QuestionType[];
/** Types a person grades. */
export const manualTypes: readonly QuestionType[] = ['essay', 'file'];

/** What an author writes: the body plus the words around it. */
export const questionDraft = z.object({
  title: z.string().min(1).max(200),
  /** Markdown; calculated questions reference their params as {name}. */
  prompt: text(50_000),
  body: questionBody,
  defaultPoints: z.number().positive().max(1000).default(1),
  generalFeedback: text(20_000).optional(),
  tags: z.array(z.string().min(1).max(50)).max(20).default([]),
});
export type QuestionDraft = z.infer<typeof questionDraft>;

// ---------------------------------------------------------------- what a learner answers

export const questionResponse = z
  .discriminatedUnion('type', [
    z.object({ type: z.literal('single'), choiceId: localId.nullable() }),
    z.object({ type: z.literal('multiple'), choiceIds: z.array(localId).max(30) }),
    z.object({ type: z.literal('truefalse'), value: z.boolean().nullable() }),
    z.object({ type: z.literal('short'), text: z.string().max(1000) }),
    z.object({ type: z.literal('numerical'), text: z.string().max(100).meta({ description: 'A number, optionally with a unit: "9.81 m/s^2"' }) }),
    z.object({ type: z.literal('calculated'), text: z.string().max(100) }),
    z.object({ type: z.literal('matching'), answers: z.record(localId, z.string().max(2000).nullable()) }),
    z.object({ type: z.literal('ordering'), order: z.array(localId).max(30) }),
    z.object({
      type: z.literal('cloze'),
      gaps: z.record(
        localId,
        z.union([
          z.object({ choiceId: localId.nullable() }),
          z.object({ choiceIds: z.array(localId).max(30) }),
          z.object({ value: z.boolean().nullable() }),
          z.object({ text: z.string().max(1000) }),
        ]),
      ),
    }),
    z.object({ type: z.literal('essay'), text: z.string().max(100_000) }),
    z.object({ type: z.literal('file'), fileIds: z.array(z.uuid()).max(20) }),
  ])
  .meta({ id: 'QuestionResponse' });
export type QuestionResponse = z.infer<typeof questionResponse>;

// ---------------------------------------------------------------- what a learner is shown

/** A question as a learner sees it during an attempt: params substituted, options in the attempt's order, no key. */
export const presentedQuestion = z
  .object({
    type: z.enum(questionTypes),
    prompt: z.string(),
    choices: z
      .array(z.object({ id: z.string(), text: z.string() }))
      .optional()
      .meta({ description: 'single, multiple' }),
    items: z
      .array(z.object({ id: z.string(), text: z.string() }))
      .optional()
      .meta({ description: 'ordering: in the attempt’s shuffled order' }),
    pairs: z
      .array(z.object({ id: z.string(), prompt: z.string() }))
      .optional()
      .meta({ description: 'matching: the left side' }),
    answers: z.array(z.string()).optional().meta({ description: 'matching: the right side, shuffled, distractors included' }),
    units: z.array(z.string()).optional(),
    text: z.string().optional().meta({ description: 'cloze: the text with {{gapId}} markers' }),
    gaps: z
      .array(
        z.object({
          id: z.string(),
          type: z.enum(['single', 'multiple', 'truefalse', 'short', 'numerical']),
          choices: z.array(z.object({ id: z.string(), text: z.string() })).optional(),
        }),
      )
      .optional(),
    minWords: z.number().int().optional(),
    maxWords: z.number().int().optional(),
    maxFiles: z.number().int().optional(),
    accept: z.array(z.string()).optional(),
  })
  .meta({ id: 'PresentedQuestion' });
export type PresentedQuestion = z.infer<typeof presentedQuestion>;
