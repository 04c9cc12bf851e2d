/**
 * One-click unsubscribe against a stand-in users service (embedded node: PGlite, in-process events): an erased
 * user (USER_NOT_FOUND) has nothing left to unsubscribe from, but an outage of the users service is not an
 * unsubscription — the caller learns it failed (it used to be swallowed and answered `unsubscribed`).
 */
import { randomUUID } from 'node:crypto';
import { DomainError, resolvePreferences, usersInternal } from '@lms/contracts';
import { defineService, startNode, type LmsNode } from '@lms/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notificationsOf, notificationsService } from '../src/index.ts';

let node: LmsNode;
/** What the stand-in users service does with the next setChannelPreference. */
let answer: 'ok' | 'not-found' | 'down' = 'ok';
const changed: unknown[] = [];

const usersStandIn = defineService({
  name: 'users',
  contracts: { setChannelPreference: usersInternal.setChannelPreference },
  handlers: {
    async setChannelPreference({ input }) {
      if (answer === 'not-found') throw new DomainError('USER_NOT_FOUND', 'No such user');
      if (answer === 'down') throw new DomainError('SERVICE_UNAVAILABLE', 'The database is away');
      changed.push(input);
      return resolvePreferences({ types: { [input.type]: { [input.channel]: input.mode } } });
    },
  },
});

beforeAll(async () => {
  node = await startNode([notificationsService, usersStandIn], { mode: 'embedded', dataDir: 'memory://', port: 0, databaseUrl: undefined });
});
afterAll(async () => {
  await node?.stop();
});

const unsubscribe = async (userId: string) => {
  const token = await notificationsOf(node).signer.token(userId, 'announcements');
  return node.broker.call('notifications.unsubscribe', { token });
};

describe('unsubscribe', () => {
  it('turns the email of that type off', async () => {
    answer = 'ok';
    const userId = randomUUID();
    expect(await unsubscribe(userId)).toEqual({ unsubscribed: true, type: 'announcements' });
    expect(changed).toContainEqual({ id: userId, type: 'announcements', channel: 'email', mode: 'never' });
  });

  it('answers unsubscribed for a user who no longer exists', async () => {
    answer = 'not-found';
    expect(await unsubscribe(randomUUID())).toEqual({ unsubscribed: true, type: 'announcements' });
  });

  it('fails, with the users service its cause, when the preference could not be changed', async () => {
    answer = 'down';
    await expect(unsubscribe(randomUUID())).rejects.toMatchObject({ type: 'SERVICE_UNAVAILABLE' });
  });

  it('refuses a forged link', async () => {
    answer = 'ok';
    await expect(node.broker.call('notifications.unsubscribe', { token: `${randomUUID()}.announcements.forged` })).rejects.toMatchObject({
      type: 'TOKEN_INVALID',
    });
  });
});
