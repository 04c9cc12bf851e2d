import {
  audit,
  auditInternal,
  authEvents,
  courseEvents,
  erasureReceipts,
  privacyEvents,
  privacyExportContract,
  userEvents,
  type EventContract,
} from '@lms/contracts';
import { consumer, defineService, invalidCursor, keysetPage, type ConsumerArgs, type ConsumerDefinition } from '@lms/runtime';
import type { Kysely } from 'kysely';
import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { AuditRepository, type AuditDB, type NewEntry } from './audit.repository.js';
import * as m0 from './migrations/20261124140000_audit.js';
import * as m1 from './migrations/20261130000000_personal.js';

type Who = { actorId: string | null; subjectId: string | null; ip?: string | null };

/** One durable consumer per audited event, each mapping its payload to who did what to whom. */
function audited<E extends EventContract>(
  event: E,
  who: (p: z.output<E['payload']>) => Who,
  /** More work in the same unit of work, after the entry is appended. */
  after?: (p: z.output<E['payload']>, w: ConsumerArgs<E, AuditDB, AuditRepository, undefined>) => Promise<void>,
): ConsumerDefinition<EventContract, AuditDB, AuditRepository, undefined> {
  const type = event.subject.replace(/^lms\./, '').replace(/\.v\d+$/, '');
  return consumer<E, AuditDB, AuditRepository, undefined>({
    name: type.replace(/[._]/g, '-'),
    event,
    handle: async (args) => {
      const { payload, event: env, repo } = args;
      const w = who(payload);
      const entry: NewEntry = {
        eventId: env.id,
        at: env.occurredAt,
        type,
        actorId: w.actorId,
        subjectId: w.subjectId,
        ip: w.ip ?? null,
        data: payload as Record<string, unknown>,
      };
      await repo.append(entry);
      await after?.(payload, args);
    },
  });
}

/** The audit log: an append-only projection of the sensitive events of every service. */
export const auditService = defineService({
  name: 'audit',
  contracts: { ...audit, ...auditInternal, ...privacyExportContract('audit') },
  migrations: { '20261124140000_audit': m0, '20261130000000_personal': m1 },
  repository: (db: Kysely<AuditDB>) => new AuditRepository(db),
  consumers: [
    audited(authEvents.loginSucceeded, (p) => ({ actorId: p.userId, subjectId: p.userId, ip: p.ip })),
    audited(authEvents.loginFailed, (p) => ({ actorId: p.userId, subjectId: p.userId, ip: p.ip })),
    audited(authEvents.sessionsRevoked, (p) => ({ actorId: p.by, subjectId: p.userId })),
    audited(authEvents.passwordChanged, (p) => ({ actorId: p.userId, subjectId: p.userId, ip: p.ip })),
    audited(userEvents.created, (p) => ({ actorId: null, subjectId: p.userId })),
    audited(userEvents.updated, (p) => ({ actorId: p.by, subjectId: p.userId })),
    audited(userEvents.deactivated, (p) => ({ actorId: p.by, subjectId: p.userId })),
    audited(authEvents.emailVerified, (p) => ({ actorId: p.userId, subjectId: p.userId })),
    audited(authEvents.passwordResetRequested, (p) => ({ actorId: null, subjectId: p.userId, ip: p.ip })),
    audited(authEvents.identityLinked, (p) => ({ actorId: p.userId, subjectId: p.userId })),
    audited(authEvents.mfaChanged, (p) => ({ actorId: p.userId, subjectId: p.userId, ip: p.ip })),
    audited(courseEvents.memberChanged, (p) => ({ actorId: p.by, subjectId: p.userId })),
    audited(privacyEvents.exported, (p) => ({ actorId: p.by, subjectId: p.userId })),
    audited(privacyEvents.recordAccessed, (p) => ({ actorId: p.by, subjectId: p.userId })),
    // Erasure: the log keeps its entries (the law requires the record of access and changes; they
    // name users only by id), deletes every personal field kept about the user (email, name, IPs,
    // user agents), records the erasure itself, and only then says its part is done.
    audited(
      userEvents.deleted,
      (p) => ({ actorId: p.by, subjectId: p.userId }),
      async (p, { repo, emit, logger }) => {
        const erased = await repo.erasePerson(p.userId);
        logger.info({ requestId: p.requestId, userId: p.userId, erased }, 'personal fields of the audit log erased');
        await emit(erasureReceipts.audit, { requestId: p.requestId, userId: p.userId, service: 'audit' }, p.userId);
      },
    ),
  ],
  handlers: {
    async privacyExport({ input, repo }) {
      // The user's own record of access: who did what to their account and data.
      const rows = await repo.list({ limit: 10_000, subjectId: input.userId });
      return { data: { entries: rows.map((r) => ({ at: r.at.toISOString(), type: r.type, actorId: r.actor_id, ip: r.ip })) } };
    },
    async recordOperatorCall({ input, caller, repo }) {
      const data = { action: input.action, via: 'repl', ...(input.requestId && { requestId: input.requestId }) };
      await repo.append({
        eventId: randomUUID(),
        at: new Date().toISOString(),
        type: 'operator.call',
        actorId: caller.userId,
        subjectId: null,
        ip: null,
        data,
      });
      return { recorded: true as const };
    },
    async list({ input, repo }) {
      const before = input.cursor ? Number(input.cursor) : undefined;
      if (before !== undefined && (!Number.isSafeInteger(before) || before < 1)) throw invalidCursor();
      const rows = await repo.list({ limit: input.limit, before, type: input.type, actorId: input.actorId, subjectId: input.subjectId });
      const toEntry = (r: (typeof rows)[number]) => ({
        id: String(r.id),
        eventId: r.event_id,
        at: r.at.toISOString(),
        type: r.type,
        actorId: r.actor_id,
        subjectId: r.subject_id,
        ip: r.ip,
        data: r.data,
      });
      return keysetPage(rows, input.limit, toEntry, (e) => e.id);
    },
  },
});
