/** Pure text rules of the index: no I/O. */

/** Lower case, accents folded: how words are compared for typos, prefixes and highlighting. */
export function fold(s: string): string {
  return s
    .normalize('NFD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase();
}

/** The words of a query (folded, letters and digits only: nothing the tsquery parser could read as an operator). */
export function termsOf(q: string, max = 10): string[] {
  return (fold(q).match(/[\p{L}\p{N}]+/gu) ?? []).slice(0, max);
}

/** Distinct folded words of at least 3 letters: the vocabulary "did you mean" draws from. */
export function vocabularyOf(texts: readonly string[], max = 2000): string[] {
  const words = new Set<string>();
  for (const t of texts) for (const w of fold(t).match(/\p{L}{3,30}/gu) ?? []) if (words.size < max) words.add(w);
  return [...words];
}

/** The text search configuration of a course's language: English and French analysed, anything else split only. */
export function tsConfigOf(language: string): string {
  const base = language.toLowerCase().split('-')[0];
  return base === 'fr' ? 'search.lms_french' : base === 'en' ? 'search.lms_english' : 'search.lms_simple';
}
export const TS_CONFIGS = ['search.lms_english', 'search.lms_french', 'search.lms_simple'] as const;

export function durationBucket(minutes: number): string {
  if (minutes < 60) return '<1h';
  if (minutes < 300) return '1-5h';
  if (minutes < 1200) return '5-20h';
  return '>20h';
}

export interface Chunk {
  /** The heading the section starts with (the lesson's title for text before the first heading). */
  heading: string;
  text: string;
}

/** A lesson's markdown cut at its headings: one chunk per section, so that a hit points at the passage that matched. */
export function chunkMarkdown(title: string, markdown: string, maxChars = 4000): Chunk[] {
  const chunks: Chunk[] = [];
  let heading = title;
  let lines: string[] = [];
  const flush = () => {
    const text = lines.join('\n').trim();
    if (text) for (let i = 0; i < text.length; i += maxChars) chunks.push({ heading, text: text.slice(i, i + maxChars) });
    lines = [];
  };
  for (const line of markdown.split('\n')) {
    const h = /^#{1,6}\s+(.*)$/.exec(line);
    if (h) {
      flush();
      heading = (h[1] ?? '').replace(/#+\s*$/, '').trim() || title;
    } else lines.push(line);
  }
  flush();
  return chunks.length ? chunks : [{ heading: title, text: '' }];
}

/** Markdown to the words a reader sees (links keep their text, code and emphasis marks go). */
export function plainText(markdown: string): string {
  return markdown
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[`*_>~|]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/**
 * A window of `text` around the first word matching a query term, HTML-escaped, the matching words wrapped in
 * `<mark>`. A word matches when its folded form starts with a term's stem (its first letters, at least 3), so
 * `lessons` is marked for `lesson` and `élève` for `eleve`. Safe to insert as markup: every piece is escaped.
 */
export function highlight(text: string, terms: readonly string[], width = 200): string {
  const stems = terms.filter((t) => t.length > 0).map((t) => (t.length > 4 ? t.slice(0, Math.max(3, t.length - 2)) : t));
  const matches = (w: string) => {
    const f = fold(w);
    return stems.some((s) => f.startsWith(s));
  };
  const words = [...text.matchAll(/[\p{L}\p{N}]+/gu)];
  const first = words.find((m) => matches(m[0]));
  let start = 0;
  if (first?.index !== undefined && first.index > width / 3) {
    start = text.lastIndexOf(' ', first.index - Math.floor(width / 3));
    start = start < 0 ? 0 : start + 1;
  }
  let end = Math.min(text.length, start + width);
  if (end < text.length) {
    const space = text.lastIndexOf(' ', end);
    if (space > start) end = space;
  }
  const slice = text.slice(start, end);
  let out = '';
  let at = 0;
  for (const m of slice.matchAll(/[\p{L}\p{N}]+/gu)) {
    if (m.index === undefined || !matches(m[0])) continue;
    out += escapeHtml(slice.slice(at, m.index)) + '<mark>' + escapeHtml(m[0]) + '</mark>';
    at = m.index + m[0].length;
  }
  out += escapeHtml(slice.slice(at));
  return (start > 0 ? '… ' : '') + out + (end < text.length ? ' …' : '');
}

/** Reciprocal rank fusion: each list's rank r (from 1) adds 1 / (k + r). */
export function fuse(lists: ReadonlyArray<readonly string[]>, k = 60): Map<string, number> {
  const score = new Map<string, number>();
  for (const list of lists) list.forEach((id, i) => score.set(id, (score.get(id) ?? 0) + 1 / (k + i + 1)));
  return score;
}

/** Cursors are offsets into the ranked list: relevance has no stable key to seek from. */
export function encodeCursor(offset: number): string {
  return Buffer.from(JSON.stringify({ o: offset })).toString('base64url');
}
export function decodeCursor(cursor: string): number | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString());
    if (typeof v === 'object' && v !== null && 'o' in v && typeof v.o === 'number' && Number.isSafeInteger(v.o) && v.o >= 0 && v.o <= 10_000) return v.o;
  } catch {
    return undefined;
  }
  return undefined;
}
