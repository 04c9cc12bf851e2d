/**
 * The relevance set's corpus: SEED_COURSES (hand-written) expanded deterministically into courses with a description,
 * modules with a summary, and markdown lessons of a few paragraphs each. The expansion wraps each lesson's own sentences
 * in framing paragraphs chosen by a PRNG seeded with the lesson's key, so the same corpus comes out on every run and
 * machine, and lessons do not all read alike. Keys: `course`, `course/m1`, `course/m1/l2`.
 */
import { SEED_COURSES, type SeedCourse } from './seed-text.ts';

export interface CorpusLesson {
  key: string;
  title: string;
  /** Markdown. */
  body: string;
}
export interface CorpusModule {
  key: string;
  title: string;
  summary: string;
  lessons: CorpusLesson[];
}
export interface CorpusCourse {
  key: string;
  title: string;
  summary: string;
  description: string;
  category: string;
  level: SeedCourse['level'];
  language: SeedCourse['language'];
  tags: string[];
  durationMinutes: number;
  modules: CorpusModule[];
}

/** mulberry32: a small, fast, seedable PRNG (the same sequence everywhere). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

function pick<T>(rnd: () => number, items: readonly T[]): T {
  const item = items[Math.floor(rnd() * items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

type Vars = { lesson: string; module: string; course: string; tag: string; tag2: string };
type Template = (v: Vars) => string;

const TEXT: Record<
  SeedCourse['language'],
  { intro: Template[]; deepen: Template[]; practice: Template[]; recap: Template[]; levels: Record<SeedCourse['level'], string> }
> = {
  en: {
    intro: [
      (v) => `This lesson of ${v.course} is about ${v.lesson}. It builds on the previous lessons of the module “${v.module}” and takes about fifteen minutes.`,
      (v) => `Welcome to “${v.lesson}”. In the module “${v.module}” we take one step at a time, and this step matters more than it looks.`,
      (v) => `Many learners tell us that ${v.lesson} is where things finally made sense. Read it once, then come back to it after the exercise.`,
      (v) => `Before we start on ${v.lesson}, take a moment to remember what you already know about ${v.tag}: it will help.`,
    ],
    deepen: [
      (v) =>
        `Do not worry if this feels slow at first; with ${v.tag} everyone starts there, and a little practice each day is worth more than a long session once a week.`,
      (v) => `A common mistake is to rush this part. Take notes in your own words and compare them with the summary at the end of “${v.module}”.`,
      (v) => `Instructors who teach ${v.tag2} often say the same thing: understand the principle first and the details follow.`,
      (v) => `We will come back to this idea several times in ${v.course}, each time with a new example.`,
    ],
    practice: [
      () =>
        `Exercise: try it yourself now, then write two or three sentences about what surprised you. Share them in the discussion of this lesson if you like.`,
      () => `Practice: repeat the steps above twice, once following the text and once from memory, and note where you hesitated.`,
      (v) => `Your turn: apply what you learnt about ${v.lesson} to a small example of your own, and keep it for the end-of-module review.`,
    ],
    recap: [(v) => `Key points: ${v.lesson}; how it connects to ${v.tag}; what to practise before the next lesson.`],
    levels: {
      beginner: 'No prior knowledge is needed: the course starts from the very beginning.',
      intermediate: 'You should know the basics already; the course goes further and faster.',
      advanced: 'An advanced course for learners with solid experience of the subject.',
      all: 'Suitable for every level, from curious beginners to practitioners who want a refresher.',
    },
  },
  fr: {
    intro: [
      (v) =>
        `Cette leçon du cours « ${v.course} » porte sur ${v.lesson}. Elle prolonge les leçons précédentes du module « ${v.module} » et dure environ quinze minutes.`,
      (v) => `Bienvenue dans « ${v.lesson} ». Dans le module « ${v.module} », nous avançons pas à pas, et cette étape compte plus qu’il n’y paraît.`,
      (v) => `Beaucoup d’apprenants nous disent que c’est avec ${v.lesson} que tout s’est éclairé. Lisez-la une fois, puis revenez-y après l’exercice.`,
    ],
    deepen: [
      (v) =>
        `Pas d’inquiétude si cela semble lent au début : en ${v.tag}, tout le monde commence ainsi, et un peu de pratique chaque jour vaut mieux qu’une longue séance par semaine.`,
      (v) => `Une erreur fréquente consiste à aller trop vite. Prenez des notes avec vos propres mots et comparez-les au résumé du module « ${v.module} ».`,
      () => `Nous reviendrons plusieurs fois sur cette idée dans ce cours, chaque fois avec un nouvel exemple.`,
    ],
    practice: [
      () => `Exercice : essayez maintenant par vous-même, puis écrivez deux ou trois phrases sur ce qui vous a surpris.`,
      () => `Entraînement : refaites les étapes ci-dessus deux fois, une fois en suivant le texte et une fois de mémoire.`,
      (v) => `À vous : appliquez ce que vous avez appris sur ${v.lesson} à un petit exemple personnel.`,
    ],
    recap: [(v) => `À retenir : ${v.lesson} ; le lien avec ${v.tag} ; ce qu’il faut pratiquer avant la prochaine leçon.`],
    levels: {
      beginner: 'Aucun prérequis : le cours part du tout début.',
      intermediate: 'Il faut connaître les bases : le cours va plus loin et plus vite.',
      advanced: 'Un cours avancé pour des apprenants déjà expérimentés.',
      all: 'Pour tous les niveaux, du débutant curieux au praticien qui veut réviser.',
    },
  },
};

/** `Title: sentences.` (or `Title : phrases.` in French) → [title, sentences]. */
function splitLesson(line: string): [string, string] {
  const m = /^(.+?)\s?:\s(.+)$/.exec(line);
  return m?.[1] && m[2] ? [m[1], m[2]] : [line, line];
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

export function expandCourse(seed: SeedCourse): CorpusCourse {
  const t = TEXT[seed.language];
  const modules: CorpusModule[] = seed.modules.map(([moduleTitle, lessonLines], mi) => {
    const mkey = `${seed.key}/m${mi + 1}`;
    const lessons = lessonLines.map((line, li): CorpusLesson => {
      const key = `${mkey}/l${li + 1}`;
      const rnd = prng(hash(key));
      const [title, own] = splitLesson(line);
      const vars: Vars = { lesson: lowerFirst(title), module: moduleTitle, course: seed.title, tag: pick(rnd, seed.tags), tag2: pick(rnd, seed.tags) };
      const body = [
        `## ${title}`,
        pick(rnd, t.intro)(vars),
        `${own.charAt(0).toUpperCase()}${own.slice(1)} ${pick(rnd, t.deepen)(vars)}`,
        pick(rnd, t.practice)(vars),
        `*${pick(rnd, t.recap)(vars)}*`,
      ].join('\n\n');
      return { key, title, body };
    });
    const summary = lessons.map((l) => l.title).join(seed.language === 'fr' ? ' ; ' : '; ');
    return { key: mkey, title: moduleTitle, summary, lessons };
  });
  const heading = seed.language === 'fr' ? 'Au programme' : 'What you will learn';
  const description = [seed.summary, `${heading}:`, ...modules.map((m) => `- ${m.title}: ${m.summary}`), t.levels[seed.level]].join('\n');
  const lessonCount = modules.reduce((n, m) => n + m.lessons.length, 0);
  return {
    key: seed.key,
    title: seed.title,
    summary: seed.summary,
    description,
    category: seed.category,
    level: seed.level,
    language: seed.language,
    tags: seed.tags,
    durationMinutes: lessonCount * 15,
    modules,
  };
}

/** The whole corpus, in SEED_COURSES order. */
export function buildCorpus(): CorpusCourse[] {
  return SEED_COURSES.map(expandCourse);
}
