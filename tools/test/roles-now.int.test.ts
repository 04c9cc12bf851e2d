/**
 * Role changes take effect at once, with the tokens people already hold (embedded LMS, REST): access tokens
 * carry roles for 15 minutes, but every node's verifier uses the users service's current roles for tokens
 * issued before a change.
 */
import { gatewayPort } from '@lms/gateway';
import { nodeVerifier, startNode, type LmsNode } from '@lms/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICES } from '../services.ts';
import { http, tempDir } from './support.ts';

let node: LmsNode;
let base: string;
const data = tempDir();

async function register(email: string, displayName: string) {
  const r = await http(base, 'POST', '/api/v1/auth/register', { email, password: 'correct horse battery staple 42', displayName });
  expect(r.status).toBe(201);
  return { id: r.body.user.id as string, token: r.body.accessToken as string };
}

beforeAll(async () => {
  process.env.RATE_LIMIT_AUTH_PER_MINUTE = '1000';
  node = await startNode(Object.values(SERVICES), { mode: 'embedded', dataDir: data.dir, port: 0, databaseUrl: undefined });
  base = `http://127.0.0.1:${gatewayPort(node.broker)}`;
});
afterAll(async () => {
  await node?.stop();
  data.remove();
});

describe('role changes', () => {
  it("a demoted admin's old token loses admin at once and cannot grant it back; a node that missed the notice agrees", async () => {
    const root = await register('root@roles.test', 'Root');
    const bob = await register('bob@roles.test', 'Bob');
    expect((await http(base, 'POST', `/api/v1/users/${bob.id}/roles`, { role: 'admin' }, root.token)).status).toBe(200);
    const login = await http(base, 'POST', '/api/v1/auth/login', { email: 'bob@roles.test', password: 'correct horse battery staple 42' });
    const bobAdmin = login.body.accessToken as string;
    expect(login.body.user.roles).toContain('admin');
    expect((await http(base, 'GET', '/api/v1/users', undefined, bobAdmin)).status).toBe(200);

    expect((await http(base, 'DELETE', `/api/v1/users/${bob.id}/roles/admin`, undefined, root.token)).status).toBe(200);
    // The same token, a moment later: no admin any more.
    const list = await http(base, 'GET', '/api/v1/users', undefined, bobAdmin);
    expect(list.status).toBe(403);
    const regrant = await http(base, 'POST', `/api/v1/users/${bob.id}/roles`, { role: 'admin' }, bobAdmin);
    expect(regrant.status).toBe(403);
    const me = await http(base, 'GET', '/api/v1/me', undefined, bobAdmin);
    expect(me.body.roles).not.toContain('admin');

    // A verifier that never heard the notice (a node started later) loads the recent changes first.
    const late = nodeVerifier(node.broker);
    expect((await late.verify(bobAdmin)).roles).not.toContain('admin');
  });

  it('a learner made instructor can create a course with the token they already hold', async () => {
    const root = (await http(base, 'POST', '/api/v1/auth/login', { email: 'root@roles.test', password: 'correct horse battery staple 42' })).body
      .accessToken as string;
    const carol = await register('carol@roles.test', 'Carol');
    expect((await http(base, 'POST', '/api/v1/courses', { title: 'Not yet', category: 'x' }, carol.token)).status).toBe(403);
    expect((await http(base, 'POST', `/api/v1/users/${carol.id}/roles`, { role: 'instructor' }, root)).status).toBe(200);
    const created = await http(base, 'POST', '/api/v1/courses', { title: 'Carol teaches', category: 'x' }, carol.token);
    expect(created.status).toBe(201);
  });
});
