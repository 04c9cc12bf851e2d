/**
 * What the OpenAPI document promises at the edge, on an embedded LMS: oversized headers answer 431 in the error
 * model; a JSON body that is not an object is 422, no body is an empty input; a malformed body is rate-limited
 * and carries the rate-limit headers; bytes are never taken as JSON. Every response here also goes through the
 * conformance check in http() (conformance.ts), and one test proves that check fails on a mismatch.
 */
import { request } from 'node:http';
import { gatewayPort } from '@lms/gateway';
import { startNode, type LmsNode } from '@lms/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICES } from '../services.ts';
import { checkResponse } from './conformance.ts';
import { http, tempDir } from './support.ts';

let node: LmsNode;
let base: string;
let token: string;
const data = tempDir();

beforeAll(async () => {
  process.env.RATE_LIMIT_AUTH_PER_MINUTE = '1000';
  node = await startNode(Object.values(SERVICES), { mode: 'embedded', dataDir: data.dir, port: 0, databaseUrl: undefined });
  base = `http://127.0.0.1:${gatewayPort(node.broker)}`;
  token = (await http(base, 'POST', '/api/v1/auth/register', { email: 'truth@example.com', password: 'a long enough password', displayName: 'Truth' })).body
    .accessToken;
}, 60_000);
afterAll(async () => {
  await node?.stop();
  data.remove();
});

describe('the edge tells the truth the document tells', () => {
  it('answers oversized request headers with 431 in the error model, with a request id', async () => {
    const r = await http(base, 'GET', '/api/v1/me', undefined, token, { 'x-padding': 'a'.repeat(20_000) });
    expect(r.status).toBe(431);
    expect(r.body.error.code).toBe('HEADERS_TOO_LARGE');
    expect(r.body.error.requestId).toBe(r.headers.get('x-request-id'));
    // The server goes on serving.
    expect((await http(base, 'GET', '/api/v1/me', undefined, token)).status).toBe(200);
  });

  it('refuses a JSON body that is not an object with 422, and takes no body as an empty input', async () => {
    for (const body of ['[]', '"x"', '1', 'null']) {
      const r = await http(base, 'POST', '/api/v1/me/notifications/read-all', body, token);
      expect([body, r.status, r.body.error?.code]).toEqual([body, 422, 'VALIDATION_FAILED']);
    }
    expect((await http(base, 'POST', '/api/v1/me/notifications/read-all', '{}', token)).status).toBe(200);
    expect((await http(base, 'POST', '/api/v1/me/notifications/read-all', undefined, token)).status).toBe(200);
  });

  it('refuses a body that is not JSON with 415, chunked or not', async () => {
    for (const chunked of [false, true]) {
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(
          `${base}/api/v1/me/notifications/read-all`,
          { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain', ...(chunked ? {} : { 'content-length': '5' }) } },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        if (chunked) req.write('hel'); // a write before end: Node sends Transfer-Encoding: chunked
        req.end(chunked ? 'lo' : 'hello');
      });
      expect([chunked, status]).toEqual([chunked, 415]);
    }
  });

  it('rate-limits a malformed or oversized body like any request (its answer carries the rate-limit state)', async () => {
    const bad = await http(base, 'POST', '/api/v1/auth/login', '{"email": ');
    expect([bad.status, bad.body.error.code]).toEqual([400, 'BAD_REQUEST']);
    expect(bad.headers.get('ratelimit-limit')).toBe('1000');
    const big = await http(base, 'POST', '/api/v1/auth/login', { email: 'a@b.co', password: 'x'.repeat(2_000_000) });
    expect([big.status, big.body.error.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    expect(Number(big.headers.get('ratelimit-remaining'))).toBeLessThan(Number(bad.headers.get('ratelimit-remaining')));
  });

  it('refuses an upload sent as JSON or a form (415): bytes are never stored as their JSON encoding', async () => {
    for (const type of ['application/json', 'application/json; charset=utf-8', 'application/vnd.api+json', 'application/x-www-form-urlencoded']) {
      const r = await http(base, 'POST', '/api/v1/files', '{"0":104,"1":105}', token, { 'content-type': type, 'x-filename': 'hi.txt' });
      expect([type, r.status, r.body.error.code]).toEqual([type, 415, 'UNSUPPORTED_MEDIA_TYPE']);
    }
    const ok = await http(base, 'POST', '/api/v1/files', Buffer.from('hi'), token, { 'content-type': 'application/octet-stream', 'x-filename': 'hi.txt' });
    expect([ok.status, ok.body.size]).toEqual([201, 2]);
  });

  it('answers a search query over the limit with 400 SEARCH_QUERY_TOO_LONG, a code its operation declares', async () => {
    // http() checks the response against the document: an undeclared 400 or code would fail here.
    const long = await http(base, 'GET', `/api/v1/search?q=${'a'.repeat(201)}`);
    expect([long.status, long.body.error.code, long.body.error.details]).toEqual([400, 'SEARCH_QUERY_TOO_LONG', { max: 200 }]);
    const ok = await http(base, 'GET', '/api/v1/search?q=anything&mode=semantic');
    // No embedder configured in this node: semantic falls back to lexical, and says so.
    expect([ok.status, ok.body.mode]).toEqual([200, 'lexical']);
    expect((await http(base, 'GET', '/api/v1/search/suggest?q=an')).status).toBe(200);
  });

  it('the conformance check fails a response the document does not declare', async () => {
    const headers = new Headers({ 'content-type': 'application/json', 'x-request-id': 'r', 'ratelimit-limit': '1', 'ratelimit-remaining': '1' });
    // A status the operation does not declare.
    await expect(checkResponse('GET', '/api/v1/me', { status: 402, headers, text: '{}', body: {} })).rejects.toThrow(
      /usersMe \(GET \/me\) does not declare status 402/,
    );
    // A body that does not match the schema names the field.
    const text = JSON.stringify({ error: { code: 'X', message: 1, requestId: 'r' } });
    await expect(checkResponse('GET', '/api/v1/me', { status: 401, headers, text, body: JSON.parse(text) })).rejects.toThrow(/\/error\/message must be string/);
    // A declared header that is missing.
    await expect(checkResponse('GET', '/api/v1/me', { status: 429, headers, text, body: {} })).rejects.toThrow(/Retry-After is missing/);
    // An operation that is not in the document.
    await expect(checkResponse('GET', '/api/v1/nowhere', { status: 200, headers, text: '{}', body: {} })).rejects.toThrow(/no operation/);
  });
});
