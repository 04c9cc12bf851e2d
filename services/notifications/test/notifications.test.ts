import { randomUUID } from 'node:crypto';
import { notificationEvents, notifications, users, usersInternal } from '@lms/contracts';
import { eventually, testNode, type TestClient, type TestNode } from '@lms/runtime/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usersService } from '../../users/src/index.js';
import { notificationsService } from '../src/index.js';

let node: TestNode;
let admin: TestClient;
beforeAll(async () => {
  // users: routing reads each recipient's address and preferences from it.
  node = await testNode([notificationsService, usersService]);
  admin = node.as({ roles: ['admin'] });
});
afterAll(() => node?.stop());

async function person(): Promise<{ client: TestClient; id: string; email: string }> {
  const id = randomUUID();
  const email = `n.${id.slice(0, 8)}@example.test`;
  await node.internal().call(usersInternal.create, { id, email, displayName: 'Nora' });
  return { client: node.as({ userId: id, roles: ['student'] }), id, email };
}

/** Another service asking for a message to be sent (the enrollment saga's welcome, auth's security notices). */
function request(p: { id: string; email: string }, template: 'enrollment_welcome' | 'password_changed') {
  return node.publish(
    notificationEvents.requested,
    { userId: p.id, to: p.email, template, data: { displayName: 'Nora', courseTitle: 'Algebra', courseId: randomUUID(), enrollmentId: randomUUID() } },
    p.id,
  );
}

async function deliveryOf(eventId: string) {
  return eventually(async () => {
    const d = (await admin.call(notifications.deliveries, { channel: 'email', limit: 100 })).items.find((x) => x.eventId === eventId);
    expect(d).toBeDefined();
    return d as NonNullable<typeof d>;
  });
}

describe('notifications handlers (unit: with users for addresses and preferences)', () => {
  it("puts a requested message in its recipient's inbox, readable and markable by them only", async () => {
    const nora = await person();
    await request(nora, 'enrollment_welcome');
    // (Their inbox also gets the account's welcome: notifications hears users' user.created.)
    const item = await eventually(async () => {
      const found = (await nora.client.call(notifications.inbox, {})).items.find((i) => i.template === 'enrollment_welcome');
      expect(found).toBeDefined();
      return found;
    });
    expect(item).toMatchObject({ template: 'enrollment_welcome', readAt: null });
    expect(item?.title).toContain('Algebra');
    const other = await person();
    expect((await other.client.call(notifications.inbox, {})).items.map((i) => i.template)).not.toContain('enrollment_welcome');
    expect(await other.client.fail(notifications.markRead, { notificationId: item?.id ?? '' })).toMatchObject({ code: 'NOT_FOUND', status: 404 });
    await nora.client.call(notifications.markRead, { notificationId: item?.id ?? '' });
    expect((await nora.client.call(notifications.inbox, { unread: true })).items.map((i) => i.id)).not.toContain(item?.id);
    await nora.client.call(notifications.markAllRead, {});
    expect((await nora.client.call(notifications.inbox, { unread: true })).items).toEqual([]);
    expect(await node.anonymous().fail(notifications.inbox, {})).toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });
  });

  it("follows the recipient's preferences, except for mandatory security email", async () => {
    const quiet = await person();
    await quiet.client.call(users.setNotificationPreferences, { types: { enrollments: { inApp: 'never', email: 'weekly' } } });
    const welcome = await request(quiet, 'enrollment_welcome');
    expect((await deliveryOf(welcome)).status).toBe('held'); // waits for the weekly digest
    const security = await request(quiet, 'password_changed');
    expect((await deliveryOf(security)).status).not.toBe('held'); // security email goes at once
    // The inbox gets the security notice only: in-app enrollment messages are off.
    const templates = await eventually(async () => {
      const t = (await quiet.client.call(notifications.inbox, {})).items.map((i) => i.template);
      expect(t).toContain('password_changed');
      return t;
    });
    expect(templates).not.toContain('enrollment_welcome');
  });

  it('keeps operator views for notification managers; public endpoints need no caller', async () => {
    expect(await node.as({ roles: ['instructor'] }).fail(notifications.templates, {})).toMatchObject({ code: 'FORBIDDEN', status: 403 });
    expect(await node.as().fail(notifications.deliveries, {})).toMatchObject({ code: 'FORBIDDEN', status: 403 });
    const preview = await admin.call(notifications.previewTemplate, { template: 'enrollment_welcome', locale: 'en', data: { courseTitle: 'Algebra' } });
    expect(preview.subject).toContain('Algebra');
    expect(await node.anonymous().fail(notifications.unsubscribe, { token: 'not-a-real-token' })).toMatchObject({ code: 'TOKEN_INVALID' });
    expect(typeof (await node.anonymous().call(notifications.pushKey, {})).publicKey).toBe('string');
  });
});
