import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { allProcedures, errorCodes } from '@lms/contracts';
import { buildOpenApi } from '@lms/gateway';
import { describe, expect, it } from 'vitest';
import { openApiTypes } from '../openapi-types.ts';
import { defined } from './support.ts';

const root = path.resolve(import.meta.dirname, '../..');
type Op = {
  operationId: string;
  requestBody?: { required?: boolean; content: Record<string, { schema: unknown }> };
  responses: Record<string, { $ref?: string; headers?: Record<string, unknown>; content?: Record<string, unknown> }>;
};
const doc = buildOpenApi() as { paths: Record<string, Record<string, Op>>; components: { responses: Record<string, unknown> } };
const ops = Object.entries(doc.paths).flatMap(([p, item]) => Object.entries(item).map(([method, op]) => ({ path: p, method, op })));
const byId = (id: string) => defined(ops.find((o) => o.op.operationId === id));

describe('clients/openapi.json', () => {
  it('is the document the contracts generate (run `pnpm openapi` after changing a contract)', () => {
    const committed = JSON.parse(fs.readFileSync(path.join(root, 'clients/openapi.json'), 'utf8'));
    expect(committed).toEqual(JSON.parse(JSON.stringify(buildOpenApi())));
  });

  it('clients/openapi.d.ts is what openapi-typescript generates from it (run `pnpm openapi`)', async () => {
    expect(fs.readFileSync(path.join(root, 'clients/openapi.d.ts'), 'utf8')).toBe(await openApiTypes(buildOpenApi()));
  });

  it('has one operation per REST-bound contract', () => {
    const fromContracts = allProcedures()
      .filter((c) => c.rest)
      .map((c) => c.action.replace(/\.(\w)/g, (_, ch: string) => ch.toUpperCase()));
    // Plus the four streaming file operations the gateway serves itself.
    expect(ops.map((o) => o.op.operationId).sort()).toEqual(
      [...fromContracts, 'filesUpload', 'filesUploadVersion', 'filesDownload', 'filesDownloadVariant'].sort(),
    );
  });

  it('passes `redocly lint` (recommended rules) with no error and no warning', async () => {
    const { stdout } = await promisify(execFile)(path.join(root, 'node_modules/.bin/redocly'), ['lint', 'clients/openapi.json', '--format=json'], {
      cwd: root,
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
      timeout: 60_000,
    }).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
    const report = JSON.parse(stdout) as {
      totals: { errors: number; warnings: number };
      problems: Array<{ ruleId: string; message: string; location: Array<{ pointer: string }> }>;
    };
    expect(report.problems.map((p) => `${p.ruleId} ${p.location[0]?.pointer}: ${p.message}`)).toEqual([]);
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
  }, 60_000);

  it('declares, on every operation, every status the error model can answer (and the Error schema with it)', () => {
    for (const { path: p, method, op } of ops) {
      const statuses = Object.keys(op.responses).map(Number);
      const expected = [400, 401, 422, 429, 431, 500, 503, 504];
      if (op.requestBody) expected.push(413, 415);
      if (p.includes('{')) expected.push(404);
      expect(statuses, `${method.toUpperCase()} ${p}`).toEqual(expect.arrayContaining(expected));
      for (const s of statuses.filter((s) => s >= 400 && s !== 416)) {
        // 416: an empty body with Content-Range
        const r = defined(op.responses[String(s)]);
        expect(r.$ref ?? JSON.stringify(r.content), `${method.toUpperCase()} ${p} ${s}`).toMatch(/Error/);
      }
    }
    // What the audit found undeclared before.
    expect(Object.keys(byId('usersGet').op.responses)).toContain('403');
    expect(Object.keys(byId('coursesPublish').op.responses)).toContain('403');
    expect(Object.keys(byId('coursesArchive').op.responses)).toContain('403');
    expect(Object.keys(byId('coursesCreate').op.responses)).toContain('409');
    expect(Object.keys(byId('filesDownload').op.responses)).toContain('422');
    expect(Object.keys(byId('filesDownloadVariant').op.responses)).toContain('422');
    // Every status of the error model has a component response.
    for (const s of new Set(Object.values(errorCodes))) if (s !== 405) expect(doc.components.responses[`Error${s}`], String(s)).toBeDefined();
  });

  it('declares the headers each response sends', () => {
    for (const { path: p, method, op } of ops) {
      for (const [s, r] of Object.entries(op.responses)) {
        if (r.$ref) continue; // a component response: declared once, with its headers
        expect(Object.keys(r.headers ?? {}), `${method.toUpperCase()} ${p} ${s}`).toEqual(
          expect.arrayContaining(['X-Request-Id', 'RateLimit-Limit', 'RateLimit-Remaining']),
        );
      }
    }
    const comps = doc.components.responses as Record<string, { headers: Record<string, unknown> }>;
    expect(Object.keys(comps.Error429?.headers ?? {})).toContain('Retry-After');
    expect(Object.keys(comps.Error503?.headers ?? {})).toContain('Retry-After');
    const dl = byId('filesDownload').op.responses;
    expect(Object.keys(dl['200']?.headers ?? {})).toEqual(expect.arrayContaining(['ETag', 'Accept-Ranges']));
    expect(Object.keys(dl['206']?.headers ?? {})).toContain('Content-Range');
    expect(Object.keys(byId('filesUpload').op.responses['201']?.headers ?? {})).toContain('Location');
    expect(Object.keys(byId('authOidcStart').op.responses['302']?.headers ?? {})).toContain('Location');
  });

  it('describes bytes as binary: uploads take them, downloads and variants name the media types they send', () => {
    const up = defined(byId('filesUpload').op.requestBody).content;
    expect(up['application/octet-stream']?.schema).toEqual({ type: 'string', format: 'binary' });
    expect(up).not.toHaveProperty('application/json');
    const dl = defined(defined(byId('filesDownload').op.responses['200']).content);
    expect(Object.keys(dl)).toEqual(expect.arrayContaining(['application/octet-stream', 'image/png', 'text/plain', 'application/pdf']));
    const variant = defined(defined(byId('filesDownloadVariant').op.responses['200']).content);
    expect(Object.keys(variant).sort()).toEqual(['application/octet-stream', 'image/avif', 'image/webp', 'video/mp4']);
  });

  it('keeps a named schema whose input differs from its output as two components (defaults are optional going in)', () => {
    const schemas = (
      buildOpenApi() as { components: { schemas: Record<string, { oneOf?: Array<{ properties: { type: { const: string } }; required: string[] }> }> } }
    ).components.schemas;
    const video = (name: string) =>
      defined(
        schemas[name]?.oneOf?.find((v) => v.properties.type.const === 'video'),
        `${name}'s video variant`,
      ).required;
    expect(video('LessonContent')).toContain('completeAtPercent');
    expect(video('LessonContentInput')).not.toContain('completeAtPercent');
    expect(JSON.stringify(byId('coursesCreateLesson').op.requestBody)).toContain('#/components/schemas/LessonContentInput');
    expect(JSON.stringify(buildOpenApi())).not.toContain('__input__');
  });

  it('marks the body optional on operations that need no input', () => {
    for (const id of ['coursesPublish', 'enrollmentsEnrol', 'authLogout', 'notificationsMarkAllRead'])
      expect(byId(id).op.requestBody?.required, id).toBe(false);
    expect(byId('authRegister').op.requestBody?.required).toBe(true);
  });
});
