/**
 * The relevance set's queries with graded judgements over corpus.ts's course keys: 3 = exactly what the query asks for,
 * 2 = clearly relevant, 1 = related (a learner would not mind seeing it), absent = not relevant. Judged at course level:
 * a hit on a module or lesson counts for its course (metrics.ts collapses hits to courses, first hit kept). Kinds: exact
 * words of a title or tag, words only found in lesson text, misspellings, synonyms, paraphrases (a question in the
 * learner's words), and French queries (some over French courses, some cross-language).
 */
export type QueryKind = 'exact' | 'content' | 'misspelling' | 'synonym' | 'paraphrase' | 'french';

export interface JudgedQuery {
  id: string;
  q: string;
  kind: QueryKind;
  language: 'en' | 'fr';
  /** Course key → grade (1–3). */
  judgements: Record<string, 1 | 2 | 3>;
}

const q = (
  id: string,
  kind: QueryKind,
  text: string,
  judgements: JudgedQuery['judgements'],
  language: 'en' | 'fr' = kind === 'french' ? 'fr' : 'en',
): JudgedQuery => ({
  id,
  q: text,
  kind,
  language,
  judgements,
});

export const QUERIES: JudgedQuery[] = [
  // Exact words of titles and tags.
  q('e1', 'exact', 'sourdough', { sourdough: 3, 'fr-pain': 2 }),
  q('e2', 'exact', 'python', { 'python-intro': 3, 'fr-python': 3, 'python-data': 2, 'web-django': 2, ml: 1 }),
  q('e3', 'exact', 'kubernetes', { cloud: 3 }),
  q('e4', 'exact', 'react hooks', { react: 3, javascript: 1 }),
  q('e5', 'exact', 'git branches', { git: 3 }),
  q('e6', 'exact', 'yoga', { yoga: 3, 'fr-yoga': 3, mindfulness: 1 }),
  q('e7', 'exact', 'guitar chords', { guitar: 3, 'music-theory': 1 }),
  q('e8', 'exact', 'corporate tax', { 'tax-law': 3, 'fr-droit-fiscal': 2, accounting: 1 }),
  q('e9', 'exact', 'SQL joins', { sql: 3, 'python-data': 1 }),
  q('e10', 'exact', 'first aid CPR', { 'first-aid': 3, 'fr-secourisme': 2 }),
  // Words that only appear in lesson text.
  q('c1', 'content', 'autolyse', { sourdough: 3 }),
  q('c2', 'content', 'circle of fifths', { 'music-theory': 3, 'fr-musique': 2, guitar: 1 }),
  q('c3', 'content', 'ransomware backups', { cyber: 3 }),
  q('c4', 'content', 'Dutch oven', { sourdough: 3, 'fr-pain': 1 }),
  q('c5', 'content', 'eigenvalues', { 'linear-algebra': 3 }),
  q('c6', 'content', 'arm’s length principle', { 'tax-law': 3, 'fr-droit-fiscal': 3 }),
  q('c7', 'content', 'golden hour', { photography: 3, 'fr-photo': 2 }),
  q('c8', 'content', 'crème pâtissière', { pastry: 3 }),
  q('c9', 'content', 'chmod permissions', { linux: 3 }),
  q('c10', 'content', 'hiragana', { japanese: 3 }),
  // Misspellings.
  q('m1', 'misspelling', 'sourdoe bread', { sourdough: 3, 'fr-pain': 2, pastry: 1 }),
  q('m2', 'misspelling', 'pyhton', { 'python-intro': 3, 'fr-python': 3, 'python-data': 2, 'web-django': 2 }),
  q('m3', 'misspelling', 'javascrpit', { javascript: 3, react: 2 }),
  q('m4', 'misspelling', 'photograpy', { photography: 3, 'fr-photo': 3 }),
  q('m5', 'misspelling', 'kubernets', { cloud: 3 }),
  q('m6', 'misspelling', 'statistcs', { statistics: 3, 'python-data': 1, ml: 1 }),
  q('m7', 'misspelling', 'mindfullness meditation', { mindfulness: 3, 'fr-yoga': 2, yoga: 1 }),
  q('m8', 'misspelling', 'accountng', { accounting: 3, 'personal-finance': 1 }),
  q('m9', 'misspelling', 'astronmy', { astronomy: 3, physics: 1 }),
  q('m10', 'misspelling', 'philosphy', { philosophy: 3 }),
  // Synonyms.
  q('s1', 'synonym', 'coding for beginners', { 'python-intro': 3, 'fr-python': 2, javascript: 2, git: 1 }),
  q('s2', 'synonym', 'money management', { 'personal-finance': 3, 'fr-finances': 2, accounting: 1 }),
  q('s3', 'synonym', 'AI', { ml: 3, 'deep-learning': 3 }),
  q('s4', 'synonym', 'meditation', { mindfulness: 3, 'fr-yoga': 2, yoga: 2 }),
  q('s5', 'synonym', 'growing vegetables', { gardening: 3, 'fr-jardin': 3 }),
  q('s6', 'synonym', 'jogging', { running: 3 }),
  q('s7', 'synonym', 'SEO', { marketing: 3, 'fr-marketing': 3 }),
  q('s8', 'synonym', 'managing people', { leadership: 3, 'project-mgmt': 1 }),
  q('s9', 'synonym', 'statistics and probability', { statistics: 3, ml: 1 }),
  q('s10', 'synonym', 'plant-based diet', { vegan: 3, nutrition: 2 }),
  // Paraphrases: what a learner types.
  q('p1', 'paraphrase', 'how do I bake bread', { sourdough: 3, 'fr-pain': 3, pastry: 1 }),
  q('p2', 'paraphrase', 'protect my computer from hackers', { cyber: 3, linux: 1 }),
  q('p3', 'paraphrase', 'learn to play an instrument', { guitar: 3, 'music-theory': 2, 'fr-musique': 2 }),
  q('p4', 'paraphrase', 'save a life in an emergency', { 'first-aid': 3, 'fr-secourisme': 3 }),
  q('p5', 'paraphrase', 'speak with locals on holiday', { spanish: 3, japanese: 1 }),
  q('p6', 'paraphrase', 'make websites interactive', { javascript: 3, react: 2, 'web-django': 1 }),
  q('p7', 'paraphrase', 'why is the planet getting warmer', { climate: 3 }),
  q('p8', 'paraphrase', 'get better at writing emails at work', { 'english-business': 3, 'fr-anglais': 2, marketing: 1 }),
  q('p9', 'paraphrase', 'how companies pay tax on profits', { 'tax-law': 3, 'fr-droit-fiscal': 3, accounting: 1 }),
  q('p10', 'paraphrase', 'teach a computer to recognise images', { 'deep-learning': 3, ml: 2 }),
  q('p11', 'paraphrase', 'run my first 5 kilometres', { running: 3 }),
  q('p12', 'paraphrase', 'fix a leaking tap', { diy: 3 }),
  // French queries.
  q('f1', 'french', 'faire son pain', { 'fr-pain': 3, sourdough: 2 }),
  q('f2', 'french', 'apprendre la programmation', { 'fr-python': 3, 'python-intro': 2, javascript: 1 }),
  q('f3', 'french', 'gérer mon budget', { 'fr-finances': 3, 'personal-finance': 2 }),
  q('f4', 'french', 'impôt sur les sociétés', { 'fr-droit-fiscal': 3, 'tax-law': 2 }),
  q('f5', 'french', 'cultiver des légumes', { 'fr-jardin': 3, gardening: 2 }),
  q('f6', 'french', 'massage cardiaque', { 'fr-secourisme': 3, 'first-aid': 2 }),
  q('f7', 'french', 'la révolution de 1789', { 'fr-histoire': 3 }),
  q('f8', 'french', 'appareil photo réglages', { 'fr-photo': 3, photography: 2 }),
  q('f9', 'french', 'réduire le stress', { 'fr-yoga': 3, mindfulness: 2, yoga: 1 }),
  q('f10', 'french', 'referencement naturel', { 'fr-marketing': 3, marketing: 2 }),
  q('f11', 'french', 'apprendre le solfege', { 'fr-musique': 3, 'music-theory': 2 }),
  q('f12', 'french', 'anglais pour le travail', { 'fr-anglais': 3, 'english-business': 2 }),
];
