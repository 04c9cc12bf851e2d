/**
 * Response conformance: every response the integration tests receive through `http()` (support.ts) is checked
 * against the OpenAPI document the gateway serves (buildOpenApi): the status is declared for the operation, a
 * JSON body matches the declared schema (ajv, JSON Schema 2020-12), another body has a declared media type, and
 * every required declared header is present. A mismatch throws, naming method, path, status and the schema errors.
 * Only /api/v1 is in the document; other URLs (health, docs, metrics, jwks, tRPC) are not checked.
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

type Json = Record<string, any>;
interface Checker {
  doc: Json;
  ops: Array<{ method: string; template: string; re: RegExp; literals: number; op: Json }>;
  ajv: Ajv2020;
  validators: Map<string, ValidateFunction>;
}

const DOC_ID = 'https://lms.invalid/openapi.json';
const PREFIX = '/api/v1';
/** Gateway routes under /api/v1 that are deliberately outside the document: tus (its own protocol) and the SSE stream. */
const UNDOCUMENTED = [/^\/files\/uploads(\/|$)/, /^\/me\/notifications\/stream$/];

let checker: Promise<Checker> | undefined;

async function load(): Promise<Checker> {
  const { buildOpenApi } = await import('@lms/gateway');
  const doc = JSON.parse(JSON.stringify(buildOpenApi())) as Json;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv); // a CommonJS module: its default export is module.exports
  ajv.addFormat('binary', true);
  ajv.addSchema({ ...doc, $id: DOC_ID });
  const ops = Object.entries(doc.paths as Record<string, Json>).flatMap(([template, item]) =>
    Object.entries(item).map(([method, op]) => ({
      method: method.toUpperCase(),
      template,
      re: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{\w+\}/g, '[^/]+')}$`),
      literals: template.split('/').filter((s) => s && !s.startsWith('{')).length,
      op: op as Json,
    })),
  );
  return { doc, ops, ajv, validators: new Map() };
}

const pointer = (...parts: string[]) => parts.map((p) => encodeURIComponent(p.replaceAll('~', '~0').replaceAll('/', '~1'))).join('/');

function deref(doc: Json, v: Json): Json {
  let cur = v;
  while (cur && typeof cur.$ref === 'string') {
    cur = cur.$ref
      .slice(2)
      .split('/')
      .reduce((o: Json, k) => o?.[k.replaceAll('~1', '/').replaceAll('~0', '~')], doc);
  }
  return cur;
}

/** The media types a response declares that `type` satisfies (exact, or a range like image/*). */
function mediaFor(content: Json | undefined, type: string): string | undefined {
  if (!content) return undefined;
  if (content[type]) return type;
  return Object.keys(content).find((k) => k.endsWith('/*') && type.startsWith(k.slice(0, -1)));
}

export class ConformanceError extends Error {
  override name = 'ConformanceError';
}

/** Throws a ConformanceError when the response does not match what the document declares. */
export async function checkResponse(method: string, url: string, res: { status: number; headers: Headers; text: string; body: unknown }): Promise<void> {
  const u = new URL(url, 'http://local');
  if (!u.pathname.startsWith(`${PREFIX}/`)) return;
  const c = await (checker ??= load());
  const path = u.pathname.slice(PREFIX.length);
  const m = method.toUpperCase() === 'HEAD' ? 'GET' : method.toUpperCase();
  const where = `${method.toUpperCase()} ${u.pathname}${u.search} → ${res.status}`;
  const fail = (what: string) => {
    throw new ConformanceError(`OpenAPI conformance: ${where}: ${what}\n  body: ${res.text.slice(0, 500)}`);
  };
  if (method.toUpperCase() === 'OPTIONS') return; // CORS preflight, answered before routing
  const candidates = c.ops.filter((o) => o.re.test(path));
  const found = candidates.filter((o) => o.method === m).sort((a, b) => b.literals - a.literals)[0];
  if (!found) {
    if (UNDOCUMENTED.some((r) => r.test(path))) return;
    // An unknown route (or method) answers 404 ROUTE_NOT_FOUND in the error model; nothing else may answer.
    if (res.status === 404 && (res.body as Json)?.error?.code === 'ROUTE_NOT_FOUND') return;
    return fail(`no operation in the document matches ${m} ${path}`);
  }
  const label = `${found.op.operationId} (${m} ${found.template})`;
  const declared = found.op.responses[String(res.status)] ?? found.op.responses[`${String(res.status)[0]}XX`] ?? found.op.responses.default;
  if (!declared) return fail(`${label} does not declare status ${res.status} (declares ${Object.keys(found.op.responses).join(', ')})`);
  const r = deref(c.doc, declared);
  for (const [name, h] of Object.entries((r.headers ?? {}) as Json)) {
    if (deref(c.doc, h)?.required && !res.headers.has(name)) fail(`${label} ${res.status}: declared header ${name} is missing`);
  }
  const type = ((res.headers.get('content-type') ?? '').split(';')[0] ?? '').trim().toLowerCase();
  const empty = res.text.length === 0;
  if (empty && (!r.content || method.toUpperCase() === 'HEAD' || res.status === 204 || res.status === 304)) return;
  if (!r.content) return fail(`${label} ${res.status}: declares no body, got ${type || 'untyped'} (${res.text.length} chars)`);
  const media = mediaFor(r.content, type);
  if (!media) return fail(`${label} ${res.status}: Content-Type ${type || '(none)'} is not declared (declares ${Object.keys(r.content).join(', ')})`);
  if (media !== 'application/json') return;
  const key = declared.$ref ? `${declared.$ref}` : `#/paths/${pointer(found.template, m.toLowerCase(), 'responses', String(res.status))}`;
  let validate = c.validators.get(key);
  if (!validate) {
    const ref = declared.$ref ? `${DOC_ID}${declared.$ref}/content/application~1json/schema` : `${DOC_ID}${key}/content/application~1json/schema`;
    validate = c.ajv.compile({ $ref: ref });
    c.validators.set(key, validate);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(res.text);
  } catch {
    return fail(`${label} ${res.status}: the body is not JSON`);
  }
  if (!validate(parsed)) {
    fail(
      `${label} ${res.status}: the body does not match its schema:\n${(validate.errors ?? []).map((e) => `  ${e.instancePath || '(root)'} ${e.message} ${JSON.stringify(e.params)}`).join('\n')}`,
    );
  }
}
