import { describe, expect, it } from 'vitest';
import { nulIssues } from '../src/core.js';

describe('nulIssues (U+0000, which PostgreSQL refuses, found once for every input)', () => {
  it('names each field holding NUL, in values and keys, at any depth', () => {
    expect(
      nulIssues({ title: 'ok', tags: ['fine', 'b\u0000d'], meta: { 'k\u0000': 1, deep: { x: '\u0000' } } })
        .map((i) => i.path)
        .sort(),
    ).toEqual(['meta.deep.x', 'meta.k\u0000', 'tags.1']);
    expect(nulIssues('\u0000')).toEqual([{ path: '(root)', message: 'must not contain the NUL character (U+0000)', code: 'invalid_format' }]);
    expect(nulIssues({ a: 'clean', b: [1, null, true, { c: 'd' }] })).toEqual([]);
  });

  it('walks 100 000 levels of nesting without overflowing the stack', () => {
    let v: unknown = 'bottom\u0000';
    for (let i = 0; i < 100_000; i++) v = [v];
    expect(nulIssues(v)).toHaveLength(1);
  });
});
