import { randomUUID } from 'node:crypto';
import { users, usersInternal } from '@lms/contracts';
import { testNode, type TestNode } from '@lms/runtime/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usersService } from '../src/index.js';

let node: TestNode;
beforeAll(async () => {
  node = await testNode([usersService]);
});
afterAll(() => node?.stop());

/** A profile created as the auth service does at registration, and a client calling as its owner. */
async function person(name: string, roles: string[] = ['learner']) {
  const id = randomUUID();
  const profile = await node.internal().call(usersInternal.create, { id, email: `${name}.${id.slice(0, 8)}@example.test`, displayName: name });
  return { profile, client: node.as({ userId: id, roles }) };
}

describe('users handlers (unit: one service, in-memory database, test verifier)', () => {
  // First: the first profile of an empty install is the admin.
  it('makes the first profile of an install admin, later ones students; an email is taken once', async () => {
    const first = await person('first');
    expect(first.profile.roles).toContain('admin');
    const second = await person('second');
    expect(second.profile.roles).toEqual(['student']);
    const dup = await node.internal().fail(usersInternal.create, { id: randomUUID(), email: second.profile.email, displayName: 'Copy' });
    expect(dup).toMatchObject({ code: 'EMAIL_TAKEN', status: 409 });
    expect(await node.internal().call(usersInternal.byEmail, { email: second.profile.email })).toMatchObject({ id: second.profile.id });
    expect(await node.internal().fail(usersInternal.byId, { id: randomUUID() })).toMatchObject({ code: 'USER_NOT_FOUND', status: 404 });
  });

  it('lets a user read and change their own profile, validating what they send', async () => {
    const { client } = await person('Ada');
    expect((await client.call(users.me, {})).displayName).toBe('Ada');
    const changed = await client.call(users.updateMe, { displayName: 'Ada L.', bio: 'Engines', locale: 'en-GB', timezone: 'Europe/London' });
    expect(changed).toMatchObject({ displayName: 'Ada L.', bio: 'Engines', locale: 'en-GB', timezone: 'Europe/London' });
    expect(await client.fail(users.updateMe, { timezone: 'Mars/Olympus' })).toMatchObject({ code: 'VALIDATION_FAILED', status: 422 });
    expect(await client.fail(users.updateMe, { locale: 'not a tag' })).toMatchObject({ code: 'VALIDATION_FAILED', status: 422 });
    expect(await node.anonymous().fail(users.me, {})).toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });
  });

  it('shows a profile to its owner and to user managers only', async () => {
    const a = await person('A');
    const b = await person('B');
    expect(await a.client.call(users.get, { userId: a.profile.id })).toMatchObject({ id: a.profile.id });
    expect(await b.client.fail(users.get, { userId: a.profile.id })).toMatchObject({ code: 'FORBIDDEN', status: 403 });
    const admin = node.as({ roles: ['admin'] });
    expect(await admin.call(users.get, { userId: a.profile.id })).toMatchObject({ id: a.profile.id });
    expect(await admin.fail(users.get, { userId: randomUUID() })).toMatchObject({ code: 'USER_NOT_FOUND', status: 404 });
  });

  it('grants and revokes roles (admins only; an admin cannot take admin from themselves)', async () => {
    const { profile } = await person('Teacher');
    const admin = await person('Boss', ['admin']);
    expect((await admin.client.call(users.grantRole, { userId: profile.id, role: 'instructor' })).roles).toEqual(expect.arrayContaining(['instructor']));
    const changes = await node.internal().call(usersInternal.roleChanges, { userIds: [profile.id] });
    expect(changes.items[0]?.roles).toEqual(expect.arrayContaining(['instructor']));
    expect((await admin.client.call(users.revokeRole, { userId: profile.id, role: 'instructor' })).roles).not.toContain('instructor');
    expect(await node.as({ roles: ['instructor'] }).fail(users.grantRole, { userId: profile.id, role: 'admin' })).toMatchObject({
      code: 'FORBIDDEN',
      status: 403,
    });
    expect(await admin.client.fail(users.revokeRole, { userId: admin.profile.id, role: 'admin' })).toMatchObject({ code: 'CONFLICT', status: 409 });
    expect(await admin.client.fail(users.grantRole, { userId: randomUUID(), role: 'auditor' })).toMatchObject({ code: 'USER_NOT_FOUND', status: 404 });
  });

  it('deactivates someone else, never oneself', async () => {
    const { profile } = await person('Leaver');
    const admin = await person('Boss2', ['admin']);
    expect((await admin.client.call(users.deactivate, { userId: profile.id })).status).toBe('deactivated');
    expect(await admin.client.fail(users.deactivate, { userId: admin.profile.id })).toMatchObject({ code: 'CONFLICT', status: 409 });
    expect((await admin.client.call(users.reactivate, { userId: profile.id })).status).toBe('active');
  });

  it('keeps notification preferences, refusing to turn security email off', async () => {
    const { client, profile } = await person('Quiet');
    const prefs = await client.call(users.setNotificationPreferences, {
      types: { announcements: { email: 'weekly' } },
      quietHours: { start: '22:00', end: '07:00' },
    });
    expect(prefs.types.announcements.email).toBe('weekly');
    expect((await client.call(users.notificationPreferences, {})).quietHours).toEqual({ start: '22:00', end: '07:00' });
    expect(await client.fail(users.setNotificationPreferences, { types: { security: { email: 'never' } } })).toMatchObject({
      code: 'VALIDATION_FAILED',
      status: 422,
    });
    // One-click unsubscribe goes through the internal procedure; mandatory email stays on whatever is asked.
    const after = await node.internal().call(usersInternal.setChannelPreference, { id: profile.id, type: 'security', channel: 'email', mode: 'never' });
    expect(after.types.security.email).toBe('immediately');
  });
});
