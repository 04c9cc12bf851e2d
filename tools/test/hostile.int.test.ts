/**
 * No request takes the LMS down or gets a 500 (issue 11, sections 1 and 2): every malformed shape of upload and
 * request answers 4xx in the error model (the REST one, or tRPC's envelope on /trpc), leaves nothing in storage
 * or the database, and the process goes on serving.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { gatewayPort } from '@lms/gateway';
import { startNode, type LmsNode } from '@lms/runtime';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICES } from '../services.ts';
import { defined, http, tempDir, waitFor } from './support.ts';

let node: LmsNode;
let base: string;
let port: number;
let dir: ReturnType<typeof tempDir>;
let token = '';

/** One HTTP/1.1 request written as bytes; `abortAfterMs` drops the connection instead of waiting for an answer. */
function raw(head: string, body: Buffer | string = '', abortAfterMs?: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.write(head.replace(/\n/g, '\r\n') + '\r\n\r\n');
      s.write(body);
      if (abortAfterMs !== undefined) setTimeout(() => (s.destroy(), resolve({ status: 0, body: '' })), abortAfterMs);
    });
    let out = '';
    s.on('data', (d) => (out += d.toString('latin1')));
    s.on('error', () => {});
    s.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d+)/.exec(out)?.[1] ?? 0);
      let text = out.slice(out.indexOf('\r\n\r\n') + 4);
      if (/transfer-encoding: chunked/i.test(out.slice(0, out.indexOf('\r\n\r\n'))))
        text = text.replace(/^[0-9a-f]+\r\n/gm, '').replace(/\r\n0\r\n\r\n$|\r\n/g, '');
      resolve({ status, body: text });
    });
  });
}

/** The head of a POST (the body is sent after it by `raw`). */
const post = (url: string, headers: Record<string, string | number>) =>
  [`POST ${url} HTTP/1.1`, 'Host: test', 'Connection: close', `Authorization: Bearer ${token}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)].join(
    '\n',
  );

async function leftovers(): Promise<string[]> {
  const tmp = path.join(dir.dir, 'files', 'tmp');
  const tus = path.join(dir.dir, 'tus');
  return [...(fs.existsSync(tmp) ? fs.readdirSync(tmp) : []), ...(fs.existsSync(tus) ? fs.readdirSync(tus).map((f) => `tus/${f}`) : [])];
}

async function rows(): Promise<number> {
  const r = await sql<{ n: number }>`select (select count(*) from files.files) + (select count(*) from files.file_versions) as n`.execute(node.runtime.db.root);
  return Number(r.rows[0]?.n ?? -1);
}

async function alive(): Promise<void> {
  expect((await http(base, 'GET', '/health/live')).status).toBe(200);
}

/** The public error model, with a request id that is never empty. */
function expectError(r: { status: number; body: string }, status: number, code?: string) {
  expect(r.status, r.body).toBe(status);
  const body = JSON.parse(r.body) as { error: { code: string; message: string; requestId: string } };
  expect(body.error.requestId).toMatch(/^\S+$/);
  if (code) expect(body.error.code).toBe(code);
  expect(r.body).not.toMatch(/ {4}at |node_modules|\/tmp\//);
}

beforeAll(async () => {
  dir = tempDir();
  Object.assign(process.env, {
    FILES_DIR: path.join(dir.dir, 'files'),
    FILES_TUS_DIR: path.join(dir.dir, 'tus'),
    RATE_LIMIT_AUTH_PER_MINUTE: '1000',
    RATE_LIMIT_PER_MINUTE: '100000',
  });
  node = await startNode(Object.values(SERVICES), { mode: 'embedded', dataDir: path.join(dir.dir, 'data'), port: 0, databaseUrl: undefined });
  port = gatewayPort(node.broker);
  base = `http://127.0.0.1:${port}`;
  token = (await http(base, 'POST', '/api/v1/auth/register', { email: 'admin@hostile.test', password: 'hostile suite password', displayName: 'Admin' })).body
    .accessToken;
}, 60_000);

afterAll(async () => {
  await node?.stop();
  for (const k of ['FILES_DIR', 'FILES_TUS_DIR', 'RATE_LIMIT_AUTH_PER_MINUTE', 'RATE_LIMIT_PER_MINUTE']) delete process.env[k];
  dir?.remove();
});

describe('a request never takes the process down', () => {
  it('answers every malformed upload 400 in the error model, keeps serving, and leaves no blob or row behind', async () => {
    const good = await http(base, 'POST', '/api/v1/files', 'first version', token, { 'content-type': 'text/plain', 'x-filename': 'a.txt' });
    expect(good.status, JSON.stringify(good.body)).toBe(201);
    const before = await rows();
    const part = '--b\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nhi\r\n';
    for (const url of ['/api/v1/files', `/api/v1/files/${good.body.id}/versions`]) {
      // The closing boundary is missing (the issue's curl): this ended the process.
      expectError(await raw(post(url, { 'Content-Type': 'multipart/form-data; boundary=b', 'Content-Length': part.length }), part), 400, 'BAD_REQUEST');
      await alive();
      // The file part is whole, but the form breaks after it: the upload does not count.
      const broken = `${part}--b\r\nContent-Disposition: form-data; name="x"\r\n\r\nunfinished`;
      expectError(await raw(post(url, { 'Content-Type': 'multipart/form-data; boundary=b', 'Content-Length': broken.length }), broken), 400, 'BAD_REQUEST');
      await alive();
      // No boundary at all.
      expectError(await raw(post(url, { 'Content-Type': 'multipart/form-data', 'Content-Length': part.length }), part), 400, 'BAD_REQUEST');
      // Compressed bytes would be stored compressed: refused.
      const gz = gzipSync('hello');
      expectError(
        await raw(post(url, { 'Content-Type': 'text/plain', 'Content-Encoding': 'gzip', 'Content-Length': gz.length, 'X-Filename': 'a.txt' }), gz),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      );
      // Clients that go away mid-upload, raw and multipart.
      await raw(post(url, { 'Content-Type': 'text/plain', 'Content-Length': 100_000, 'X-Filename': 'a.txt' }), 'x'.repeat(5000), 150);
      await raw(post(url, { 'Content-Type': 'multipart/form-data; boundary=b', 'Content-Length': 100_000 }), part + 'x'.repeat(5000), 150);
      await alive();
    }
    await waitFor(async () => (await leftovers()).length === 0, 5_000).catch(async () => expect(await leftovers()).toEqual([]));
    expect(await rows()).toBe(before);
  });

  it('answers bad tus requests in the error model, with a request id, and leaves nothing behind', async () => {
    const tus = { 'Tus-Resumable': '1.0.0' };
    const created = await fetch(`${base}/api/v1/files/uploads`, {
      method: 'POST',
      headers: { ...tus, authorization: `Bearer ${token}`, 'upload-length': '10' },
    });
    expect(created.status).toBe(201);
    const location = new URL(created.headers.get('location') ?? '', base).pathname;
    const patch = (headers: Record<string, string | number>, body: string) =>
      raw(post(location, { ...tus, 'Content-Length': body.length, ...headers }).replace('POST', 'PATCH'), body);
    expectError(await patch({ 'Upload-Offset': 5, 'Content-Type': 'application/offset+octet-stream' }, 'abc'), 409, 'CONFLICT');
    expectError(await patch({ 'Upload-Offset': 0, 'Content-Type': 'text/plain' }, 'abc'), 400, 'BAD_REQUEST');
    expectError(await patch({ 'Upload-Offset': 'x', 'Content-Type': 'application/offset+octet-stream' }, 'abc'), 400, 'BAD_REQUEST');
    expectError(
      await raw(post(location, { 'Upload-Offset': 0, 'Content-Type': 'application/offset+octet-stream', 'Content-Length': 3 }).replace('POST', 'PATCH'), 'abc'),
      412,
    );
    expectError(await patch({ 'Upload-Offset': 0, 'Content-Type': 'application/offset+octet-stream' }, 'more than ten bytes'), 413, 'PAYLOAD_TOO_LARGE');
    // A client gone mid-PATCH.
    await raw(
      post(location, { ...tus, 'Upload-Offset': 0, 'Content-Type': 'application/offset+octet-stream', 'Content-Length': 10 }).replace('POST', 'PATCH'),
      'abc',
      150,
    );
    await alive();
    const anonymous = await fetch(`${base}/api/v1/files/uploads`, { method: 'POST', headers: { ...tus, 'upload-length': '10' } });
    const denied = (await anonymous.json()) as { error: { code: string; requestId: string } };
    expect([anonymous.status, denied.error.code]).toEqual([401, 'UNAUTHENTICATED']);
    expect(denied.error.requestId).toBe(anonymous.headers.get('x-request-id'));
    await fetch(`${base}${location}`, { method: 'DELETE', headers: { ...tus, authorization: `Bearer ${token}` } });
    await waitFor(async () => (await leftovers()).length === 0, 5_000).catch(async () => expect(await leftovers()).toEqual([]));
  });

  it('answers a resumable upload 503 when tokens cannot be checked (auth unreachable), 401 only for a bad token', async () => {
    const tus = { 'Tus-Resumable': '1.0.0', 'upload-length': '10' };
    const bad = await fetch(`${base}/api/v1/files/uploads`, { method: 'POST', headers: { ...tus, authorization: 'Bearer not.a.token' } });
    expect([bad.status, ((await bad.json()) as { error: { code: string } }).error.code]).toEqual([401, 'UNAUTHENTICATED']);
    // A gateway on its own: nothing answers for the signing keys, so a good token cannot be checked. That is an outage, not "sign in".
    const lone = await startNode([defined(SERVICES.gateway, 'the gateway service')], {
      mode: 'embedded',
      dataDir: 'memory://',
      port: 0,
      databaseUrl: undefined,
    });
    try {
      const r = await fetch(`http://127.0.0.1:${gatewayPort(lone.broker)}/api/v1/files/uploads`, {
        method: 'POST',
        headers: { ...tus, authorization: `Bearer ${token}` },
      });
      expect([r.status, ((await r.json()) as { error: { code: string } }).error.code, r.headers.get('retry-after')]).toEqual([503, 'SERVICE_UNAVAILABLE', '1']);
    } finally {
      await lone.stop();
    }
  });

  it('answers broken and unsupported Content-Encoding 400 and 415 on REST and tRPC alike, and inflates what it supports', async () => {
    const login = JSON.stringify({ email: 'admin@hostile.test', password: 'hostile suite password' });
    const bad = Buffer.from('not gzip at all');
    for (const url of ['/api/v1/auth/login', '/trpc/auth.login']) {
      const trpc = url.startsWith('/trpc');
      const code = (r: { body: string }) => (trpc ? JSON.parse(r.body).error.data.code : JSON.parse(r.body).error.code);
      const broken = await raw(post(url, { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip', 'Content-Length': bad.length }), bad);
      expect([broken.status, code(broken)], broken.body).toEqual([400, 'BAD_REQUEST']);
      const unsupported = await raw(post(url, { 'Content-Type': 'application/json', 'Content-Encoding': 'compress', 'Content-Length': login.length }), login);
      expect([unsupported.status, code(unsupported)], unsupported.body).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
      const gz = gzipSync(login);
      const ok = await raw(post(url, { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip', 'Content-Length': gz.length }), gz);
      expect(ok.status, ok.body).toBe(200);
      await alive();
    }
  });
});

describe('4xx, never 500', () => {
  it('refuses U+0000 in any string, body or query, nested or not, with one 422 naming the field', async () => {
    const course = await http(base, 'POST', '/api/v1/courses', { title: 'Nul\u0000title', category: 'x' }, token);
    expect([course.status, course.body.error?.code, course.body.error?.details?.issues?.[0]?.path]).toEqual([422, 'VALIDATION_FAILED', 'title']);
    const query = await http(base, 'GET', '/api/v1/courses?q=a%00b', undefined, token);
    expect([query.status, query.body.error?.details?.issues?.[0]?.path]).toEqual([422, 'q']);
    const nested = await http(base, 'POST', '/api/v1/courses', { title: 'ok', category: 'x', tags: ['fine', 'bad\u0000'] }, token);
    expect([nested.status, nested.body.error?.details?.issues?.[0]?.path]).toEqual([422, 'tags.1']);
    const viaTrpc = await fetch(`${base}/trpc/auth.login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'a\u0000@b.test', password: 'x' }),
    });
    const body = (await viaTrpc.json()) as { error: { data: { code: string; details: { issues: Array<{ path: string }> } } } };
    expect([viaTrpc.status, body.error.data.code, body.error.data.details.issues[0]?.path]).toEqual([422, 'VALIDATION_FAILED', 'email']);
  });

  it('answers malformed percent-encoding in the path 400, in the envelope of its edge', async () => {
    const rest = await raw('GET /api/v1/courses/%E0%A4%A HTTP/1.1\nHost: test\nConnection: close');
    expectError(rest, 400, 'BAD_REQUEST');
    const trpc = await raw('GET /trpc/courses.get%E0%A4%A HTTP/1.1\nHost: test\nConnection: close');
    expect(trpc.status).toBe(400);
    expect(JSON.parse(trpc.body).error.data).toMatchObject({ code: 'BAD_REQUEST', httpStatus: 400, requestId: expect.stringMatching(/^\S+$/) });
    expect((await raw('GET /docs/%E0%A4%A HTTP/1.1\nHost: test\nConnection: close')).status).toBe(400);
  });

  it('answers a tRPC mutation without a JSON content type 415, and an oversize batch, in the tRPC envelope with request ids', async () => {
    const r = await fetch(`${base}/trpc/auth.login`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' });
    const body = (await r.json()) as { error: { data: { code: string; httpStatus: number; requestId: string } } };
    expect([r.status, body.error.data.code, body.error.data.httpStatus]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE', 415]);
    expect(body.error.data.requestId).toBe(r.headers.get('x-request-id'));
    const huge = await fetch(`${base}/trpc/${Array(51).fill('users.me').join(',')}?batch=1`);
    const calls = (await huge.json()) as Array<{ error: { data: { code: string; requestId: string } } }>;
    expect([huge.status, calls.length, calls[0]?.error.data.code]).toEqual([400, 51, 'BAD_REQUEST']);
    expect(new Set(calls.map((c) => c.error.data.requestId)).size).toBe(51);
  });

  it('gives each call of a batch its own request id', async () => {
    const r = await fetch(`${base}/trpc/users.me,users.me,nope.nothing?batch=1&input=${encodeURIComponent('{}')}`, {
      headers: { 'x-request-id': 'batch-req' },
    });
    const calls = (await r.json()) as Array<{ error: { data: { code: string; requestId: string } } }>;
    expect(calls.map((c) => [c.error.data.code, c.error.data.requestId])).toEqual([
      ['UNAUTHENTICATED', 'batch-req-0'],
      ['UNAUTHENTICATED', 'batch-req-1'],
      ['ROUTE_NOT_FOUND', 'batch-req-2'],
    ]);
  });
});
