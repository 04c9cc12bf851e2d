import { authBroadcasts, domain, mutation, query, usersBroadcasts } from '@lms/contracts';
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { Errors, type ServiceSchema } from 'moleculer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { call, defineService, startNode, toPublicError, type CallMeta, type LmsNode, type RoleChange, type ServiceModule } from '../src/index.js';

const probe = domain('probe', {
  echo: mutation({
    input: z.object({ n: z.number().int().min(1), tag: z.string().max(5) }),
    output: z.object({ doubled: z.number() }),
    permission: 'authenticated',
    summary: 'doubles n',
  }),
  broken: query({ input: z.object({}), output: z.object({ id: z.uuid() }), permission: 'public', summary: 'returns the wrong shape' }),
  crash: query({ input: z.object({}), output: z.object({}), permission: 'public', summary: 'throws a plain error' }),
  adminOnly: query({ input: z.object({}), output: z.object({ ok: z.boolean() }), permission: 'users:manage', summary: 'admins' }),
  internalOnly: query({ input: z.object({}), output: z.object({ ok: z.boolean() }), permission: 'internal', summary: 'services only' }),
  whoami: query({
    input: z.object({}),
    output: z.object({ userId: z.string(), roles: z.array(z.string()) }),
    permission: 'authenticated',
    summary: 'the caller',
  }),
  nested: query({
    input: z.object({}),
    output: z.object({ userId: z.string(), roles: z.array(z.string()) }),
    permission: 'authenticated',
    summary: 'asks whoami',
  }),
});

const probeService = defineService({
  name: 'probe',
  contracts: probe,
  handlers: {
    echo: async ({ input }) => ({ doubled: input.n * 2 }),
    // @ts-expect-error the handler breaks its contract on purpose: the runtime must catch it
    broken: async () => ({ id: 42 }),
    crash: async () => {
      throw new Error('select * from secret_table failed');
    },
    adminOnly: async () => ({ ok: true }),
    internalOnly: async () => ({ ok: true }),
    whoami: async ({ caller }) => ({ userId: caller.userId, roles: caller.roles }),
    nested: async ({ ctx }) => call(ctx, probe.whoami, {}),
  },
});

/**
 * Stand-ins for the auth service's JWKS and the users service's role changes, counting the JWKS calls.
 * Tokens are signed here with the key the JWKS publishes.
 */
let signingKey: CryptoKey;
let publicJwk: JWK;
const kid = 'test-key';
let jwksCalls = 0;
let jwksDelayMs = 0;
const roleChanges: RoleChange[] = [];
const stand = (name: string, actions: ServiceSchema['actions']): ServiceModule => ({
  name,
  schema: '',
  migrations: {},
  consumers: [],
  build: () => ({ name, actions }),
});
const fakeAuth = stand('auth', {
  jwks: async () => {
    jwksCalls++;
    if (jwksDelayMs) await new Promise((r) => setTimeout(r, jwksDelayMs));
    return { keys: [{ ...publicJwk, kid, alg: 'EdDSA', use: 'sig' }] };
  },
});
const fakeUsers = stand('users', {
  roleChanges: (ctx: { params: { since?: number; userIds?: string[] } }) => ({
    items: roleChanges.filter((c) => (ctx.params.userIds ? ctx.params.userIds.includes(c.userId) : c.at > (ctx.params.since ?? 0))),
  }),
});

const now = () => Math.floor(Date.now() / 1000);
function token(userId: string, roles: string[], opts: { kid?: string; exp?: number | null; iat?: number; sid?: string; key?: CryptoKey } = {}) {
  const jwt = new SignJWT({ roles, sid: opts.sid ?? randomUUID(), amr: ['pwd'] })
    .setProtectedHeader({ alg: 'EdDSA', kid: opts.kid ?? kid })
    .setSubject(userId)
    .setIssuer('lms')
    .setAudience('lms-api')
    .setIssuedAt(opts.iat ?? now());
  if (opts.exp !== null) jwt.setExpirationTime(opts.exp ?? now() + 900);
  return jwt.sign(opts.key ?? signingKey);
}

let node: LmsNode;
const studentId = '00000000-0000-4000-8000-000000000001';
const adminId = '00000000-0000-4000-8000-000000000002';
let student: CallMeta;
let admin: CallMeta;

async function failure(p: Promise<unknown>) {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Errors.MoleculerError);
  return toPublicError(err);
}

beforeAll(async () => {
  const pair = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  signingKey = pair.privateKey;
  publicJwk = await exportJWK(pair.publicKey);
  student = { token: await token(studentId, ['student']), edge: true };
  admin = { token: await token(adminId, ['admin']), edge: true };
  node = await startNode([probeService, fakeAuth, fakeUsers], { mode: 'embedded', dataDir: 'memory://', port: 0, databaseUrl: undefined });
});
afterAll(() => node?.stop());

describe('contract → action', () => {
  it('validates input and passes parsed values', async () => {
    expect(await node.broker.call('probe.echo', { n: 21, tag: 'a' }, { meta: student })).toEqual({ doubled: 42 });
  });

  it('rejects bad input with 422 VALIDATION_FAILED naming each field', async () => {
    const e = await failure(node.broker.call('probe.echo', { n: 'x', tag: 'toolong' }, { meta: student }));
    expect(e.status).toBe(422);
    expect(e.code).toBe('VALIDATION_FAILED');
    const issues = (e.details?.issues ?? []) as Array<{ path: string }>;
    expect(issues.map((i) => i.path).sort()).toEqual(['n', 'tag']);
  });

  it('catches a handler that returns the wrong shape', async () => {
    const e = await failure(node.broker.call('probe.broken', {}));
    expect(e).toMatchObject({ code: 'INTERNAL', status: 500 });
  });

  it('turns unexpected errors into INTERNAL without leaking the message', async () => {
    const e = await failure(node.broker.call('probe.crash', {}));
    expect(e).toEqual({ code: 'INTERNAL', status: 500, message: 'Internal error' });
  });

  it('checks permissions in the service, whoever calls', async () => {
    expect(await failure(node.broker.call('probe.echo', { n: 1, tag: 'a' }))).toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });
    expect(await failure(node.broker.call('probe.adminOnly', {}, { meta: student }))).toMatchObject({ code: 'FORBIDDEN', status: 403 });
    expect(await node.broker.call('probe.adminOnly', {}, { meta: admin })).toEqual({ ok: true });
  });

  it('refuses internal procedures to calls from the edge', async () => {
    expect(await failure(node.broker.call('probe.internalOnly', {}, { meta: admin }))).toMatchObject({ code: 'FORBIDDEN' });
    expect(await node.broker.call('probe.internalOnly', {}, { meta: { edge: false } })).toEqual({ ok: true });
  });
});

describe('the caller comes from a verified token', () => {
  const forgedAdmin = { userId: '00000000-0000-4000-8000-0000000000ff', roles: ['admin'] };

  it('ignores a caller in meta without a valid token: UNAUTHENTICATED, or TOKEN_INVALID for a bad token', async () => {
    expect(await failure(node.broker.call('probe.adminOnly', {}, { meta: { caller: forgedAdmin, edge: true } }))).toMatchObject({
      code: 'UNAUTHENTICATED',
      status: 401,
    });
    expect(await failure(node.broker.call('probe.whoami', {}, { meta: { caller: forgedAdmin } }))).toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });
    const { privateKey: foreign } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const forged = await token(forgedAdmin.userId, ['admin'], { key: foreign });
    expect(await failure(node.broker.call('probe.adminOnly', {}, { meta: { caller: forgedAdmin, token: forged } }))).toMatchObject({
      code: 'TOKEN_INVALID',
      status: 401,
    });
    // A student's real token with an admin written beside it: the student it stays.
    expect(await failure(node.broker.call('probe.adminOnly', {}, { meta: { ...student, caller: forgedAdmin } }))).toMatchObject({ code: 'FORBIDDEN' });
    expect(await failure(node.broker.call('probe.adminOnly', {}, { meta: { token: 'not.a.token' } }))).toMatchObject({ code: 'TOKEN_INVALID' });
  });

  it('takes the caller from the token, and a nested call sees the same caller', async () => {
    expect(await node.broker.call('probe.whoami', {}, { meta: { ...student, caller: forgedAdmin } })).toEqual({ userId: studentId, roles: ['student'] });
    expect(await node.broker.call('probe.nested', {}, { meta: student })).toEqual({ userId: studentId, roles: ['student'] });
    expect(await node.broker.call('probe.nested', {}, { meta: admin })).toEqual({ userId: adminId, roles: ['admin'] });
  });

  it('refuses tokens without exp, iat or sub, and expired ones', async () => {
    const noExp = await token(adminId, ['admin'], { exp: null });
    expect(await failure(node.broker.call('probe.whoami', {}, { meta: { token: noExp } }))).toMatchObject({ code: 'TOKEN_INVALID' });
    const noIat = await new SignJWT({ roles: ['admin'] })
      .setProtectedHeader({ alg: 'EdDSA', kid })
      .setSubject(adminId)
      .setIssuer('lms')
      .setAudience('lms-api')
      .setExpirationTime(now() + 60)
      .sign(signingKey);
    expect(await failure(node.broker.call('probe.whoami', {}, { meta: { token: noIat } }))).toMatchObject({ code: 'TOKEN_INVALID' });
    const noSub = await new SignJWT({ roles: ['admin'] })
      .setProtectedHeader({ alg: 'EdDSA', kid })
      .setIssuer('lms')
      .setAudience('lms-api')
      .setIssuedAt()
      .setExpirationTime(now() + 60)
      .sign(signingKey);
    expect(await failure(node.broker.call('probe.whoami', {}, { meta: { token: noSub } }))).toMatchObject({ code: 'TOKEN_INVALID' });
    const expired = await token(adminId, ['admin'], { iat: now() - 3600, exp: now() - 60 });
    expect(await failure(node.broker.call('probe.whoami', {}, { meta: { token: expired } }))).toMatchObject({ code: 'TOKEN_INVALID' });
  });

  it('fetches the JWKS for unknown kids at most once per interval, concurrent lookups sharing one fetch', async () => {
    const { privateKey: foreign } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const randomKid = () => token(adminId, ['admin'], { kid: randomUUID(), key: foreign });
    jwksDelayMs = 50;
    const before = jwksCalls;
    const concurrent = await Promise.all(
      Array.from({ length: 20 }, async () => failure(node.broker.call('probe.whoami', {}, { meta: { token: await randomKid() } }))),
    );
    expect(concurrent.every((e) => e.code === 'TOKEN_INVALID')).toBe(true);
    for (let i = 0; i < 20; i++)
      expect(await failure(node.broker.call('probe.whoami', {}, { meta: { token: await randomKid() } }))).toMatchObject({ code: 'TOKEN_INVALID' });
    jwksDelayMs = 0;
    expect(jwksCalls - before).toBeLessThanOrEqual(1);
    // Known keys still verify meanwhile.
    expect(await node.broker.call('probe.whoami', {}, { meta: student })).toMatchObject({ userId: studentId });
  });

  it('refuses a revoked session at once, on every node hearing the broadcast', async () => {
    const sid = randomUUID();
    const t = await token(studentId, ['student'], { sid });
    expect(await node.broker.call('probe.whoami', {}, { meta: { token: t } })).toMatchObject({ userId: studentId });
    await node.broker.broadcast(authBroadcasts.sessionsRevoked.name, { sessionIds: [sid], until: Date.now() + 60_000 });
    await new Promise((r) => setTimeout(r, 20));
    expect(await failure(node.broker.call('probe.whoami', {}, { meta: { token: t } }))).toMatchObject({ code: 'TOKEN_INVALID' });
  });

  it("uses a user's current roles for tokens issued before their roles changed", async () => {
    const userId = randomUUID();
    const old = await token(userId, ['admin', 'student'], { iat: now() - 60 });
    expect(await node.broker.call('probe.adminOnly', {}, { meta: { token: old } })).toEqual({ ok: true });
    // The notice names the user only; the roles come from the users service.
    roleChanges.push({ userId, roles: ['student'], at: Date.now() });
    await node.broker.broadcast(usersBroadcasts.rolesChanged.name, { userId, at: Date.now() });
    await new Promise((r) => setTimeout(r, 20));
    expect(await failure(node.broker.call('probe.adminOnly', {}, { meta: { token: old } }))).toMatchObject({ code: 'FORBIDDEN' });
    expect(await node.broker.call('probe.nested', {}, { meta: { token: old } })).toEqual({ userId, roles: ['student'] });
  });
});
