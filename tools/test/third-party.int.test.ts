/**
 * A third-party integrator's flow, with nothing from this repository but the published document: types generated
 * by openapi-typescript from clients/openapi.json (clients/openapi.d.ts) and openapi-fetch's createClient<paths>.
 * It must type-check without a cast and pass against an embedded LMS; every response also goes through the
 * conformance check (conformance.ts) in an openapi-fetch middleware.
 */
import { gatewayPort } from '@lms/gateway';
import { startNode, type LmsNode } from '@lms/runtime';
import createClient, { type Middleware } from 'openapi-fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { paths } from '../../clients/openapi.d.ts';
import { SERVICES } from '../services.ts';
import { checkResponse } from './conformance.ts';
import { defined, tempDir } from './support.ts';

let node: LmsNode;
let api: ReturnType<typeof createClient<paths>>;
const data = tempDir();

/** Every response the client receives is checked against the document too. */
const conformance: Middleware = {
  async onResponse({ request, response }) {
    const text = await response.clone().text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      /* bytes */
    }
    await checkResponse(request.method, new URL(request.url).pathname + new URL(request.url).search, {
      status: response.status,
      headers: response.headers,
      text,
      body,
    });
  },
};

beforeAll(async () => {
  process.env.RATE_LIMIT_AUTH_PER_MINUTE = '1000';
  node = await startNode(Object.values(SERVICES), { mode: 'embedded', dataDir: data.dir, port: 0, databaseUrl: undefined });
  api = createClient<paths>({ baseUrl: `http://127.0.0.1:${gatewayPort(node.broker)}/api/v1` });
  api.use(conformance);
}, 60_000);
afterAll(async () => {
  await node?.stop();
  data.remove();
});

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

describe('a third-party client generated from the OpenAPI document (openapi-typescript + openapi-fetch)', () => {
  it('registers, builds and publishes a course, enrols, completes it and reads the progress', async () => {
    const admin = await api.POST('/auth/register', {
      body: { email: 'integrator@example.com', password: 'a long enough password', displayName: 'Integrator' },
    });
    expect(admin.response.status).toBe(201);
    const teacher = defined(admin.data).accessToken; // the first account is the admin, who may create courses
    const learnerReg = await api.POST('/auth/register', { body: { email: 'learner@example.com', password: 'another long password', displayName: 'Learner' } });
    const learner = defined(learnerReg.data).accessToken;

    const course = await api.POST('/courses', { headers: bearer(teacher), body: { title: 'Integration 101', category: 'tech', visibility: 'public' } });
    expect(course.response.status).toBe(201);
    const courseId = defined(course.data).id;
    const mod = await api.POST('/courses/{courseId}/modules', { headers: bearer(teacher), params: { path: { courseId } }, body: { title: 'Getting started' } });
    expect(mod.response.status).toBe(201);
    const lesson = await api.POST('/modules/{moduleId}/lessons', {
      headers: bearer(teacher),
      params: { path: { moduleId: defined(mod.data).id } },
      body: { title: 'Hello', content: { type: 'markdown', body: '# Hello' } },
    });
    expect(lesson.response.status).toBe(201);
    const lessonId = defined(lesson.data).id;

    // Operations without input take no body: the client sends none.
    const published = await api.POST('/courses/{courseId}/publish', { headers: bearer(teacher), params: { path: { courseId } } });
    expect([published.response.status, published.data?.status]).toEqual([200, 'published']);
    const enrolled = await api.POST('/courses/{courseId}/enrollments', { headers: bearer(learner), params: { path: { courseId } } });
    expect(enrolled.error).toBeUndefined();
    expect(enrolled.data?.status).toBe('active');

    const done = await api.POST('/lessons/{lessonId}/complete', { headers: bearer(learner), params: { path: { lessonId } } });
    expect(done.error).toBeUndefined();
    const progress = await api.GET('/courses/{courseId}/progress', { headers: bearer(learner), params: { path: { courseId } } });
    expect(progress.data).toMatchObject({ courseId, percent: 100, completedLessons: 1, totalLessons: 1 });
    expect(defined(progress.data).completedAt).not.toBeNull();

    // Errors come typed too: the Error schema.
    const missing = await api.GET('/courses/{courseId}/progress', {
      headers: bearer(learner),
      params: { path: { courseId: '00000000-0000-4000-8000-000000000000' } },
    });
    expect(missing.response.status).toBe(404);
    expect(missing.error?.error.code).toMatch(/NOT_FOUND/);
  });

  it('uploads and downloads bytes exactly (0x00 and 0xff included), raw and as multipart', async () => {
    const user = await api.POST('/auth/register', { body: { email: 'bytes@example.com', password: 'a long enough password', displayName: 'Bytes' } });
    const token = defined(user.data).accessToken;
    const bytes = new Uint8Array([
      0x00,
      0xff,
      0x68,
      0x69,
      0x00,
      0x0a,
      0x0d,
      0x7f,
      0x80,
      0xfe,
      0xff,
      0x00,
      ...Array.from({ length: 300 }, (_, i) => (i * 37) & 0xff),
    ]);

    // The request body is typed Blob (format: binary): the bytes go as they are, not JSON-encoded.
    const raw = await api.POST('/files', {
      headers: { ...bearer(token), 'Content-Type': 'application/octet-stream' },
      params: { header: { 'X-Filename': 'bytes.bin' } },
      body: new Blob([bytes]),
      bodySerializer: (blob) => blob,
    });
    expect(raw.response.status).toBe(201);
    expect(raw.data?.size).toBe(bytes.length);
    expect(raw.response.headers.get('location')).toBe(`/api/v1/files/${defined(raw.data).id}`);

    const multipart = await api.POST('/files', {
      headers: bearer(token),
      body: { file: new Blob([bytes]) },
      bodySerializer: (body) => {
        const form = new FormData();
        form.append('file', body instanceof Blob ? body : body.file, 'form.bin');
        return form;
      },
    });
    expect(multipart.response.status).toBe(201);

    for (const id of [defined(raw.data).id, defined(multipart.data).id]) {
      const down = await api.GET('/files/{fileId}/content', { headers: bearer(token), params: { path: { fileId: id } }, parseAs: 'arrayBuffer' });
      expect(down.response.status).toBe(200);
      expect(new Uint8Array(defined(down.data))).toEqual(bytes);
      expect(down.response.headers.get('etag')).toBeTruthy();
    }
    const part = await api.GET('/files/{fileId}/content', {
      headers: { ...bearer(token), Range: 'bytes=0-1' },
      params: { path: { fileId: defined(raw.data).id } },
      parseAs: 'arrayBuffer',
    });
    expect([part.response.status, [...new Uint8Array(defined(part.data))]]).toEqual([206, [0x00, 0xff]]);
  });
});
