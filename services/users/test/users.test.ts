import { users, usersInternal } from '@lms/contracts';
import { testNode, type TestNode } from '@lms/runtime/testing';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usersService } from '../src/index.js';

// No files service on this node: every call to it fails as an outage would.
let node: TestNode;
beforeAll(async () => {
  node = await testNode([usersService]);
});
afterAll(() => node?.stop());

describe('users handlers (unit: users alone, in-memory database, test verifier)', () => {
  it('updates a profile, but an avatar check that files cannot answer fails the update instead of calling the image "not yours"', async () => {
    const id = randomUUID();
    await node.internal().call(usersInternal.create, { id, email: 'eve@unit.test', displayName: 'Eve' });
    const eve = node.as({ userId: id });
    expect(await eve.call(users.updateMe, { bio: 'hello' })).toMatchObject({ id, bio: 'hello' });
    const failure = await eve.fail(users.updateMe, { avatarFileId: randomUUID() });
    expect(failure.code).not.toBe('VALIDATION_FAILED');
    expect(failure.code).toBe('SERVICE_NOT_FOUND');
    expect((await eve.call(users.me, {})).avatarFileId ?? null).toBeNull();
  });
});
