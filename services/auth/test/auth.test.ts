import { randomUUID } from 'node:crypto';
import { auth, needsSecondFactor, type LoginResult, type Session } from '@lms/contracts';
import { testNode, type TestNode } from '@lms/runtime/testing';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { usersService } from '../../users/src/index.js';
import { authService } from '../src/index.js';

// The node's verifier is the test double (it does not check auth's real tokens): procedures that need a caller are
// called as the session's caller; what auth issues is checked against its own published keys.
let node: TestNode;
beforeAll(async () => {
  node = await testNode([authService, usersService]);
});
afterAll(() => node?.stop());
afterEach(() => {
  vi.useRealTimers();
});

const PASSWORD = 'correct horse battery staple';
const email = () => `a.${randomUUID().slice(0, 8)}@example.test`;

function session(r: LoginResult): Session {
  if (needsSecondFactor(r)) throw new Error('unexpected second-factor challenge');
  return r;
}

/** The caller a session's access token stands for. */
const callerOf = (s: Session) => node.as({ userId: s.user.id, roles: s.user.roles, sessionId: s.sessionId });

describe('auth handlers (unit: public procedures and token issuance)', () => {
  it('registers an account once, and issues an access token signed with its published keys', async () => {
    const t0 = Math.floor(Date.now() / 1000) * 1000 + 3_600_000; // an hour ahead, to the second
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(t0);
    const address = email();
    const s = await node.anonymous().call(auth.register, { email: address, password: PASSWORD, displayName: 'Ada' });
    expect(s).toMatchObject({ tokenType: 'Bearer', user: { email: address, displayName: 'Ada' } });
    const keys = (await node.anonymous().call(auth.jwks, {})) as JSONWebKeySet;
    const { payload } = await jwtVerify(s.accessToken, createLocalJWKSet(keys), { currentDate: new Date(t0 + 1000) });
    expect(payload).toMatchObject({ sub: s.user.id, sid: s.sessionId, iat: t0 / 1000 });
    expect(payload.exp).toBe((payload.iat ?? 0) + s.expiresIn);
    vi.useRealTimers();

    expect(await node.anonymous().fail(auth.register, { email: address, password: PASSWORD, displayName: 'Copy' })).toMatchObject({
      code: 'EMAIL_TAKEN',
      status: 409,
    });
    expect(await node.anonymous().fail(auth.register, { email: email(), password: 'short', displayName: 'Weak' })).toMatchObject({
      code: 'VALIDATION_FAILED',
      status: 422,
    });
    expect(await node.anonymous().fail(auth.register, { email: email(), password: '1234567890', displayName: 'Common' })).toMatchObject({
      code: 'VALIDATION_FAILED',
      status: 422,
    });
  });

  it('signs in with the right password only, without telling which part was wrong', async () => {
    const address = email();
    await node.anonymous().call(auth.register, { email: address, password: PASSWORD, displayName: 'Bo' });
    const wrong = await node.anonymous().fail(auth.login, { email: address, password: 'not the password' });
    const unknown = await node.anonymous().fail(auth.login, { email: email(), password: PASSWORD });
    expect(wrong).toMatchObject({ code: 'INVALID_CREDENTIALS', status: 401 });
    expect(unknown).toMatchObject({ code: wrong.code, status: wrong.status, message: wrong.message });
    const s = session(await node.anonymous().call(auth.login, { email: address, password: PASSWORD }));
    expect(s.user.email).toBe(address);
  });

  it('rotates refresh tokens: one use each, a reused one ends the session', async () => {
    const s = await node.anonymous().call(auth.register, { email: email(), password: PASSWORD, displayName: 'Cy' });
    const next = await node.anonymous().call(auth.refresh, { refreshToken: s.refreshToken });
    expect(next.sessionId).toBe(s.sessionId);
    expect(next.refreshToken).not.toBe(s.refreshToken);
    expect(await node.anonymous().fail(auth.refresh, { refreshToken: s.refreshToken })).toMatchObject({ code: 'TOKEN_INVALID', status: 401 });
    // Reuse of a spent token means it leaked: the token issued after it stops working too.
    expect(await node.anonymous().fail(auth.refresh, { refreshToken: next.refreshToken })).toMatchObject({ code: 'TOKEN_INVALID', status: 401 });
  });

  it('refuses a refresh token past its lifetime (fake clock)', async () => {
    const t0 = Date.now();
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(t0);
    const s = await node.anonymous().call(auth.register, { email: email(), password: PASSWORD, displayName: 'Di' });
    vi.setSystemTime(t0 + (s.refreshExpiresIn + 1) * 1000);
    expect(await node.anonymous().fail(auth.refresh, { refreshToken: s.refreshToken })).toMatchObject({ code: 'TOKEN_INVALID', status: 401 });
  });

  it('logs out: the session is listed until then, and its refresh token stops working', async () => {
    const s = await node.anonymous().call(auth.register, { email: email(), password: PASSWORD, displayName: 'Ed' });
    const other = session(await node.anonymous().call(auth.login, { email: s.user.email, password: PASSWORD }));
    const me = callerOf(s);
    expect((await me.call(auth.sessions, {})).items.map((x) => [x.id, x.current])).toEqual(
      expect.arrayContaining([
        [s.sessionId, true],
        [other.sessionId, false],
      ]),
    );
    await me.call(auth.logout, {});
    expect(await node.anonymous().fail(auth.refresh, { refreshToken: s.refreshToken })).toMatchObject({ code: 'TOKEN_INVALID', status: 401 });
    // The other session lives on; someone else cannot end it.
    expect(await node.as().fail(auth.revokeSession, { sessionId: other.sessionId })).toMatchObject({ code: 'NOT_FOUND', status: 404 });
    expect((await node.anonymous().call(auth.refresh, { refreshToken: other.refreshToken })).sessionId).toBe(other.sessionId);
    expect(await node.anonymous().fail(auth.logout, {})).toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });
  });
});
