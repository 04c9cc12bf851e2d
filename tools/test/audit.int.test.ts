/** The audit log: sensitive actions of every service, append-only, readable by admins and auditors only. */
import { AuditRepository, auditService, type AuditDB } from '@lms/audit';
import { gatewayPort } from '@lms/gateway';
import { migrateSchema, openDatabase, startNode, type LmsNode } from '@lms/runtime';
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICES } from '../services.ts';
import { defined, http, tempDatabase, waitFor } from './support.ts';

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
    expect(types).toEqual(expect.arrayContaining(['user.created', 'auth.login_failed', 'auth.login_succeeded', 'user.deactivated', 'auth.sessions_revoked']));
    const failed = defined(entries.find((e) => e.type === 'auth.login_failed'));
    expect(failed.data).toMatchObject({ reason: 'bad_credentials', userAgent: 'probe/1' });
    expect(failed.data.emailHash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(entries)).not.toContain('not the password');
    expect(defined(entries.find((e) => e.type === 'user.deactivated')).actorId).toBe(admin.user.id);
    expect(defined(entries.find((e) => e.type === 'auth.sessions_revoked')).data).toMatchObject({ reason: 'user_deactivated', by: admin.user.id });
    const roleChange = defined((await about(ivo.user.id)).find((e) => e.type === 'user.updated'));
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

  it('keeps personal fields apart from its entries and erases them with the user; entries stay, by id only', async () => {
    const admin = (await http(base, 'POST', '/api/v1/auth/login', { email: 'boss@audit.test', password: pw })).body;
    const reg = (email: string, displayName: string, ua: string) =>
      http(base, 'POST', '/api/v1/auth/register', { email, password: pw, displayName }, undefined, { 'user-agent': ua }).then((r) => r.body);
    const zoe = await reg('zoe@audit.test', 'Zoe Gone', 'zoe-agent/1');
    const yan = await reg('yan@audit.test', 'Yan Kept', 'yan-agent/1');
    const logins: Array<[string, string]> = [
      ['zoe@audit.test', 'zoe-agent/2'],
      ['yan@audit.test', 'yan-agent/2'],
      ['zoe@audit.test', 'zoe-agent/3'],
    ];
    for (const [email, ua] of logins) {
      await http(base, 'POST', '/api/v1/auth/login', { email, password: email === 'zoe@audit.test' && ua.endsWith('3') ? 'wrong password!' : pw }, undefined, {
        'user-agent': ua,
      });
    }
    const about = async (userId: string) =>
      (await http(base, 'GET', `/api/v1/audit?subjectId=${userId}&limit=100`, undefined, admin.accessToken)).body.items as Entry[];
    await waitFor(async () => (await about(zoe.user.id)).filter((e) => e.type.startsWith('auth.login')).length === 2);
    await waitFor(async () => (await about(yan.user.id)).some((e) => e.type === 'auth.login_succeeded'));
    // Before the erasure the log shows who they are; the entries themselves hold ids only.
    expect(JSON.stringify(await about(zoe.user.id))).toContain('zoe@audit.test');
    const db = node.runtime.db.root;
    const stored = await db.selectFrom('audit.entries').selectAll().where('subject_id', '=', zoe.user.id).execute();
    expect(JSON.stringify(stored)).not.toMatch(/zoe@audit\.test|Zoe Gone|zoe-agent|emailHash/);

    expect((await http(base, 'POST', '/api/v1/me/erasure', { confirm: 'ERASE' }, zoe.accessToken)).status).toBe(202);
    const after = await waitFor(async () => {
      const e = await about(zoe.user.id);
      return e.some((x) => x.type === 'user.deleted') && e;
    });
    // The entries are all still there, naming Zoe by id; her email, name, agents, IPs and email hash are gone.
    expect(after.map((e) => e.type)).toEqual(expect.arrayContaining(['user.created', 'auth.login_succeeded', 'auth.login_failed', 'user.deleted']));
    expect(JSON.stringify(after)).not.toMatch(/zoe@audit\.test|Zoe Gone|zoe-agent|emailHash/);
    for (const e of after) expect(e.ip).toBeNull();
    expect(await db.selectFrom('audit.personal').selectAll().where('subject_id', '=', zoe.user.id).execute()).toEqual([]);
    // Someone not erased still shows in full.
    const yans = await about(yan.user.id);
    expect(defined(yans.find((e) => e.type === 'user.created')).data).toMatchObject({ email: 'yan@audit.test', displayName: 'Yan Kept' });
    expect(defined(yans.find((e) => e.type === 'auth.login_succeeded')).data).toMatchObject({ userAgent: 'yan-agent/2' });

    // An event about Zoe that lands after her erasure keeps no personal field either.
    await node.runtime.db
      .forSchema<AuditDB>('audit')
      .transaction()
      .execute((trx) =>
        new AuditRepository(trx).append({
          eventId: randomUUID(),
          at: new Date().toISOString(),
          type: 'auth.login_failed',
          actorId: null,
          subjectId: zoe.user.id,
          ip: '192.0.2.9',
          data: { userAgent: 'late-agent', reason: 'bad_credentials' },
        }),
      );
    expect(JSON.stringify(await about(zoe.user.id))).not.toMatch(/late-agent|192\.0\.2\.9/);
    expect(defined((await about(zoe.user.id))[0]).data).toEqual({ reason: 'bad_credentials' });
    // And the log is still append-only.
    await expect(db.deleteFrom('audit.entries').where('subject_id', '=', zoe.user.id).execute()).rejects.toThrow(/append-only/);
    await expect(sql`truncate audit.entries cascade`.execute(db)).rejects.toThrow(/append-only/);
  });

  it.each(['pglite', 'postgres'])('moves the personal fields of existing entries out of them, and shreds those of users already erased (%s)', async (kind) => {
    const pgdb = kind === 'postgres' ? await tempDatabase() : undefined;
    const d = await openDatabase({ databaseUrl: pgdb?.url, dataDir: 'memory://' });
    try {
      const { '20261130000000_personal': personal, ...before } = auditService.migrations;
      expect(personal).toBeDefined();
      await migrateSchema(d, 'audit', before);
      const [kept, gone] = [randomUUID(), randomUUID()];
      const legacy = [
        {
          type: 'user.created',
          actor: null,
          subject: kept,
          ip: null,
          data: { userId: kept, email: 'kept@legacy.test', displayName: 'Kept Person', roles: ['student'] },
        },
        { type: 'auth.login_succeeded', actor: kept, subject: kept, ip: '192.0.2.1', data: { userId: kept, ip: '192.0.2.1', userAgent: 'kept-agent' } },
        {
          type: 'user.created',
          actor: null,
          subject: gone,
          ip: null,
          data: { userId: gone, email: 'gone@legacy.test', displayName: 'Gone Person', roles: ['student'] },
        },
        { type: 'auth.login_succeeded', actor: gone, subject: gone, ip: '192.0.2.2', data: { userId: gone, ip: '192.0.2.2', userAgent: 'gone-agent' } },
        {
          type: 'auth.login_failed',
          actor: null,
          subject: null,
          ip: '192.0.2.3',
          data: { emailHash: 'ab'.repeat(32), userId: null, ip: '192.0.2.3', reason: 'bad_credentials', userAgent: null },
        },
        { type: 'user.deleted', actor: gone, subject: gone, ip: null, data: { userId: gone, requestId: randomUUID(), by: gone } },
      ];
      for (const e of legacy) {
        await sql`insert into audit.entries (event_id, at, type, actor_id, subject_id, ip, data)
          values (${randomUUID()}, now(), ${e.type}, ${e.actor}, ${e.subject}, ${e.ip}, ${JSON.stringify(e.data)}::jsonb)`.execute(d.root);
      }
      await migrateSchema(d, 'audit', auditService.migrations);

      const entries = await d.root.selectFrom('audit.entries').selectAll().orderBy('id').execute();
      expect(entries).toHaveLength(legacy.length);
      expect(JSON.stringify(entries)).not.toMatch(/@legacy\.test|Person|agent|192\.0\.2|emailHash/);
      expect(entries[0]).not.toHaveProperty('ip');
      const repo = new AuditRepository(d.forSchema<AuditDB>('audit'));
      const listed = await repo.list({ limit: 100 });
      const text = JSON.stringify(listed);
      expect(text).toContain('kept@legacy.test');
      expect(text).toContain('kept-agent');
      expect(defined(listed.find((e) => e.subject_id === kept && e.type === 'auth.login_succeeded')).ip).toBe('192.0.2.1');
      expect(text).toContain('192.0.2.3'); // a failed login for no account belongs to nobody to erase
      expect(text).not.toMatch(/gone@legacy\.test|Gone Person|gone-agent|192\.0\.2\.2/);
      // Still append-only after the migration.
      await expect(d.root.updateTable('audit.entries').set({ type: 'forged' }).where('id', '=', defined(entries[0]).id).execute()).rejects.toThrow(
        /append-only/,
      );
    } finally {
      await d.close();
      await pgdb?.drop();
    }
  });
});
