// A search hit's snippet (contracts/src/search.ts: HTML-escaped text with `<mark>` around the matched words) as plain
// text parts, checked rather than trusted: the page renders the parts as React text and `<mark>` elements, never as HTML.

const ENTITIES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" };
const decode = (s: string) => s.replace(/&(?:amp|lt|gt|quot|#39);/g, (e) => ENTITIES[e] ?? e);

export interface SnippetPart {
  text: string;
  mark: boolean;
}

/**
 * Splits on `<mark>` / `</mark>`. Unless what is left is tag-free text with the marks balanced and unnested, the whole
 * snippet comes back as one unmarked part with anything tag-like removed.
 */
export function snippetParts(snippet: string): SnippetPart[] {
  const out: SnippetPart[] = [];
  let inMark = false;
  let ok = true;
  for (const part of snippet.split(/(<\/?mark>)/)) {
    if (part === '<mark>' || part === '</mark>') {
      if (inMark !== (part === '</mark>')) ok = false;
      inMark = part === '<mark>';
    } else if (/[<>]/.test(part)) ok = false;
    else if (part) out.push({ text: decode(part), mark: inMark });
  }
  if (ok && !inMark) return out;
  return [{ text: decode(snippet.replace(/<[^>]*>?/g, '')), mark: false }];
}
