/**
 * XML in and out. Out: a small element tree serialized with every text and attribute escaped (never XML pasted from
 * strings). In: fast-xml-parser, after refusing a DOCTYPE (no entity definitions, so no entity expansion attacks),
 * with its own entity processing off: the five predefined entities and character references are decoded here.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';

export interface XEl {
  name: string;
  attrs: Record<string, string>;
  children: XChild[];
}
export type XChild = XEl | string;

// ---------------------------------------------------------------- out

export type Attrs = Record<string, string | number | boolean | undefined>;
export interface WEl {
  name: string;
  attrs: Attrs;
  children: Array<WEl | string>;
}
export const el = (name: string, attrs: Attrs = {}, ...children: Array<WEl | string | null | undefined | false>): WEl => ({
  name,
  attrs,
  children: children.filter((c): c is WEl | string => c !== null && c !== undefined && c !== false),
});

/** Characters XML 1.0 cannot hold at all (controls other than tab/newline/return, lone surrogates, U+FFFE/U+FFFF): dropped. */
// eslint-disable-next-line no-control-regex
const invalidXml = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
export const escapeText = (s: string): string =>
  s.replace(invalidXml, '').replace(/[&<>\r]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '\r': '&#13;' })[c] ?? c);
export const escapeAttr = (s: string): string =>
  s
    .replace(invalidXml, '')
    .replace(/[&<>"\n\r\t]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\n': '&#10;', '\r': '&#13;', '\t': '&#9;' })[c] ?? c);

const NAME = /^[A-Za-z_][A-Za-z0-9._:-]*$/;

function open(e: WEl): string {
  if (!NAME.test(e.name)) throw new Error(`not an XML name: ${e.name}`);
  const attrs = Object.entries(e.attrs)
    .filter((a): a is [string, string | number | boolean] => a[1] !== undefined)
    .map(([k, v]) => {
      if (!NAME.test(k)) throw new Error(`not an XML name: ${k}`);
      return ` ${k}="${escapeAttr(String(v))}"`;
    })
    .join('');
  return `<${e.name}${attrs}`;
}

/** Without any whitespace added: for mixed content, where indentation would change the text. */
function compact(c: WEl | string): string {
  if (typeof c === 'string') return escapeText(c);
  return c.children.length === 0 ? `${open(c)}/>` : `${open(c)}>${c.children.map(compact).join('')}</${c.name}>`;
}

/** Indented, except inside elements with text (mixed content), which are written compact. */
export function serialize(root: WEl): string {
  const out: string[] = [];
  const write = (e: WEl, indent: string): void => {
    if (e.children.length === 0 || e.children.some((c) => typeof c === 'string')) {
      out.push(indent + compact(e));
      return;
    }
    out.push(`${indent}${open(e)}>`);
    for (const c of e.children) if (typeof c !== 'string') write(c, `${indent}  `);
    out.push(`${indent}</${e.name}>`);
  };
  write(root, '');
  return out.join('\n');
}

// ---------------------------------------------------------------- in

const decode = (s: string): string =>
  s.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|amp|lt|gt|quot|apos);/g, (whole, ref: string) => {
    if (ref.startsWith('#')) {
      const code = ref[1] === 'x' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[ref] ?? whole;
  });

const MAX_DEPTH = 100;
export const MAX_XML_LENGTH = 20_000_000;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function convert(nodes: unknown, depth: number): XChild[] {
  if (depth > MAX_DEPTH) throw new Error(`elements nest deeper than ${MAX_DEPTH}`);
  if (!Array.isArray(nodes)) return [];
  const out: XChild[] = [];
  for (const n of nodes as unknown[]) {
    if (!isRecord(n)) continue;
    for (const [key, value] of Object.entries(n)) {
      if (key === ':@') continue;
      if (key === '#text') out.push(decode(String(value)));
      else if (key === '#cdata') out.push(...convert(value, depth + 1).map((c) => (typeof c === 'string' ? c : '')));
      else {
        const raw = n[':@'];
        const attrs: Record<string, string> = {};
        if (isRecord(raw)) for (const [k, v] of Object.entries(raw)) attrs[k] = decode(String(v));
        out.push({ name: key, attrs, children: convert(value, depth + 1) });
      }
    }
  }
  return out;
}

/** The root element of a document. Throws Error for a DOCTYPE, malformed XML or too deep nesting. */
export function parseXml(xml: string): XEl {
  if (xml.length > MAX_XML_LENGTH) throw new Error('the document is too large');
  if (/<!DOCTYPE/i.test(xml)) throw new Error('a DOCTYPE is not allowed');
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw new Error(`not well-formed XML (line ${valid.err.line}): ${valid.err.msg}`);
  const parser = new XMLParser({
    preserveOrder: true,
    ignoreAttributes: false,
    attributeNamePrefix: '',
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: false,
    processEntities: false,
    cdataPropName: '#cdata',
    ignoreDeclaration: true,
    ignorePiTags: true,
    removeNSPrefix: true,
  });
  const parsed: unknown = parser.parse(xml);
  const root = convert(parsed, 0).find((c): c is XEl => typeof c !== 'string');
  if (!root) throw new Error('the document has no root element');
  return root;
}

export const elements = (e: XEl, name?: string): XEl[] => e.children.filter((c): c is XEl => typeof c !== 'string' && (name === undefined || c.name === name));
export const first = (e: XEl, name: string): XEl | undefined => elements(e, name)[0];
/** Descendants by name, depth first. */
export function find(e: XEl, name: string): XEl[] {
  const out: XEl[] = [];
  const walk = (x: XEl) => {
    for (const c of elements(x)) {
      if (c.name === name) out.push(c);
      walk(c);
    }
  };
  walk(e);
  return out;
}
/** The element's own text (its direct text children). */
export const ownText = (e: XEl): string => e.children.filter((c): c is string => typeof c === 'string').join('');
/** All text inside. */
export const allText = (e: XEl): string => e.children.map((c) => (typeof c === 'string' ? c : allText(c))).join('');
