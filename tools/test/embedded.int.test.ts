/**
 * The vertical slice through both edges, in embedded mode: no NATS, Redis or PostgreSQL server
 * is used (PGlite in a temp folder, in-process events).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createLmsClient, errorCode, errorData } from '@lms/client';
import { needsSecondFactor, type Course, type Profile } from '@lms/contracts';
import { gatewayPort } from '@lms/gateway';
import type { LmsNode } from '@lms/runtime';
import { startNode } from '@lms/runtime';
import { generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { SERVICES } from '../services.ts';
import { defined, freePort, http, tempDir, waitFor } from './support.ts';

let node: LmsNode;
let base: string;
let metricsPort: number;
const data = tempDir();

beforeAll(async () => {
  process.env.RATE_LIMIT_AUTH_PER_MINUTE = '1000';
  metricsPort = await freePort();
  process.env.METRICS_PORT = String(metricsPort);
  node = await startNode(Object.values(SERVICES), { mode: 'embedded', dataDir: data.dir, port: 0, databaseUrl: undefined });
  delete process.env.METRICS_PORT; // the other nodes this file starts serve none
  base = `http://127.0.0.1:${gatewayPort(node.broker)}`;
});
afterAll(async () => {
  await node?.stop();
  data.remove();
});

describe('embedded mode', () => {
  it('uses PGlite and in-process events, no servers', () => {
    expect(node.runtime.db.kind).toBe('pglite');
    expect(node.runtime.transport.kind).toBe('embedded');
    expect(node.broker.transit).toBeFalsy();
  });
});

describe('REST journey', () => {
  it('register → first user is admin → grant instructor → create, list, get, patch, publish → projection', async () => {
    const admin = await http(base, 'POST', '/api/v1/auth/register', { email: 'Root@Example.com', password: 'a long enough password', displayName: 'Root' });
    expect(admin.status).toBe(201);
    expect(admin.body.user.roles).toContain('admin');
    expect(admin.body.user.email).toBe('root@example.com');
    const adminToken = admin.body.accessToken as string;

    const bob = await http(base, 'POST', '/api/v1/auth/register', { email: 'bob@example.com', password: 'another long password', displayName: 'Bob' });
    expect(bob.status).toBe(201);
    expect(bob.body.user.roles).toEqual(['student']);

    // A student cannot create a course: checked in the service.
    const denied = await http(base, 'POST', '/api/v1/courses', { title: 'Nope', category: 'x' }, bob.body.accessToken);
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('FORBIDDEN');

    // Only an admin may grant roles.
    const selfGrant = await http(base, 'POST', `/api/v1/users/${bob.body.user.id}/roles`, { role: 'instructor' }, bob.body.accessToken);
    expect(selfGrant.status).toBe(403);
    const grant = await http(base, 'POST', `/api/v1/users/${bob.body.user.id}/roles`, { role: 'instructor' }, adminToken);
    expect(grant.status).toBe(200);
    expect(grant.body.roles).toEqual(['instructor', 'student']);

    // Roles reach the token at the next login.
    const login = await http(base, 'POST', '/api/v1/auth/login', { email: 'BOB@example.com', password: 'another long password' });
    expect(login.status).toBe(200);
    const bobToken = login.body.accessToken as string;

    const me = await http(base, 'GET', '/api/v1/me', undefined, bobToken);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ email: 'bob@example.com', displayName: 'Bob', roles: ['instructor', 'student'] });

    const created: Course[] = [];
    for (const [i, category] of ['math', 'math', 'art'].entries()) {
      const r = await http(base, 'POST', '/api/v1/courses', { title: `Course ${i}`, category, description: 'd' }, bobToken);
      expect(r.status).toBe(201);
      expect(r.body.status).toBe('draft');
      created.push(r.body);
    }

    // Drafts are invisible to other students.
    const carol = await http(base, 'POST', '/api/v1/auth/register', { email: 'carol@example.com', password: 'violet long password', displayName: 'Carol' });
    const hidden = await http(base, 'GET', `/api/v1/courses/${defined(created[0]).id}`, undefined, carol.body.accessToken);
    expect(hidden.status).toBe(404);
    expect(hidden.body.error.code).toBe('COURSE_NOT_FOUND');

    const patched = await http(base, 'PATCH', `/api/v1/courses/${defined(created[0]).id}`, { title: 'Algebra I' }, bobToken);
    expect(patched.status).toBe(200);
    expect(patched.body.title).toBe('Algebra I');
    // Someone else's draft does not exist for them, even to change it.
    const notOwner = await http(base, 'PATCH', `/api/v1/courses/${defined(created[0]).id}`, { title: 'Hijack' }, carol.body.accessToken);
    expect(notOwner.status).toBe(404);

    // Cursor pagination walks every course once, newest first.
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = `/api/v1/courses?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await http(base, 'GET', q, undefined, bobToken);
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.items.map((c: Course) => c.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(created.map((c) => c.id).reverse());

    for (const c of created) {
      const p = await http(base, 'POST', `/api/v1/courses/${c.id}/publish`, undefined, bobToken);
      expect(p.status).toBe(200);
      expect(p.body.status).toBe('published');
    }
    const again = await http(base, 'POST', `/api/v1/courses/${defined(created[0]).id}/publish`, undefined, bobToken);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('COURSE_ALREADY_PUBLISHED');

    // The analytics projection is fed by course.published through the outbox.
    const stats = await waitFor(async () => {
      const r = await http(base, 'GET', '/api/v1/analytics/courses/published-by-category', undefined, adminToken);
      return r.body.total === 3 ? r.body : undefined;
    });
    expect(stats.categories).toEqual([
      { category: 'math', published: 2 },
      { category: 'art', published: 1 },
    ]);
    // Now visible to everyone signed in.
    expect((await http(base, 'GET', `/api/v1/courses/${defined(created[0]).id}`, undefined, carol.body.accessToken)).status).toBe(200);
  });

  it('answers bad input with a stable code, the right status and no internals', async () => {
    const reg = await http(base, 'POST', '/api/v1/auth/register', { email: 'not-an-email', password: 'short', displayName: '' });
    expect(reg.status).toBe(422);
    expect(reg.body.error.code).toBe('VALIDATION_FAILED');
    const paths = reg.body.error.details.issues.map((i: { path: string }) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['email', 'password', 'displayName']));
    expect(reg.body.error.requestId).toBe(reg.headers.get('x-request-id'));

    const dup = await http(base, 'POST', '/api/v1/auth/register', { email: 'root@example.com', password: 'a long enough password', displayName: 'Again' });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe('EMAIL_TAKEN');

    const bad = await http(base, 'POST', '/api/v1/auth/login', { email: 'root@example.com', password: 'wrong password!' });
    expect(bad.status).toBe(401);
    expect(bad.body.error.code).toBe('INVALID_CREDENTIALS');

    expect((await http(base, 'GET', '/api/v1/me')).body.error.code).toBe('UNAUTHENTICATED');
    const forged = await http(base, 'GET', '/api/v1/me', undefined, 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.');
    expect(forged.status).toBe(401);
    expect(forged.body.error.code).toBe('TOKEN_INVALID');

    const json = await http(base, 'POST', '/api/v1/auth/login', '{"email": ');
    expect(json.status).toBe(400);
    expect(json.body.error.code).toBe('BAD_REQUEST');

    const big = await http(base, 'POST', '/api/v1/auth/login', { email: 'a@b.co', password: 'x'.repeat(2_000_000) });
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe('PAYLOAD_TOO_LARGE');

    const media = await http(base, 'POST', '/api/v1/auth/login', 'email=a', undefined, { 'content-type': 'text/plain' });
    expect(media.status).toBe(415);

    const route = await http(base, 'GET', '/api/v1/nope');
    expect(route.status).toBe(404);
    expect(route.body.error.code).toBe('ROUTE_NOT_FOUND');

    for (const r of [reg, dup, bad, json, big, route]) expect(JSON.stringify(r.body)).not.toMatch(/stack|at .*\.ts|select |insert /i);
  });

  it('keeps the caller-supplied request id and sets security headers', async () => {
    const r = await http(base, 'GET', '/health/live', undefined, undefined, { 'x-request-id': 'abc-123' });
    expect(r.headers.get('x-request-id')).toBe('abc-123');
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.headers.get('x-frame-options')).toBe('DENY');
    const evil = await http(base, 'GET', '/health/live', undefined, undefined, { 'x-request-id': 'x'.repeat(200) });
    expect(evil.headers.get('x-request-id')).not.toBe('x'.repeat(200));
  });

  it('answers CORS preflights', async () => {
    const r = await fetch(`${base}/api/v1/courses`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
    });
    expect(r.status).toBe(204);
    expect(r.headers.get('access-control-allow-origin')).toBe('*');
    expect(r.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
  });
});

describe('tRPC journey (typed client)', () => {
  it('does the slice with inferred types and the same error codes', async () => {
    const anon = createLmsClient({ url: base });
    const session = await anon.auth.register.mutate({ email: 'dana@example.com', password: 'amber long password', displayName: 'Dana' });
    expectTypeOf(session.user.roles).toEqualTypeOf<Array<'admin' | 'instructor' | 'auditor' | 'student'>>();

    const adminSession = await anon.auth.login.mutate({ email: 'root@example.com', password: 'a long enough password' });
    if (needsSecondFactor(adminSession)) throw new Error('no MFA here');
    const admin = createLmsClient({ url: base, token: adminSession.accessToken });
    await admin.users.grantRole.mutate({ userId: session.user.id, role: 'instructor' });
    const relog = await anon.auth.login.mutate({ email: 'dana@example.com', password: 'amber long password' });
    if (needsSecondFactor(relog)) throw new Error('no MFA here');
    const dana = createLmsClient({ url: base, token: () => relog.accessToken });

    const me = await dana.users.me.query({});
    expectTypeOf(me).toEqualTypeOf<Profile>();
    expect(me.roles).toContain('instructor');

    const course = await dana.courses.create.mutate({ title: 'Typed course', category: 'typescript' });
    expectTypeOf(course).toEqualTypeOf<Course>();
    expectTypeOf(dana.courses.get.query).parameter(0).toEqualTypeOf<{ courseId: string }>();
    const published = await dana.courses.publish.mutate({ courseId: course.id });
    expect(published.status).toBe('published');
    const list = await dana.courses.list.query({ limit: 50, mine: true });
    expectTypeOf(list.nextCursor).toEqualTypeOf<string | null>();
    expect(list.items.map((c) => c.id)).toContain(course.id);

    // Batched calls share one HTTP request.
    const [a, b] = await Promise.all([dana.courses.get.query({ courseId: course.id }), dana.users.me.query({})]);
    expect(a.id).toBe(course.id);
    expect(b.id).toBe(me.id);

    const err = await dana.courses.get.query({ courseId: '00000000-0000-4000-8000-000000000000' }).catch((e: unknown) => e);
    expect(errorCode(err)).toBe('COURSE_NOT_FOUND');
    expect(errorData(err)?.httpStatus).toBe(404);
    const invalid = await dana.courses.create.mutate({ title: 'x', category: 'c' }).catch((e: unknown) => e);
    expect(errorCode(invalid)).toBe('VALIDATION_FAILED');
    expect(JSON.stringify(errorData(invalid)?.details)).toContain('title');
    const anonErr = await anon.users.me.query({}).catch((e: unknown) => e);
    expect(errorCode(anonErr)).toBe('UNAUTHENTICATED');
    expect(errorData(anonErr)?.httpStatus).toBe(401);

    await waitFor(async () => (await admin.analytics.publishedByCategory.query({})).categories.some((c) => c.category === 'typescript'));
  });
});

describe('operations endpoints', () => {
  it('serves health, metrics, JWKS and the docs page', async () => {
    expect((await http(base, 'GET', '/health/live')).status).toBe(200);
    expect(await http(base, 'GET', '/health/serving')).toMatchObject({ status: 200, body: { status: 'serving' } });
    const ready = await http(base, 'GET', '/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.checks).toEqual({
      auth: 'up',
      users: 'up',
      courses: 'up',
      enrollments: 'up',
      files: 'up',
      analytics: 'up',
      audit: 'up',
      notifications: 'up',
      assessments: 'up',
      attempts: 'up',
      assignments: 'up',
      grades: 'up',
      credentials: 'up',
    });
    // Metrics are not public: not on the API port (404 like any unknown route), only on METRICS_PORT.
    const onApi = await http(base, 'GET', '/metrics');
    expect(onApi.status).toBe(404);
    expect(onApi.body.error.code).toBe('ROUTE_NOT_FOUND');
    const metrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/lms_http_request_duration_seconds_bucket/);
    expect(metrics).toMatch(/lms_action_duration_seconds_count\{action="courses.create",outcome="ok"\}/);
    const jwks = await http(base, 'GET', '/.well-known/jwks.json');
    expect(jwks.body.keys[0]).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA' });
    expect(jwks.body.keys[0].d).toBeUndefined();
    const docs = await fetch(`${base}/docs`);
    expect(await docs.text()).toMatch(/swagger-ui-bundle\.js/);
    expect((await fetch(`${base}/docs/swagger-ui-bundle.js`)).status).toBe(200);
    expect((await fetch(`${base}/docs/..%2f..%2fpackage.json`)).status).toBe(404);
  });

  it('publishes an OpenAPI 3.1 document that passes redocly lint', async () => {
    const doc = await http(base, 'GET', '/openapi.json');
    expect(doc.body.openapi).toBe('3.1.0');
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining([
        '/auth/register',
        '/auth/login',
        '/me',
        '/users/{userId}/roles',
        '/courses',
        '/courses/{courseId}',
        '/courses/{courseId}/publish',
      ]),
    );
    expect(doc.body.paths['/courses/{courseId}'].patch.security).toEqual([{ bearerAuth: [] }]);
    const file = path.join(data.dir, 'openapi.json');
    fs.writeFileSync(file, JSON.stringify(doc.body));
    const out = execFileSync(path.resolve('node_modules/.bin/redocly'), ['lint', file, '--format', 'json'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const report = JSON.parse(out);
    expect(report.totals.errors).toBe(0);
  }, 60_000);
});

describe('access tokens', () => {
  it('refuses none, HS*, unknown or foreign keys, wrong audience or issuer, expired and tampered tokens', async () => {
    const login = await http(base, 'POST', '/api/v1/auth/login', { email: 'bob@example.com', password: 'another long password' });
    const good = login.body.accessToken as string;
    const [h, p, sig] = good.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    const row = (await node.runtime.db.root.selectFrom('auth.signing_keys').selectAll().orderBy('created_at', 'desc').executeTakeFirstOrThrow()) as {
      kid: string;
      private_jwk: JWK;
      public_jwk: JWK;
    };
    const realKey = await importJWK(row.private_jwk, 'EdDSA');
    const sign = (c: Record<string, unknown>, key = realKey, header: Record<string, unknown> = { alg: 'EdDSA', kid: row.kid }) =>
      new SignJWT(c).setProtectedHeader(header as { alg: string }).sign(key);
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const { privateKey: foreign } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const now = Math.floor(Date.now() / 1000);

    // Control: a token we sign with the real key and the right claims is accepted.
    expect((await http(base, 'GET', '/api/v1/me', undefined, await sign({ ...claims }))).status).toBe(200);

    const bad: Record<string, string> = {
      none: `${b64({ alg: 'none', typ: 'JWT' })}.${p}.`,
      hs256WithPublicKey: await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: row.kid }).sign(Buffer.from(String(row.public_jwk.x), 'base64url')),
      unknownKid: await sign(claims, foreign, { alg: 'EdDSA', kid: 'no-such-key' }),
      foreignKeyRealKid: await sign(claims, foreign),
      wrongAudience: await sign({ ...claims, aud: 'someone-else' }),
      wrongIssuer: await sign({ ...claims, iss: 'evil' }),
      expired: await sign({ ...claims, iat: now - 3600, exp: now - 60 }),
      tamperedRoles: `${h}.${b64({ ...claims, roles: ['admin'] })}.${sig}`,
      truncatedSignature: `${h}.${p}.${sig.slice(0, -4)}`,
    };
    for (const [name, token] of Object.entries(bad)) {
      const r = await http(base, 'GET', '/api/v1/me', undefined, token);
      expect({ name, status: r.status, code: r.body.error?.code }).toEqual({ name, status: 401, code: 'TOKEN_INVALID' });
    }
    // The same over tRPC.
    const trpc = createLmsClient({ url: base, token: bad.tamperedRoles });
    expect(errorCode(await trpc.users.me.query({}).catch((e: unknown) => e))).toBe('TOKEN_INVALID');
  });
});

describe('signing-key rotation', () => {
  it('signs with the new key at once and keeps verifying old tokens through the overlap, then retires the old key', async () => {
    const admin = (await http(base, 'POST', '/api/v1/auth/login', { email: 'root@example.com', password: 'a long enough password' })).body;
    const before = (await http(base, 'POST', '/api/v1/auth/login', { email: 'carol@example.com', password: 'violet long password' })).body;
    const oldKid = JSON.parse(Buffer.from(before.accessToken.split('.')[0], 'base64url').toString()).kid;

    expect((await http(base, 'POST', '/api/v1/auth/keys/rotate', undefined, before.accessToken)).status).toBe(403);
    const rotated = await http(base, 'POST', '/api/v1/auth/keys/rotate', undefined, admin.accessToken);
    expect(rotated.status).toBe(200);
    expect(rotated.body.kid).not.toBe(oldKid);

    const jwks = (await http(base, 'GET', '/.well-known/jwks.json')).body.keys.map((k: { kid: string }) => k.kid);
    expect(jwks).toEqual(expect.arrayContaining([oldKid, rotated.body.kid]));
    // A token from before the rotation still works; a new one carries the new kid and works too
    // (the gateway fetches the JWKS again when it meets a kid it does not know).
    expect((await http(base, 'GET', '/api/v1/me', undefined, before.accessToken)).status).toBe(200);
    const after = (await http(base, 'POST', '/api/v1/auth/login', { email: 'carol@example.com', password: 'violet long password' })).body;
    expect(JSON.parse(Buffer.from(after.accessToken.split('.')[0], 'base64url').toString()).kid).toBe(rotated.body.kid);
    expect((await http(base, 'GET', '/api/v1/me', undefined, after.accessToken)).status).toBe(200);

    // Once the overlap (token lifetime + margin) has passed since the rotation, the old key leaves the JWKS.
    const db = node.runtime.db.root;
    await db
      .updateTable('auth.signing_keys')
      .set({ created_at: new Date(Date.now() - 3 * 3600_000) })
      .where('kid', '!=', rotated.body.kid)
      .execute();
    await db
      .updateTable('auth.signing_keys')
      .set({ created_at: new Date(Date.now() - 2 * 3600_000) })
      .where('kid', '=', rotated.body.kid)
      .execute();
    const later = (await http(base, 'GET', '/.well-known/jwks.json')).body.keys.map((k: { kid: string }) => k.kid);
    expect(later).toContain(rotated.body.kid);
    expect(later).not.toContain(oldKid);
  });
});

describe('readiness', () => {
  it('answers 503 naming the services that are missing', async () => {
    const partial = await startNode([defined(SERVICES.gateway), defined(SERVICES.auth), defined(SERVICES.users)], {
      mode: 'embedded',
      dataDir: 'memory://',
      port: 0,
      databaseUrl: undefined,
    });
    try {
      const r = await http(`http://127.0.0.1:${gatewayPort(partial.broker)}`, 'GET', '/health/ready');
      expect(r.status).toBe(503);
      expect(r.body).toEqual({
        status: 'not_ready',
        checks: {
          auth: 'up',
          users: 'up',
          courses: 'down',
          enrollments: 'down',
          files: 'down',
          analytics: 'down',
          audit: 'down',
          notifications: 'down',
          assessments: 'down',
          attempts: 'down',
          assignments: 'down',
          grades: 'down',
          credentials: 'down',
        },
        // The services that answered, each with the node that did and its database.
        database: { auth: { node: String(partial.broker.nodeID), database: 'up' }, users: { node: String(partial.broker.nodeID), database: 'up' } },
      });
      // A gateway that has not yet been ready once takes no traffic from a load balancer either.
      const serving = await http(`http://127.0.0.1:${gatewayPort(partial.broker)}`, 'GET', '/health/serving');
      expect(serving.status).toBe(503);
    } finally {
      await partial.stop();
    }
  });
});

describe('rate limiting', () => {
  it('answers 429 with Retry-After past the auth limit', async () => {
    process.env.RATE_LIMIT_AUTH_PER_MINUTE = '3';
    const limited = await startNode(Object.values(SERVICES), { mode: 'embedded', dataDir: path.join(data.dir, 'rl'), port: 0, databaseUrl: undefined });
    try {
      const url = `http://127.0.0.1:${gatewayPort(limited.broker)}`;
      const codes: number[] = [];
      for (let i = 0; i < 5; i++) codes.push((await http(url, 'POST', '/api/v1/auth/login', { email: 'x@y.io', password: 'whatever it is' })).status);
      expect(codes.slice(0, 3)).toEqual([401, 401, 401]);
      expect(codes.slice(3)).toEqual([429, 429]);
      const last = await http(url, 'POST', '/api/v1/auth/login', { email: 'x@y.io', password: 'whatever it is' });
      expect(last.body.error.code).toBe('RATE_LIMITED');
      expect(Number(last.headers.get('retry-after'))).toBeGreaterThan(0);
      // Hiding logins in a tRPC batch behind another procedure does not get around the auth limit.
      const batch = await fetch(`${url}/trpc/users.me,auth.login?batch=1`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ 0: {}, 1: { email: 'x@y.io', password: 'whatever it is' } }),
      });
      expect(batch.status).toBe(429);
      const huge = await fetch(`${url}/trpc/${Array(51).fill('users.me').join(',')}?batch=1`);
      expect(huge.status).toBe(400);
    } finally {
      process.env.RATE_LIMIT_AUTH_PER_MINUTE = '1000';
      await limited.stop();
    }
  });
});

describe('restart', () => {
  it('keeps data in LMS_DATA_DIR across restarts', async () => {
    await node.stop();
    node = await startNode(Object.values(SERVICES), { mode: 'embedded', dataDir: data.dir, port: 0, databaseUrl: undefined });
    base = `http://127.0.0.1:${gatewayPort(node.broker)}`;
    const login = await http(base, 'POST', '/api/v1/auth/login', { email: 'root@example.com', password: 'a long enough password' });
    expect(login.status).toBe(200);
    const stats = await http(base, 'GET', '/api/v1/analytics/courses/published-by-category', undefined, login.body.accessToken);
    expect(stats.body.total).toBe(4);
  });
});
