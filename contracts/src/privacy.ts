import { z } from 'zod';
import { domain, event, isoDate, mutation } from './core.js';

/** The services that hold personal data: each contributes to exports and applies erasures. */
export const privacyParticipants = [
  'auth',
  'users',
  'courses',
  'enrollments',
  'files',
  'notifications',
  'audit',
  'assessments',
  'attempts',
  'assignments',
  'credentials',
  'grades',
  'search',
  'llm',
] as const;
export type PrivacyParticipant = (typeof privacyParticipants)[number];

export const privacyRequest = z
  .object({
    id: z.uuid(),
    userId: z.uuid(),
    kind: z.enum(['export', 'erasure']),
    status: z.enum(['pending', 'running', 'complete', 'failed']),
    requestedBy: z.uuid(),
    /** Per service: `pending` until it has contributed its data (export) or erased it (erasure). */
    parts: z.record(z.string(), z.enum(['pending', 'done'])),
    createdAt: isoDate,
    completedAt: isoDate.nullable(),
    error: z.string().nullable(),
  })
  .meta({ id: 'PrivacyRequest' });
export type PrivacyRequest = z.infer<typeof privacyRequest>;

/**
 * The internal contract each participant implements: everything it holds about a user, as JSON
 * (never password hashes, token hashes or secrets). One per service, hence a factory.
 */
export function privacyExportContract<const S extends PrivacyParticipant>(service: S) {
  return domain(service, {
    privacyExport: mutation({
      input: z.object({ userId: z.uuid() }),
      output: z.object({ data: z.unknown() }),
      permission: 'internal',
      summary: `What ${service} holds about a user`,
    }),
  });
}

/** The participants that answer an erasure with a receipt (users anonymises in the request's own transaction). */
export const erasureReceiptServices = [
  'auth',
  'courses',
  'enrollments',
  'files',
  'notifications',
  'audit',
  'assessments',
  'attempts',
  'assignments',
  'credentials',
  'grades',
  'search',
  'llm',
] as const satisfies readonly PrivacyParticipant[];
export type ErasureReceiptService = (typeof erasureReceiptServices)[number];

/**
 * A participant erased (or anonymised) what it held about a user. One subject per service
 * (`lms.privacy.courses_erased.v1`), so that NATS lets only that service's role publish it: a receipt
 * cannot be forged by another node (infra/nats/nats.conf).
 */
function erasureReceipt<const S extends ErasureReceiptService>(service: S) {
  return event({
    subject: `lms.privacy.${service}_erased.v1`,
    stream: 'LMS_PRIVACY',
    version: 1,
    summary: `${service} finished erasing a user`,
    payload: z.object({ requestId: z.uuid(), userId: z.uuid(), service: z.literal(service) }),
  });
}

/** Erasure receipts, by the service that sends them. */
export const erasureReceipts = Object.fromEntries(erasureReceiptServices.map((s) => [s, erasureReceipt(s)])) as {
  [S in ErasureReceiptService]: ReturnType<typeof erasureReceipt<S>>;
};

export const privacyEvents = {
  /** Someone asked for a user's data, or downloaded it. */
  exported: event({
    subject: 'lms.privacy.exported.v1',
    stream: 'LMS_PRIVACY',
    version: 1,
    summary: 'A data export was requested, completed or downloaded',
    payload: z.object({ requestId: z.uuid(), userId: z.uuid(), by: z.uuid(), stage: z.enum(['requested', 'completed', 'downloaded']) }),
  }),
  /** Staff read a user's record (profile, grades, submissions): FERPA's record of access. */
  recordAccessed: event({
    subject: 'lms.privacy.record_accessed.v1',
    stream: 'LMS_PRIVACY',
    version: 1,
    summary: 'Someone other than the user read their record',
    payload: z.object({ userId: z.uuid(), by: z.uuid(), record: z.string(), action: z.string() }),
  }),
};
