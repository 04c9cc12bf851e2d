import { audit, auditInternal } from '@lms/contracts';
import { testNode, type TestNode } from '@lms/runtime/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { auditService } from '../src/index.js';

let node: TestNode;
beforeAll(async () => {
  node = await testNode([auditService]);
});
afterAll(() => node?.stop());
afterEach(() => {
  vi.useRealTimers();
});

describe('audit handlers (unit: one service, in-memory database, test verifier)', () => {
  it("records an operator's call with the caller as actor and the time it happened, never the input", async () => {
    const at = new Date(Math.floor(Date.now() / 1000) * 1000 + 3_600_000); // an hour ahead, to the second
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(at);
    const operator = node.as({ roles: ['admin'] });
    expect(await operator.call(auditInternal.recordOperatorCall, { action: 'users.setRoles', requestId: 'req-1' })).toEqual({ recorded: true });
    vi.useRealTimers();

    const page = await node.as({ roles: ['auditor'] }).call(audit.list, { actorId: operator.caller?.userId, limit: 10 });
    expect(page.items).toHaveLength(1);
    expect(page.items[0]).toMatchObject({ type: 'operator.call', actorId: operator.caller?.userId, subjectId: null });
    expect(new Date(page.items[0]?.at ?? 0).toISOString()).toBe(at.toISOString());
    expect(JSON.stringify(page.items[0]?.data)).toContain('users.setRoles');
  });

  it('lists newest first, filters by type, and pages with a cursor', async () => {
    const operator = node.as({ roles: ['admin'] });
    for (const action of ['a.one', 'a.two', 'a.three']) await operator.call(auditInternal.recordOperatorCall, { action });
    const reader = node.as({ roles: ['auditor'] });
    const first = await reader.call(audit.list, { actorId: operator.caller?.userId, type: 'operator.call', limit: 2 });
    expect(first.items.map((e) => (e.data as { action: string }).action)).toEqual(['a.three', 'a.two']);
    expect(first.nextCursor).toBeTruthy();
    const second = await reader.call(audit.list, { actorId: operator.caller?.userId, limit: 2, cursor: first.nextCursor ?? undefined });
    expect(second.items.map((e) => (e.data as { action: string }).action)).toEqual(['a.one']);
    expect((await reader.call(audit.list, { type: 'no.such.type' })).items).toEqual([]);
  });

  it('is readable by auditors and admins only; recording needs a caller', async () => {
    expect(await node.as({ roles: ['learner', 'instructor'] }).fail(audit.list, {})).toMatchObject({ code: 'FORBIDDEN', status: 403 });
    expect(await node.anonymous().fail(audit.list, {})).toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });
    expect(await node.anonymous().fail(auditInternal.recordOperatorCall, { action: 'x' })).toMatchObject({ status: 401 });
    expect(await node.as({ roles: ['auditor'] }).fail(audit.list, { cursor: 'not-a-cursor' })).toMatchObject({ code: 'VALIDATION_FAILED', status: 422 });
  });
});
