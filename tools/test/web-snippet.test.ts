/** The web app's check of search snippets (clients/web/src/snippet.ts): only text and balanced <mark> become marks. */
import { describe, expect, it } from 'vitest';
import { snippetParts } from '../../clients/web/src/snippet.ts';

describe('snippetParts', () => {
  it('splits escaped text and <mark> into parts, decoding the escapes as text', () => {
    expect(snippetParts('A <mark>closure</mark> &lt;script&gt; &amp; <mark>scope</mark>&#39;s')).toEqual([
      { text: 'A ', mark: false },
      { text: 'closure', mark: true },
      { text: ' <script> & ', mark: false },
      { text: 'scope', mark: true },
      { text: "'s", mark: false },
    ]);
  });

  it('shows anything else as plain text, tags removed', () => {
    for (const bad of ['<img src=x onerror=alert(1)>hi', '<mark>a<mark>b</mark></mark>', '<mark>open', 'a</mark>', '<mark><b>x</b></mark>', 'x <script']) {
      const parts = snippetParts(bad);
      expect(parts, bad).toHaveLength(1);
      expect(parts[0]?.mark, bad).toBe(false);
      expect(parts[0]?.text, bad).not.toMatch(/<[a-z/]/i);
    }
    expect(snippetParts('<img src=x onerror=alert(1)>hi')[0]?.text).toBe('hi');
  });
});
