import { audit, authEvents, userEvents, type EventContract, type EventEnvelope } from '@lms/contracts';
import { consumer, defineService, invalidCursor, keysetPage, type ConsumerDefinition } from '@lms/runtime';
import type { Kysely, Transaction } from 'kysely';
import type { z } from 'zod';
import { AuditRepository, type AuditDB, type NewEntry } from './audit.repository.js';
import * as m0 from './migrations/20261124140000_audit.js';

type Who = { actorId: string | null; subjectId: string | null; ip?: string | null };

/** One durable consumer per audited event, each mapping its payload to who did what to whom. */
function audited<E extends EventContract>(event: E, who: (p: z.output<E['payload']>) => Who): ConsumerDefinition {
  const type = event.subject.replace(/^lms\./, '').replace(/\.v\d+$/, '');
  return consumer({
    name: type.replace(/[._]/g, '-'),
    event,
    handle: async (payload: z.output<E['payload']>, env: EventEnvelope, trx: Transaction<AuditDB>) => {
      const w = who(payload);
      const entry: NewEntry = { eventId: env.id, at: env.occurredAt, type, actorId: w.actorId, subjectId: w.subjectId, ip: w.ip ?? null, data: payload as Record<string, unknown> };
      await new AuditRepository(trx).append(entry);
    },
  });
}

/** The audit log: an append-only projection of the sensitive events of every service. */
export const auditService = defineService({
  name: 'audit',
  contracts: audit,
  migrations: { '20261124140000_audit': m0 },
  repository: (db: Kysely<AuditDB>) => new AuditRepository(db),
  consumers: [
    audited(authEvents.loginSucceeded, (p) => ({ actorId: p.userId, subjectId: p.userId, ip: p.ip })),
    audited(authEvents.loginFailed, (p) => ({ actorId: p.userId, subjectId: p.userId, ip: p.ip })),
    audited(authEvents.sessionsRevoked, (p) => ({ actorId: p.by, subjectId: p.userId })),
    audited(authEvents.passwordChanged, (p) => ({ actorId: p.userId, subjectId: p.userId, ip: p.ip })),
    audited(userEvents.created, (p) => ({ actorId: null, subjectId: p.userId })),
    audited(userEvents.updated, (p) => ({ actorId: p.by, subjectId: p.userId })),
    audited(userEvents.deactivated, (p) => ({ actorId: p.by, subjectId: p.userId })),
  ],
  handlers: {
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
