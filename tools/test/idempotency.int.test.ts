/**
 * Idempotency-Key through the edges (embedded mode, every service, the real gateway): REST's header, tRPC's header
 * (one key per call of a batch) and the typed client's default key per mutation. The runtime's side (two nodes, dead
 * owners, fencing, the broker's retries) is services/runtime/test/idempotency.int.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { createLmsClient } from '@lms/client';
import { gatewayPort } from '@lms/gateway';
import { startNode, type LmsNode } from '@lms/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICES } from '../services.ts';
import { http } from './support.ts';

let node: LmsNode;
let base: string;
let teacher: string;
let learner: string;
let other: string;
const pw = 'idempotency password';

beforeAll(async () => {
  process.env.RATE_LIMIT_AUTH_PER_MINUTE = '1000';
  node = await startNode(Object.values(SERVICES), { mode: 'embedded', dataDir: 'memory://', port: 0, databaseUrl: undefined });
  base = `http://127.0.0.1:${gatewayPort(node.broker)}`;
  const reg = async (email: string) => (await http(base, 'POST', '/api/v1/auth/register', { email, password: pw, displayName: email.split('@')[0] })).body;
  const admin = await reg('admin@idem.test');
  const t = await reg('teacher@idem.test');
  await http(base, 'POST', `/api/v1/users/${t.user.id}/roles`, { role: 'instructor' }, admin.accessToken);
  teacher = (await http(base, 'POST', '/api/v1/auth/login', { email: 'teacher@idem.test', password: pw })).body.accessToken;
  learner = (await reg('learner@idem.test')).accessToken;
  other = (await reg('other@idem.test')).accessToken;
}, 60_000);
afterAll(async () => {
  delete process.env.RATE_LIMIT_AUTH_PER_MINUTE;
  await node?.stop();
});

const post = (token: string, url: string, body: unknown, key?: string) =>
  http(base, 'POST', `/api/v1${url}`, body, token, key === undefined ? {} : { 'Idempotency-Key': key });

async function publishedCourse(title: string): Promise<string> {
  const c = (await post(teacher, '/courses', { title, category: 'idempotency' })).body;
  expect((await post(teacher, `/courses/${c.id}/publish`, {})).status).toBe(200);
  return c.id as string;
}

describe('Idempotency-Key on REST', () => {
  it('answers a repeated enrolment with the first response (201, same body) and enrols once', async () => {
    const courseId = await publishedCourse('Once');
    const key = randomUUID();
    const first = await post(learner, `/courses/${courseId}/enrollments`, {}, key);
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const again = await post(learner, `/courses/${courseId}/enrollments`, {}, key);
    expect([again.status, again.body, again.headers.get('idempotent-replayed')]).toEqual([201, first.body, 'true']);
    // A structured-field string is the same key.
    expect((await post(learner, `/courses/${courseId}/enrollments`, {}, `"${key}"`)).body).toEqual(first.body);
    // What the retry would have met without the key: the enrolment exists.
    const fresh = await post(learner, `/courses/${courseId}/enrollments`, {});
    expect([fresh.status, fresh.body.error.code]).toEqual([409, 'CONFLICT']);
    const roster = await http(base, 'GET', `/api/v1/courses/${courseId}/roster`, undefined, teacher);
    expect(roster.body.items).toHaveLength(1);
  });

  it('answers 422 IDEMPOTENCY_KEY_REUSED for the same key with another request, and keeps keys per caller', async () => {
    const [c1, c2] = [await publishedCourse('Reuse one'), await publishedCourse('Reuse two')];
    const key = randomUUID();
    expect((await post(learner, `/courses/${c1}/enrollments`, {}, key)).status).toBe(201);
    const reused = await post(learner, `/courses/${c2}/enrollments`, {}, key);
    expect([reused.status, reused.body.error.code]).toEqual([422, 'IDEMPOTENCY_KEY_REUSED']);
    expect((await http(base, 'GET', `/api/v1/courses/${c2}/roster`, undefined, teacher)).body.items).toHaveLength(0);
    // Another learner's same key is their own request.
    expect((await post(other, `/courses/${c1}/enrollments`, {}, key)).status).toBe(201);
    expect((await http(base, 'GET', `/api/v1/courses/${c1}/roster`, undefined, teacher)).body.items).toHaveLength(2);
  });

  it('refuses a malformed key with 422 VALIDATION_FAILED before anything runs', async () => {
    const title = `Bad key ${randomUUID()}`;
    for (const bad of ['', 'a b', 'x'.repeat(256), 'a,b']) {
      const r = await post(teacher, '/courses', { title, category: 'idempotency' }, bad);
      expect([r.status, r.body.error.code, r.body.error.details.issues[0].path]).toEqual([422, 'VALIDATION_FAILED', 'Idempotency-Key']);
    }
    const mine = await http(base, 'GET', '/api/v1/courses?mine=true&limit=100', undefined, teacher);
    expect(mine.body.items.filter((c: { title: string }) => c.title === title)).toHaveLength(0);
  });

  it('lets browsers of other origins send the header (CORS preflight)', async () => {
    const r = await fetch(`${base}/api/v1/courses`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'idempotency-key' },
    });
    expect(r.status).toBe(204);
    expect(r.headers.get('access-control-allow-headers')).toMatch(/Idempotency-Key/);
  });

  it('declares the header on every mutation in the OpenAPI document', async () => {
    const doc = (await http(base, 'GET', '/openapi.json')).body;
    const ops = Object.values(doc.paths as Record<string, Record<string, { operationId: string; parameters?: Array<{ $ref?: string }> }>>).flatMap((p) =>
      Object.entries(p),
    );
    const keyed = (op: { parameters?: Array<{ $ref?: string }> }) => (op.parameters ?? []).some((p) => p.$ref === '#/components/parameters/IdempotencyKey');
    expect(ops.find(([, op]) => op.operationId === 'enrollmentsEnrol')?.[1]).toSatisfy(keyed);
    expect(ops.find(([, op]) => op.operationId === 'coursesGet')?.[1]).not.toSatisfy(keyed);
    expect(doc.components.parameters.IdempotencyKey).toMatchObject({ name: 'Idempotency-Key', in: 'header', required: false });
  });
});

describe('Idempotency-Key on tRPC and the typed client', () => {
  it('gives every mutation its own key by default, and replays a call made again with the same key', async () => {
    const lms = createLmsClient({ url: base, token: teacher });
    const input = { title: `Typed ${randomUUID()}`, category: 'idempotency' };
    // Two calls are two requests (each its own key)…
    const [a, b] = await Promise.all([lms.courses.create.mutate(input), lms.courses.create.mutate(input)]);
    expect(a.id).not.toBe(b.id);
    // …and one call sent again with its key (what a retry does) is the first response.
    const idempotencyKey = randomUUID();
    const first = await lms.courses.create.mutate(input, { context: { idempotencyKey } });
    expect(await lms.courses.create.mutate(input, { context: { idempotencyKey } })).toEqual(first);
    const mine = await lms.courses.list.query({ mine: true, limit: 100 });
    expect(mine.items.filter((c) => c.title === input.title)).toHaveLength(3);
  });

  it('reads one key per call of a batch from the header', async () => {
    const [k1, k2] = [randomUUID(), randomUUID()];
    const batch = (inputs: unknown[], keys: string) =>
      fetch(`${base}/trpc/courses.create,courses.create?batch=1`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${teacher}`, 'idempotency-key': keys },
        body: JSON.stringify(Object.fromEntries(inputs.map((v, i) => [i, v]))),
      }).then(async (r) => (await r.json()) as Array<{ result?: { data: { id: string } }; error?: { data: { code: string } } }>);
    const title = `Batch ${randomUUID()}`;
    const first = await batch(
      [
        { title, category: 'x' },
        { title, category: 'y' },
      ],
      `${k1},${k2}`,
    );
    const ids = first.map((r) => r.result?.data.id);
    expect(new Set(ids).size).toBe(2);
    // The same calls again, alone or in another order, replay; a key given to the other call is a reused key.
    const again = await batch(
      [
        { title, category: 'y' },
        { title, category: 'x' },
      ],
      `${k2},${k1}`,
    );
    expect(again.map((r) => r.result?.data.id)).toEqual([ids[1], ids[0]]);
    const swapped = await batch(
      [
        { title, category: 'x' },
        { title, category: 'y' },
      ],
      `${k2},`,
    );
    expect(swapped[0]?.error?.data.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(swapped[1]?.result?.data.id).toBeDefined();
  });
});
