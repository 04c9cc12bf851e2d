import { describe, expect, it } from 'vitest';
import { chunkMarkdown, decodeCursor, encodeCursor, fold, fuse, highlight, termsOf, tsConfigOf } from '../src/domain/text.js';

describe('search text rules', () => {
  it('folds case and accents, and keeps only letters and digits of a query', () => {
    expect(fold('Élève ÇA')).toBe('eleve ca');
    expect(termsOf('  C++ & "JavaScript" -- élève:* | !x ')).toEqual(['c', 'javascript', 'eleve', 'x']);
    expect(termsOf('a b c d e f g h i j k l', 10)).toHaveLength(10);
  });

  it('chooses the text search configuration by the course language', () => {
    expect([tsConfigOf('fr'), tsConfigOf('fr-CA'), tsConfigOf('en-GB'), tsConfigOf('de')]).toEqual([
      'search.lms_french',
      'search.lms_french',
      'search.lms_english',
      'search.lms_simple',
    ]);
  });

  it('chunks a lesson by its headings, text before the first one under the lesson title', () => {
    const chunks = chunkMarkdown('Loops', 'Intro text.\n# For\nfor (;;) {}\n\n## While ##\nwhile (x) {}\n#Not a heading');
    expect(chunks.map((c) => c.heading)).toEqual(['Loops', 'For', 'While']);
    expect(chunks[2]?.text).toContain('#Not a heading');
    expect(chunkMarkdown('Empty', '')).toEqual([{ heading: 'Empty', text: '' }]);
    expect(chunkMarkdown('Long', 'x'.repeat(9000), 4000)).toHaveLength(3);
  });

  it('escapes markup before marking matches, so a snippet is safe to insert', () => {
    const s = highlight('Use <script>alert("javascript")</script> & closures in JavaScript', ['javascript']);
    expect(s).toBe('Use &lt;script&gt;alert(&quot;<mark>javascript</mark>&quot;)&lt;/script&gt; &amp; closures in <mark>JavaScript</mark>');
    expect(highlight('Les élèves chantent', ['eleve'])).toBe('Les <mark>élèves</mark> chantent');
    const long = `${'filler '.repeat(100)}the needle here ${'after '.repeat(100)}`;
    const snippet = highlight(long, ['needle'], 100);
    expect(snippet.startsWith('… ')).toBe(true);
    expect(snippet).toContain('<mark>needle</mark>');
    expect(snippet.length).toBeLessThan(140);
  });

  it('fuses ranked lists by reciprocal rank (k = 60): agreement beats one first place', () => {
    const score = fuse([
      ['a', 'b', 'c'],
      ['b', 'c', 'a'],
    ]);
    const order = [...score].sort((x, y) => y[1] - x[1]).map(([id]) => id);
    expect(order[0]).toBe('b');
    expect(score.get('b')).toBeCloseTo(1 / 62 + 1 / 61);
  });

  it('reads back only its own cursors', () => {
    expect(decodeCursor(encodeCursor(40))).toBe(40);
    for (const bad of ['nope', Buffer.from('{"o":-1}').toString('base64url'), Buffer.from('{"o":1e9}').toString('base64url'), ''])
      expect(decodeCursor(bad)).toBeUndefined();
  });
});
