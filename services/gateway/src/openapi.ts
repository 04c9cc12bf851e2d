import {
  allProcedures,
  catalogue,
  errorBody,
  errorCodes,
  fileMeta,
  fileStreams,
  inlineContentTypes,
  variantContentTypes,
  type AnyProcedure,
  type ErrorCode,
} from '@lms/contracts';
import { IDEMPOTENCY_KEY_PATTERN } from '@lms/runtime';
import { z } from 'zod';

type Json = Record<string, unknown>;

const STATUS_TEXT: Record<number, string> = {
  400: 'Malformed request (e.g. invalid JSON or percent-encoding)',
  401: 'Missing, invalid or expired access token',
  402: 'The payment was declined',
  403: 'The caller lacks the permission',
  404: 'Not found (or not visible to the caller)',
  409: 'Conflicts with the current state; on a mutation also IDEMPOTENCY_KEY_IN_USE (with Retry-After) or IDEMPOTENCY_RESPONSE_LOST',
  413: 'Body too large',
  415: 'Unsupported Content-Type or Content-Encoding',
  422: 'Input fails validation; details.issues names each field (IDEMPOTENCY_KEY_REUSED: the Idempotency-Key was used with another request)',
  429: 'Rate limited; see Retry-After',
  431: 'Request headers too large',
  500: 'Internal error',
  503: 'A required service is unavailable',
  504: 'A service did not answer in time',
};

/** Response headers, declared once and referenced from each response that sends them. */
const HEADERS: Record<string, Json> = {
  'X-Request-Id': { description: "The request id (the client's X-Request-Id when valid); also in error bodies", required: true, schema: { type: 'string' } },
  'RateLimit-Limit': { description: 'Requests allowed per window for this client', required: true, schema: { type: 'integer' } },
  'RateLimit-Remaining': { description: 'Requests left in the current window', required: true, schema: { type: 'integer' } },
  'Retry-After': { description: 'Seconds to wait before trying again', required: true, schema: { type: 'integer' } },
  'Idempotent-Replayed': {
    description: 'Present (`true`) when this is the stored response of an earlier request with the same Idempotency-Key',
    required: false,
    schema: { type: 'string', enum: ['true'] },
  },
  'Retry-After-Optional': { description: 'Seconds to wait before trying again, when known', required: false, schema: { type: 'integer' } },
  Location: { description: 'Where the created resource lives, or where to go next', required: true, schema: { type: 'string' } },
  ETag: { description: 'The strong ETag of the bytes (their sha256)', required: true, schema: { type: 'string' } },
  'Accept-Ranges': { description: 'Byte ranges are supported', required: true, schema: { type: 'string', enum: ['bytes'] } },
  'Content-Range': { description: 'The range sent, or `bytes */size` when the range cannot be satisfied', required: true, schema: { type: 'string' } },
};
const header = (name: string) => ({ $ref: `#/components/headers/${name}` });

/** The request header every mutation accepts (services/runtime/src/idempotency.ts), declared once in components.parameters. */
const IDEMPOTENCY_KEY_PARAMETER: Json = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description:
    'Makes a retry safe: a repeat of this request with the same key (per caller, kept 24 h) answers the first response, same status and body, without doing it again. ' +
    'The same key with another operation or body answers 422 `IDEMPOTENCY_KEY_REUSED`; a repeat while the first still runs waits for it, ' +
    'then answers 409 `IDEMPOTENCY_KEY_IN_USE` (with `Retry-After`); 409 `IDEMPOTENCY_RESPONSE_LOST` when the first took effect but its node died before storing its response. ' +
    'Send a random value (a UUID); without one the gateway uses a key of its own for its retries of this request only.',
  schema: { type: 'string', minLength: 1, maxLength: 255, pattern: IDEMPOTENCY_KEY_PATTERN },
};
/** Headers every response of the API sends: the request id and the rate-limit state. */
const COMMON_HEADERS = {
  'X-Request-Id': header('X-Request-Id'),
  'RateLimit-Limit': header('RateLimit-Limit'),
  'RateLimit-Remaining': header('RateLimit-Remaining'),
};

/**
 * The error statuses an operation can answer, derived from the runtime's error model so a new operation
 * gets them without anyone listing them: what any request can meet at the edge (malformed request,
 * a bad bearer token, validation, rate limits, oversized headers, outages), what a body brings (size,
 * media type), what a permission brings (403), what an id in the path brings (404), plus the codes the
 * contract names (`errors`, mapped through `errorCodes`); a mutation's Idempotency-Key brings 409.
 */
export function errorStatuses(op: { permission: string; errors?: readonly ErrorCode[]; readsBody: boolean; path: string; mutation?: boolean }): number[] {
  const s = new Set<number>([400, 401, 422, 429, 431, 500, 503, 504]);
  if (op.mutation) s.add(409); // IDEMPOTENCY_KEY_IN_USE, IDEMPOTENCY_RESPONSE_LOST
  if (op.readsBody) [413, 415].forEach((x) => s.add(x));
  if (op.permission !== 'public') s.add(403);
  if (pathParams(op.path).length > 0) s.add(404);
  for (const code of op.errors ?? []) s.add(errorCodes[code]);
  return [...s].sort((a, b) => a - b);
}

/** The error responses, declared once in components.responses (`Error400`…) and referenced by status. */
function errorComponents(): Json {
  return Object.fromEntries(
    Object.keys(STATUS_TEXT).map((code) => {
      const s = Number(code);
      return [
        `Error${s}`,
        {
          description: STATUS_TEXT[s],
          // A 431 is answered before the request is routed: no rate-limit state yet.
          headers:
            s === 431
              ? { 'X-Request-Id': header('X-Request-Id') }
              : {
                  ...COMMON_HEADERS,
                  // A rate limit says when its window resets; every 503 (an outage) says when to try again; a 409
                  // IDEMPOTENCY_KEY_IN_USE does too (other conflicts do not).
                  ...((s === 429 || s === 503) && { 'Retry-After': header('Retry-After') }),
                  ...(s === 409 && { 'Retry-After': header('Retry-After-Optional') }),
                },
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        },
      ];
    }),
  );
}

function errorResponses(statuses: number[]): Json {
  return Object.fromEntries(
    statuses.map((s) => [
      String(s),
      STATUS_TEXT[s]
        ? { $ref: `#/components/responses/Error${s}` }
        : { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
    ]),
  );
}

const binary = { type: 'string', format: 'binary' } as const;

/** Where a named input schema is referenced until buildOpenApi knows its final name (see `nameInputs`). */
const INPUT_REF = '"#/components/schemas/__input__/';

/**
 * JSON Schema for a zod schema, with named schemas hoisted into components. Input and output of one named schema
 * can differ (a default makes an output field required, an input field optional): input defs are kept apart
 * and named by `nameInputs`.
 */
function toSchema(schema: z.ZodType, io: 'input' | 'output', components: Json, inputs?: Json): Json {
  const js = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as Json;
  delete js.$schema;
  const defs = (js.$defs ?? {}) as Json;
  delete js.$defs;
  const rewrite = (v: unknown) =>
    JSON.parse(JSON.stringify(v).replaceAll('"#/$defs/', io === 'input' && inputs ? INPUT_REF : '"#/components/schemas/')) as Json;
  for (const [name, def] of Object.entries(defs)) (io === 'input' && inputs ? inputs : components)[name] = rewrite(def);
  return rewrite(js);
}

/** An input def keeps the name when it is the output def too, else it becomes `<name>Input`; its refs follow. */
function nameInputs(doc: Json, components: Json, inputs: Json): Json {
  const plain = (v: unknown) => JSON.stringify(v).replaceAll(INPUT_REF, '"#/components/schemas/');
  // Every name is chosen before any input lands in `components` (a landed input must not change the next choice).
  const named = Object.entries(inputs).map(([name, def]) => ({
    name,
    def,
    as: !(name in components) || plain(components[name]) === plain(def) ? name : `${name}Input`,
  }));
  const names: Record<string, string> = Object.fromEntries(named.map((n) => [n.name, n.as]));
  for (const n of named) components[n.as] ??= n.def;
  return JSON.parse(
    JSON.stringify(doc).replace(/"#\/components\/schemas\/__input__\/([^"]+)"/g, (_, n: string) => `"#/components/schemas/${names[n] ?? n}"`),
  ) as Json;
}

function shapeOf(c: AnyProcedure): Record<string, z.ZodType> {
  return (c.input as unknown as z.ZodObject).shape ?? {};
}

/** A field of a procedure's input; a path or query parameter the input does not declare is a broken contract. */
function fieldOf(c: AnyProcedure, shape: Record<string, z.ZodType>, name: string): z.ZodType {
  const field = shape[name];
  if (!field) throw new Error(`${c.action}: its REST route names {${name}}, which its input does not declare`);
  return field;
}

export function pathParams(path: string): string[] {
  return [...path.matchAll(/\{(\w+)\}/g)].flatMap((m) => (m[1] ? [m[1]] : []));
}

/** The OpenAPI 3.1 document for every REST operation the contracts declare. */
export function buildOpenApi(serverUrl = '/api/v1'): Json {
  const schemas: Json = {};
  const inputs: Json = {};
  toSchema(errorBody, 'output', schemas); // named (meta id 'Error'): lands in components.schemas
  const paths: Record<string, Json> = {};
  for (const c of allProcedures()) {
    if (!c.rest) continue;
    const shape = shapeOf(c);
    const inPath = pathParams(c.rest.path);
    const parameters: Json[] = inPath.map((name) => ({
      name,
      in: 'path',
      required: true,
      schema: toSchema(fieldOf(c, shape, name), 'input', schemas, inputs),
    }));
    if (c.kind === 'mutation') parameters.push({ $ref: '#/components/parameters/IdempotencyKey' });
    const rest = Object.keys(shape).filter((k) => !inPath.includes(k));
    let requestBody: Json | undefined;
    if (c.rest.method === 'GET' || c.rest.method === 'DELETE') {
      for (const name of rest) {
        const field = fieldOf(c, shape, name);
        const schema = toSchema(field, 'input', schemas, inputs);
        parameters.push({
          name,
          in: 'query',
          required: !field.safeParse(undefined).success,
          schema,
          ...(schema.description ? { description: schema.description } : {}),
        });
      }
    } else {
      const bodySchema = (c.input as unknown as z.ZodObject).omit(Object.fromEntries(inPath.map((p) => [p, true])) as never);
      requestBody = {
        // An operation whose body fields are all optional takes no body at all (publish, enrol, logout…).
        required: !bodySchema.safeParse({}).success,
        content: { 'application/json': { schema: toSchema(bodySchema, 'input', schemas, inputs) } },
      };
    }
    const status = String(c.rest.status ?? 200);
    const responses: Json = {
      [status]: {
        description: status.startsWith('3') ? 'Redirect to the target in Location' : 'Success',
        headers: {
          ...COMMON_HEADERS,
          ...(status.startsWith('3') && { Location: header('Location') }),
          ...(c.kind === 'mutation' && { 'Idempotent-Replayed': header('Idempotent-Replayed') }),
        },
        content: { 'application/json': { schema: toSchema(c.output, 'output', schemas) } },
      },
      ...errorResponses(
        errorStatuses({ permission: c.permission, errors: c.errors, readsBody: requestBody !== undefined, path: c.rest.path, mutation: c.kind === 'mutation' }),
      ),
    };
    const op: Json = {
      operationId: c.action.replace(/\.(\w)/g, (_, ch: string) => ch.toUpperCase()),
      summary: c.summary,
      description:
        `tRPC: \`${c.action}\` (${c.kind}). Permission: \`${c.permission}\`.` +
        (c.idempotentBy
          ? ` Idempotent by itself when \`${c.idempotentBy}\` is sent: no Idempotency-Key is recorded, and a repeat runs again (changing nothing).`
          : ''),
      tags: [c.service],
      security: c.permission === 'public' ? [] : [{ bearerAuth: [] }],
      parameters: parameters.length ? parameters : undefined,
      requestBody,
      responses,
    };
    paths[c.rest.path] = { ...(paths[c.rest.path] ?? {}), [c.rest.method.toLowerCase()]: JSON.parse(JSON.stringify(op)) as Json };
  }
  // The streaming file operations: bytes in and out, served by the gateway itself.
  const fileRef = toSchema(fileMeta, 'output', schemas);
  const fileIdParam = { name: 'fileId', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };
  for (const f of fileStreams) {
    const upload = f.kind === 'upload';
    const variant = f.path.includes('variants');
    // Downloads answer application/octet-stream, or the file's own type when a browser may show it inline.
    const served = Object.fromEntries(
      ['application/octet-stream', ...(variant ? variantContentTypes : inlineContentTypes)].map((t) => [t, { schema: binary }]),
    );
    const bytesHeaders = { ...COMMON_HEADERS, ETag: header('ETag'), 'Accept-Ranges': header('Accept-Ranges') };
    const op: Json = {
      operationId: upload ? (f.path === '/files' ? 'filesUpload' : 'filesUploadVersion') : variant ? 'filesDownloadVariant' : 'filesDownload',
      summary: f.summary,
      description: upload
        ? 'Streams the body to storage (never buffered whole); sha256 computed on the way; the type is detected from the bytes. Raw body (any media type but JSON and forms, which answer 415; the declared type is only a hint): name in `X-Filename` (URL-encoded). Or multipart/form-data with one file part. `courseId`/`lessonId` attach the file to a course (its staff only). Limit: FILES_MAX_BYTES.'
        : 'Streams the bytes. `Range: bytes=a-b` answers 206; `If-None-Match` with the ETag (the sha256) answers 304. Without a bearer token, `exp` and `sig` from POST /files/{fileId}/signed-url authorise it until it expires.',
      tags: ['files'],
      security: upload ? [{ bearerAuth: [] }] : [{ bearerAuth: [] }, {}],
      parameters: [
        ...(f.path.includes('{fileId}') ? [fileIdParam] : []),
        ...(f.path.includes('{name}')
          ? [{ name: 'name', in: 'path', required: true, schema: { type: 'string', pattern: '^[a-z0-9]+\\.(webp|avif|mp4)$' } }]
          : []),
        ...(upload
          ? [
              { name: 'X-Filename', in: 'header', required: false, schema: { type: 'string' } },
              { name: 'courseId', in: 'query', required: false, schema: { type: 'string', format: 'uuid' } },
              { name: 'lessonId', in: 'query', required: false, schema: { type: 'string', format: 'uuid' } },
            ]
          : [
              { name: 'version', in: 'query', required: false, schema: { type: 'integer', minimum: 1 } },
              { name: 'exp', in: 'query', required: false, schema: { type: 'integer' } },
              { name: 'sig', in: 'query', required: false, schema: { type: 'string' } },
              { name: 'Range', in: 'header', required: false, schema: { type: 'string' } },
              { name: 'If-None-Match', in: 'header', required: false, schema: { type: 'string' } },
            ]),
      ],
      ...(upload && {
        requestBody: {
          required: true,
          content: {
            'application/octet-stream': { schema: binary },
            'multipart/form-data': { schema: { type: 'object', properties: { file: binary }, required: ['file'] } },
          },
        },
      }),
      responses: upload
        ? {
            '201': {
              description: 'Stored',
              headers: { ...COMMON_HEADERS, Location: header('Location') },
              content: { 'application/json': { schema: fileRef } },
            },
            ...errorResponses(
              errorStatuses({ permission: 'authenticated', errors: ['NOT_FOUND', 'QUOTA_EXCEEDED', 'IMAGE_TOO_LARGE'], readsBody: true, path: f.path }),
            ),
          }
        : {
            '200': { description: 'The bytes', headers: bytesHeaders, content: served },
            '206': { description: 'The requested range', headers: { ...bytesHeaders, 'Content-Range': header('Content-Range') }, content: served },
            '304': { description: 'Not modified (ETag matched)', headers: { ...COMMON_HEADERS, ETag: header('ETag') } },
            '416': { description: 'Range not satisfiable', headers: { ...COMMON_HEADERS, 'Content-Range': header('Content-Range') } },
            ...errorResponses(errorStatuses({ permission: 'public', errors: ['NOT_FOUND'], readsBody: false, path: f.path })),
          },
    };
    paths[f.path] = { ...(paths[f.path] ?? {}), [f.method.toLowerCase()]: op };
  }
  return nameInputs(
    {
      openapi: '3.1.0',
      info: {
        title: 'LMS API',
        version: '1.0.0',
        description:
          'Every operation here is generated from the same contract as its tRPC procedure (`/trpc`). Errors share one body: `{ "error": { "code", "message", "details", "requestId" } }`. ' +
          'Every mutation accepts an `Idempotency-Key` header: a repeat with the same key answers the first response.',
        license: { name: 'AGPL-3.0-or-later', identifier: 'AGPL-3.0-or-later' },
      },
      servers: [{ url: serverUrl }],
      tags: Object.keys(catalogue).map((name) => ({ name, description: `${name} service` })),
      paths,
      components: {
        schemas,
        responses: errorComponents(),
        parameters: { IdempotencyKey: IDEMPOTENCY_KEY_PARAMETER },
        headers: HEADERS,
        securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      },
    },
    schemas,
    inputs,
  );
}
