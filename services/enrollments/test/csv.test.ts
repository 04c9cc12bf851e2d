import { describe, expect, it } from 'vitest';
import { neutralise, parseCsv } from '../src/csv.js';

describe('parseCsv (RFC 4180)', () => {
  it('splits records on CRLF and LF, fields on commas', () => {
    expect(parseCsv('a,b\r\nc,d\ne,f')).toEqual([
      { line: 1, cells: ['a', 'b'] },
      { line: 2, cells: ['c', 'd'] },
      { line: 3, cells: ['e', 'f'] },
    ]);
  });

  it('keeps commas, doubled quotes and line breaks inside quoted fields', () => {
    expect(parseCsv('name,email\r\n"Lopez, Maria",maria@x.test\r\n"Say ""hi""","multi\r\nline"\r\nnext,n@x.test\r\n')).toEqual([
      { line: 1, cells: ['name', 'email'] },
      { line: 2, cells: ['Lopez, Maria', 'maria@x.test'] },
      { line: 3, cells: ['Say "hi"', 'multi\r\nline'] },
      { line: 5, cells: ['next', 'n@x.test'] },
    ]);
  });

  it('keeps empty fields and quoted empty fields, and a last record without a line break', () => {
    expect(parseCsv(',"",x\n""')).toEqual([
      { line: 1, cells: ['', '', 'x'] },
      { line: 2, cells: [''] },
    ]);
    expect(parseCsv('')).toEqual([]);
  });

  it('is lenient with an unclosed quote and text after a closing one', () => {
    expect(parseCsv('"a"b,"open\nend')).toEqual([{ line: 1, cells: ['ab', 'open\nend'] }]);
  });
});

describe('neutralise (CSV injection)', () => {
  it('prefixes cells a spreadsheet would run as a formula', () => {
    for (const bad of ['=1+1', '+1', '-2', '@SUM(A1)', '\tx', '\rx', '=HYPERLINK("http://evil","x")']) expect(neutralise(bad)).toBe(`'${bad}`);
    for (const ok of ['maria@x.test', 'a=b', '', "'quoted"]) expect(neutralise(ok)).toBe(ok);
  });
});
