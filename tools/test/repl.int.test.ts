/**
 * The operator's REPL on a real mesh (NATS, PostgreSQL): it signs in as a person with password and TOTP,
 * its calls carry that person's token through the services' own verification, each is audited as them,
 * and errors reach the terminal as code and message without a stack. A peer that only claims a caller
 * in `meta` gets nowhere.
 */
import { auth } from '@lms/contracts';
import { brokerOptions, runtimeSettings, startNode, type LmsNode } from '@lms/runtime';
import { ServiceBroker } from 'moleculer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpAt } from '../../services/auth/src/domain/totp.ts';
import { ReplIdentity, replError } from '../repl.ts';
import { pick } from '../services.ts';
import { dropStreams, NATS_URL, query, REDIS_URL, tempDatabase, uniqueName, waitFor } from './support.ts';

let db: Awaited<ReturnType<typeof tempDatabase>>;
let ns: string;
let node: LmsNode;
const password = 'correct horse battery staple 42';
let admin: { id: string; secret: string };

const replBroker = (nodeID: string, identity?: ReplIdentity) => {
  const options = brokerOptions(runtimeSettings({ mode: 'mesh', natsUrl: NATS_URL, namespace: ns, logLevel: 'warn' }));
  return new ServiceBroker({ ...options, nodeID, middlewares: identity ? [identity.middleware()] : [] });
};

beforeAll(async () => {
  db = await tempDatabase();
  ns = uniqueName('r');
  node = await startNode(pick('auth,users,courses,audit'), {
    mode: 'mesh',
    databaseUrl: db.url,
    natsUrl: NATS_URL,
    redisUrl: REDIS_URL,
    namespace: ns,
    port: 0,
    migrateOnStart: true,
    nodeId: `${ns}-core`,
  });
  const edge = { meta: { edge: true } };
  const s = auth.register.output.parse(await node.broker.call(auth.register.action, { email: 'ops@repl.test', password, displayName: 'Operator' }, edge));
  const withToken = { meta: { edge: true, token: s.accessToken } };
  const { secret } = auth.mfaEnrol.output.parse(await node.broker.call(auth.mfaEnrol.action, { password }, withToken));
  await node.broker.call(auth.mfaConfirm.action, { code: totpAt(secret, Date.now()) }, withToken);
  admin = { id: s.user.id, secret };
}, 90_000);
afterAll(async () => {
  await node?.stop();
  await dropStreams(ns);
  await db?.drop();
});

describe('REPL', () => {
  it('signs in with password and TOTP, calls as that person, and each call is audited without its input', async () => {
    const identity = new ReplIdentity();
    const broker = replBroker(`${ns}-repl`, identity);
    await broker.start();
    try {
      await broker.waitForServices(['auth', 'courses', 'audit'], 20_000);
      // The enrolment used this time step's code; the next step's is accepted.
      const user = await identity.signIn({ email: 'ops@repl.test', password, totp: async () => totpAt(admin.secret, Date.now() + 30_000) });
      expect(user).toMatchObject({ id: admin.id, roles: expect.arrayContaining(['admin']) });
      const courses: { items: unknown[] } = await broker.call('courses.list', { q: 'secret search words' });
      expect(courses.items).toEqual([]);
      const rows = await waitFor(async () => {
        const r = await query<{ actor_id: string; data: Record<string, unknown> }>(
          db.url,
          `select actor_id, data from audit.entries where type = 'operator.call'`,
        );
        return r.length > 0 && r;
      });
      expect(rows).toEqual([{ actor_id: admin.id, data: expect.objectContaining({ action: 'courses.list', via: 'repl' }) }]);
      expect(JSON.stringify(rows)).not.toContain('secret search words');
      // What the person may not do, the REPL may not either: code and message, no stack.
      const refused = await broker.call('courses.get', { courseId: '00000000-0000-4000-8000-000000000000' }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(Error);
      expect((refused as Error).stack).toMatch(/^COURSE_NOT_FOUND \(404\): /);
      expect((refused as Error).stack).not.toMatch(/\n\s+at /);
      await identity.signOut();
    } finally {
      await broker.stop();
    }
  }, 60_000);

  it('a mesh peer without a token cannot act as an admin by naming one in meta', async () => {
    const broker = replBroker(`${ns}-peer`);
    await broker.start();
    try {
      await broker.waitForServices(['courses'], 20_000);
      const err = await broker.call('courses.list', {}, { meta: { caller: { userId: admin.id, roles: ['admin'] }, edge: true } }).catch((e: unknown) => e);
      expect(replError(err)).toMatchObject({ code: 'UNAUTHENTICATED' });
      expect(replError(err).stack).toBe('UNAUTHENTICATED (401): Sign in to do this');
    } finally {
      await broker.stop();
    }
  }, 60_000);
});
