import { allProcedures, catalogue, errorBody, errorCodes, fileMeta, fileStreams, type AnyProcedure } from '@lms/contracts';
import { z } from 'zod';

type Json = Record<string, unknown>;

const STATUS_TEXT: Record<number, string> = {
  400: 'Malformed request',
  401: 'Missing, invalid or expired access token',
  403: 'The caller lacks the permission',
  404: 'Not found',
  409: 'Conflicts with the current state',
  413: 'Body too large',
  422: 'Input fails validation; details.issues names each field',
  429: 'Rate limited; see Retry-After',
  500: 'Internal error',
  503: 'A required service is unavailable',
};

/** JSON Schema for a zod schema, with named schemas hoisted into components. */
function toSchema(schema: z.ZodType, io: 'input' | 'output', components: Json): Json {
  const js = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as Json;
  delete js.$schema;
  const defs = (js.$defs ?? {}) as Json;
  delete js.$defs;
  for (const [name, def] of Object.entries(defs)) components[name] = rewriteRefs(def);
  return rewriteRefs(js) as Json;
}

function rewriteRefs(v: unknown): Json {
  return JSON.parse(JSON.stringify(v).replaceAll('"#/$defs/', '"#/components/schemas/'));
}

function shapeOf(c: AnyProcedure): Record<string, z.ZodType> {
  return (c.input as unknown as z.ZodObject).shape ?? {};
}

export function pathParams(path: string): string[] {
  return [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
}

function errorStatuses(c: AnyProcedure): number[] {
  const s = new Set<number>([422, 429, 500, 503]);
  if (c.permission !== 'public') s.add(401);
  if (c.permission !== 'public' && c.permission !== 'authenticated') s.add(403);
  for (const code of c.errors ?? []) s.add(errorCodes[code]);
  return [...s].sort();
}

/** The OpenAPI 3.1 document for every REST operation the contracts declare. */
export function buildOpenApi(serverUrl = '/api/v1'): Json {
  const schemas: Json = {};
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
      schema: toSchema(shape[name]!, 'input', schemas),
    }));
    const rest = Object.keys(shape).filter((k) => !inPath.includes(k));
    let requestBody: Json | undefined;
    if (c.rest.method === 'GET' || c.rest.method === 'DELETE') {
      for (const name of rest) {
        const field = shape[name]!;
        const schema = toSchema(field, 'input', schemas);
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
        required: true,
        content: { 'application/json': { schema: toSchema(bodySchema, 'input', schemas) } },
      };
    }
    const status = String(c.rest.status ?? 200);
    const responses: Json = {
      [status]: {
        description: status.startsWith('3') ? 'Redirect to the target in Location' : 'Success',
        ...(status.startsWith('3') && { headers: { Location: { description: 'Where to go next', schema: { type: 'string' } } } }),
        content: { 'application/json': { schema: toSchema(c.output, 'output', schemas) } },
      },
    };
    for (const s of errorStatuses(c)) {
      responses[String(s)] = {
        description: STATUS_TEXT[s] ?? 'Error',
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      };
    }
    const op: Json = {
      operationId: c.action.replace(/\.(\w)/g, (_, ch: string) => ch.toUpperCase()),
      summary: c.summary,
      description: `tRPC: \`${c.action}\` (${c.kind}). Permission: \`${c.permission}\`.`,
      tags: [c.service],
      security: c.permission === 'public' ? [] : [{ bearerAuth: [] }],
      parameters: parameters.length ? parameters : undefined,
      requestBody,
      responses,
    };
    paths[c.rest.path] = { ...(paths[c.rest.path] ?? {}), [c.rest.method.toLowerCase()]: JSON.parse(JSON.stringify(op)) };
  }
  // The streaming file operations: bytes in and out, served by the gateway itself.
  const fileRef = toSchema(fileMeta, 'output', schemas);
  const err = (codes: number[]) =>
    Object.fromEntries(codes.map((s) => [String(s), { description: STATUS_TEXT[s] ?? 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } }]));
  const fileIdParam = { name: 'fileId', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };
  for (const f of fileStreams) {
    const upload = f.kind === 'upload';
    const op: Json = {
      operationId: upload ? (f.path === '/files' ? 'filesUpload' : 'filesUploadVersion') : f.path.includes('variants') ? 'filesDownloadVariant' : 'filesDownload',
      summary: f.summary,
      description: upload
        ? 'Streams the body to storage (never buffered whole); sha256 computed on the way; the type is detected from the bytes. Raw body: name in `X-Filename` (URL-encoded). Or multipart/form-data with one file part. `courseId`/`lessonId` attach the file to a course (its staff only). Limit: FILES_MAX_BYTES.'
        : 'Streams the bytes. `Range: bytes=a-b` answers 206; `If-None-Match` with the ETag (the sha256) answers 304. Without a bearer token, `exp` and `sig` from POST /files/{fileId}/signed-url authorise it until it expires.',
      tags: ['files'],
      security: upload ? [{ bearerAuth: [] }] : [{ bearerAuth: [] }, {}],
      parameters: [
        ...(f.path.includes('{fileId}') ? [fileIdParam] : []),
        ...(f.path.includes('{name}') ? [{ name: 'name', in: 'path', required: true, schema: { type: 'string', pattern: '^[a-z0-9]+\\.(webp|avif|mp4)$' } }] : []),
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
            ]),
      ],
      ...(upload && {
        requestBody: {
          required: true,
          content: {
            'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } },
            'multipart/form-data': { schema: { type: 'object', properties: { file: { type: 'string', contentMediaType: 'application/octet-stream' } } } },
          },
        },
      }),
      responses: upload
        ? { '201': { description: 'Stored', content: { 'application/json': { schema: fileRef } } }, ...err([401, 403, 404, 413, 422, 429, 500]) }
        : {
            '200': { description: 'The bytes', content: { 'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } } },
            '206': { description: 'The requested range', content: { 'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } } },
            '304': { description: 'Not modified (ETag matched)' },
            '416': { description: 'Range not satisfiable' },
            ...err([401, 404, 429, 500]),
          },
    };
    paths[f.path] = { ...(paths[f.path] ?? {}), [f.method.toLowerCase()]: op };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'LMS API',
      version: '1.0.0',
      description:
        'Every operation here is generated from the same contract as its tRPC procedure (`/trpc`). Errors share one body: `{ "error": { "code", "message", "details", "requestId" } }`.',
      license: { name: 'AGPL-3.0-or-later', identifier: 'AGPL-3.0-or-later' },
    },
    servers: [{ url: serverUrl }],
    tags: Object.keys(catalogue).map((name) => ({ name, description: `${name} service` })),
    paths,
    components: {
      schemas,
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
    },
  };
}
