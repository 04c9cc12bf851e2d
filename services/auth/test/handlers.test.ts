import { auth } from '@lms/contracts';
import { testNode, type TestNode } from '@lms/runtime/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// auth needs the users service (profiles); a relative import, as @lms/users is not a dependency of @lms/auth.
import { usersService } from '../../users/src/index.js';
import { authService } from '../src/index.js';

let node: TestNode;
beforeAll(async () => {
  node = await testNode([usersService, authService]);
});
afterAll(() => node?.stop());

const password = 'correct horse battery staple';

describe('auth handlers (unit: auth + users, in-memory database, test verifier)', () => {
  it('opens a session on register with the configured lifetimes', async () => {
    const s = await node.anonymous().call(auth.register, { email: 'ana@unit.test', password, displayName: 'Ana' });
    expect(s).toMatchObject({ tokenType: 'Bearer', expiresIn: 900, refreshExpiresIn: 30 * 24 * 3600, user: { email: 'ana@unit.test' } });
    const mine = await node.as({ userId: s.user.id, sessionId: s.sessionId }).call(auth.sessions, {});
    expect(mine.items.map((i) => [i.id, i.current])).toEqual([[s.sessionId, true]]);
  });

  it('rotates a refresh token once; a reused one ends the whole session', async () => {
    const anon = node.anonymous();
    const s = await anon.call(auth.register, { email: 'ben@unit.test', password, displayName: 'Ben' });
    const next = await anon.call(auth.refresh, { refreshToken: s.refreshToken });
    expect(next.sessionId).toBe(s.sessionId);
    expect(await anon.fail(auth.refresh, { refreshToken: s.refreshToken })).toMatchObject({ code: 'TOKEN_INVALID', status: 401 });
    expect(await anon.fail(auth.refresh, { refreshToken: next.refreshToken })).toMatchObject({ code: 'TOKEN_INVALID', status: 401 });
    expect((await node.as({ userId: s.user.id }).call(auth.sessions, {})).items).toEqual([]);
  });

  it('answers a wrong password and an unknown email alike', async () => {
    await node.anonymous().call(auth.register, { email: 'cleo@unit.test', password, displayName: 'Cleo' });
    const wrong = await node.anonymous().fail(auth.login, { email: 'cleo@unit.test', password: 'not the password at all' });
    const unknown = await node.anonymous().fail(auth.login, { email: 'nobody@unit.test', password: 'not the password at all' });
    expect(wrong).toMatchObject({ code: 'INVALID_CREDENTIALS', status: 401 });
    expect(unknown).toEqual(wrong);
  });

  it('revokes only the caller’s own sessions: another user’s id is not found', async () => {
    const a = await node.anonymous().call(auth.register, { email: 'dan@unit.test', password, displayName: 'Dan' });
    const other = node.as({ userId: '00000000-0000-4000-8000-0000000000aa' });
    expect(await other.fail(auth.revokeSession, { sessionId: a.sessionId })).toMatchObject({ code: 'NOT_FOUND', status: 404 });
    expect(await node.as({ userId: a.user.id, sessionId: a.sessionId }).call(auth.revokeSession, { sessionId: a.sessionId })).toEqual({ revoked: true });
  });
});
