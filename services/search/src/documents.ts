import type { coursesInternal, OutputOf } from '@lms/contracts';
import { chunkMarkdown, durationBucket, plainText, tsConfigOf, vocabularyOf } from './domain/text.js';
import type { CourseFacts, NewDocument } from './search.repository.js';

export type SearchSource = OutputOf<typeof coursesInternal.searchDocument>;

/**
 * The documents of one course as its search source describes it: the published version (course, modules, one
 * document per heading section of each markdown lesson), or for a course never published its draft's metadata
 * (one course document its staff find). Ids are derived from the source, so indexing the same version twice gives
 * the same rows.
 */
export function documentsOf(src: SearchSource): { facts: CourseFacts; docs: NewDocument[]; words: string[] } {
  const facts: CourseFacts = {
    courseId: src.courseId,
    status: src.status,
    visibility: src.visibility,
    ownerId: src.ownerId,
    version: src.published?.version ?? 0,
  };
  const docs: NewDocument[] = [];
  const p = src.published;
  if (!p) {
    if (src.status === 'archived') return { facts, docs, words: [] };
    const d = src.draft;
    docs.push({
      id: `course:${src.courseId}`,
      type: 'course',
      courseId: src.courseId,
      moduleId: null,
      lessonId: null,
      chunk: 0,
      state: 'draft',
      title: d.title,
      summary: d.summary,
      content: '',
      language: d.language,
      tsConfig: tsConfigOf(d.language),
      category: d.category || null,
      level: null,
      tags: d.tags,
      durationBucket: null,
      publishedAt: null,
    });
    return { facts, docs, words: [] };
  }
  const c = p.course;
  const common = {
    courseId: src.courseId,
    state: 'published' as const,
    language: c.language,
    tsConfig: tsConfigOf(c.language),
    category: c.category || null,
    level: c.level,
    tags: c.tags,
    durationBucket: durationBucket(c.durationMinutes),
    publishedAt: p.publishedAt,
  };
  docs.push({
    ...common,
    id: `course:${src.courseId}`,
    type: 'course',
    moduleId: null,
    lessonId: null,
    chunk: 0,
    title: c.title,
    summary: c.summary,
    content: plainText(c.description),
  });
  for (const m of p.modules) {
    docs.push({
      ...common,
      id: `module:${m.id}`,
      type: 'module',
      moduleId: m.id,
      lessonId: null,
      chunk: 0,
      title: m.title,
      summary: c.title,
      content: m.lessons.map((l) => l.title).join(' · '),
    });
    for (const l of m.lessons) {
      const chunks = l.markdown === null ? [{ heading: l.title, text: '' }] : chunkMarkdown(l.title, l.markdown);
      chunks.forEach((ch, i) =>
        docs.push({
          ...common,
          id: `lesson:${l.id}:${i}`,
          type: 'lesson',
          moduleId: m.id,
          lessonId: l.id,
          chunk: i,
          title: i === 0 || ch.heading === l.title ? l.title : `${l.title} — ${ch.heading}`,
          summary: `${c.title} · ${m.title}`,
          content: plainText(ch.text),
        }),
      );
    }
  }
  const words = vocabularyOf(docs.flatMap((d) => [d.title, d.summary, d.content]));
  return { facts, docs, words };
}
