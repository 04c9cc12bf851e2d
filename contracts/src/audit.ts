import { z } from 'zod';
import { domain, isoDate, mutation, page, pageInput, query } from './core.js';

export const auditEntry = z
  .object({
    id: z.string().meta({ description: 'Position in the log' }),
    eventId: z.uuid(),
    at: isoDate,
    type: z.string().meta({ description: 'The event, e.g. auth.login_failed or user.updated' }),
    actorId: z.uuid().nullable().meta({ description: 'Who did it, when known' }),
    subjectId: z.uuid().nullable().meta({ description: 'Whom it concerns' }),
    ip: z.string().nullable(),
    data: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'AuditEntry' });

export const audit = domain('audit', {
  /** The append-only log of sensitive actions, newest first (admins and auditors). */
  list: query({
    input: pageInput.extend({
      type: z.string().max(60).optional(),
      actorId: z.uuid().optional(),
      subjectId: z.uuid().optional(),
    }),
    output: page(auditEntry),
    permission: 'audit:read',
    rest: { method: 'GET', path: '/audit' },
    summary: 'Read the audit log',
  }),
});

/** Not published at the edge. */
export const auditInternal = domain('audit', {
  /**
   * Records that an operator's REPL called an action: the actor is the verified caller (the operator's
   * token), the entry names the action only, never its input. The runtime calls it for every REPL call.
   */
  recordOperatorCall: mutation({
    input: z.object({ action: z.string().max(120), requestId: z.string().max(128).optional() }),
    output: z.object({ recorded: z.literal(true) }),
    permission: 'authenticated',
    summary: 'Record an operator call',
  }),
});
