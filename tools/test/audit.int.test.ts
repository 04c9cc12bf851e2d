/** The audit log: sensitive actions of every service, append-only, readable by admins and auditors only. */
import { gatewayPort } from '@lms/gateway';
import { startNode, type LmsNode } from '@lms/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICES } from '../services.ts';
import { http, waitFor } from './support.ts';

let node: LmsNode;
let base: string;
const pw = 'audit trail password';

beforeAll(async () => {
  node = await startNode(Object.values(SERVICES), { mode: 'embedded', dataDir: 'memory://', port: 0, databaseUrl: undefined });
  base = `http://127.0.0.1:${gatewayPort(node.broker)}`;
});
afterAll(() => node?.stop());

type Entry = { type: string; actorId: string | null; subjectId: string | null; ip: string | null; data: Record<string, unknown> };

describe('audit log', () => {
  it('records logins, failures, role changes, deactivations and revocations, with who did it to whom', async () => {
    const admin = (await http(base, 'POST', '/api/v1/auth/register', { email: 'boss@audit.test', password: pw, displayName: 'Boss' })).body;
    const una = (await http(base, 'POST', '/api/v1/auth/register', { email: 'una@audit.test', password: pw, displayName: 'Una' })).body;
    const ivo = (await http(base, 'POST', '/api/v1/auth/register', { email: 'ivo@audit.test', password: pw, displayName: 'Ivo' })).body;
    await http(base, 'POST', '/api/v1/auth/login', { email: 'una@audit.test', password: 'not the password' }, undefined, { 'user-agent': 'probe/1' });
    await http(base, 'POST', '/api/v1/auth/login', { email: 'una@audit.test', password: pw });
    await http(base, 'POST', `/api/v1/users/${ivo.user.id}/roles`, { role: 'auditor' }, admin.accessToken);
    await http(base, 'POST', `/api/v1/users/${una.user.id}/deactivate`, undefined, admin.accessToken);

    const auditor = (await http(base, 'POST', '/api/v1/auth/login', { email: 'ivo@audit.test', password: pw })).body;
    expect(auditor.user.roles).toContain('auditor');
    const about = async (userId: string) =>
      (await http(base, 'GET', `/api/v1/audit?subjectId=${userId}&limit=100`, undefined, auditor.accessToken)).body.items as Entry[];
    const entries = await waitFor(async () => {
      const e = await about(una.user.id);
      return e.some((x) => x.type === 'auth.sessions_revoked') ? e : undefined;
    });
    const types = entries.map((e) => e.type);
    expect(types).toEqual(
      expect.arrayContaining(['user.created', 'auth.login_failed', 'auth.login_succeeded', 'user.deactivated', 'auth.sessions_revoked']),
    );
    const failed = entries.find((e) => e.type === 'auth.login_failed')!;
    expect(failed.data).toMatchObject({ reason: 'bad_credentials', userAgent: 'probe/1' });
    expect(failed.data.emailHash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(entries)).not.toContain('not the password');
    expect(entries.find((e) => e.type === 'user.deactivated')!.actorId).toBe(admin.user.id);
    expect(entries.find((e) => e.type === 'auth.sessions_revoked')!.data).toMatchObject({ reason: 'user_deactivated', by: admin.user.id });
    const roleChange = (await about(ivo.user.id)).find((e) => e.type === 'user.updated')!;
    expect(roleChange).toMatchObject({ actorId: admin.user.id, data: { changed: ['roles'], roles: ['auditor', 'student'] } });

    // Pages walk the log newest first without overlap.
    const first = (await http(base, 'GET', '/api/v1/audit?limit=3', undefined, auditor.accessToken)).body;
    const second = (await http(base, 'GET', `/api/v1/audit?limit=3&cursor=${first.nextCursor}`, undefined, auditor.accessToken)).body;
    expect(Number(second.items[0].id)).toBeLessThan(Number(first.items.at(-1).id));
  });

  it('is readable by admins and auditors only', async () => {
    const student = (await http(base, 'POST', '/api/v1/auth/register', { email: 'sid@audit.test', password: pw, displayName: 'Sid' })).body;
    expect((await http(base, 'GET', '/api/v1/audit', undefined, student.accessToken)).status).toBe(403);
    expect((await http(base, 'GET', '/api/v1/audit')).status).toBe(401);
  });

  it('is append-only in the database itself', async () => {
    const db = node.runtime.db.root;
    const row = await db.selectFrom('audit.entries').select('id').limit(1).executeTakeFirstOrThrow();
    await expect(db.deleteFrom('audit.entries').where('id', '=', row.id).execute()).rejects.toThrow(/append-only/);
    await expect(db.updateTable('audit.entries').set({ type: 'forged' }).where('id', '=', row.id).execute()).rejects.toThrow(/append-only/);
  });
});
