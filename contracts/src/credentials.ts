/**
 * Course certificates: Open Badges 3.0 credentials (W3C Verifiable Credentials, secured as VC-JWT), their public
 * verification, revocation (Bitstring Status List) and printable PDF. Issuance is internal (`credentialsInternal.issue`
 * in grading.ts); the events are `credentialEvents` (grading.ts).
 */
import { z } from 'zod';
import { domain, isoDate, mutation, query } from './core.js';

/** A human code printed on the certificate: four groups of four Crockford base32 letters (ABCD-EFGH-JKMN-PQRS). */
export const credentialCode = z
  .string()
  .trim()
  .toUpperCase()
  .regex(/^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/, 'must look like ABCD-EFGH-JKMN-PQRS')
  .meta({ description: 'Verification code printed on the certificate' });

export const credentialSummary = z
  .object({
    id: z.uuid(),
    code: z.string(),
    userId: z.uuid(),
    courseId: z.uuid(),
    courseTitle: z.string(),
    learnerName: z.string(),
    issuedAt: isoDate,
    /** When it expires; null: never. */
    validUntil: isoDate.nullable(),
    status: z.enum(['active', 'revoked', 'expired']),
    revokedAt: isoDate.nullable(),
    /** The reason the admin gave (the learner and admins see it; verification shows it only when public). */
    revocationReason: z.string().nullable(),
    revocationReasonPublic: z.boolean(),
    /** The public verification page (HTML, no account needed); the QR code on the PDF points to it. */
    verifyUrl: z.string(),
  })
  .meta({ id: 'CredentialSummary' });
export type CredentialSummary = z.infer<typeof credentialSummary>;

export const verification = z
  .object({
    status: z.enum(['valid', 'revoked', 'expired', 'unknown']),
    code: z.string(),
    credentialId: z.uuid().nullable(),
    learnerName: z.string().nullable(),
    course: z.string().nullable(),
    issuedAt: isoDate.nullable(),
    /** When it expires (then `status` is `expired`); null: never, or unknown. */
    validUntil: isoDate.nullable(),
    issuer: z.string().nullable(),
    /** Only when revoked and the revocation made its reason public. */
    revocationReason: z.string().nullable(),
    /** What was checked: the JWT's signature with the issuer key, and the credential's bit in the status list. */
    checks: z.object({ signature: z.boolean(), statusList: z.boolean() }),
  })
  .meta({ id: 'CredentialVerification' });

const signedDocument = z.object({ jwt: z.string(), credential: z.record(z.string(), z.unknown()) });

export const credentials = domain('credentials', {
  /** The caller's certificates. */
  mine: query({
    input: z.object({}),
    output: z.object({ items: z.array(credentialSummary) }),
    permission: 'authenticated',
    rest: { method: 'GET', path: '/me/credentials' },
    summary: 'My certificates',
  }),
  /** Anyone (no account) checks a certificate by its code: signature and status list are verified, not just read. */
  verify: query({
    input: z.object({ code: z.string().max(40) }),
    output: verification,
    permission: 'public',
    rest: { method: 'GET', path: '/verify/{code}' },
    summary: 'Verify a certificate by its code',
  }),
  /** The signed credential (VC-JWT) and its decoded payload: what a wallet imports. */
  credential: query({
    input: z.object({ id: z.uuid() }),
    output: signedDocument,
    permission: 'public',
    rest: { method: 'GET', path: '/credentials/{id}/credential' },
    summary: 'A signed Open Badges 3.0 credential',
    errors: ['NOT_FOUND'],
  }),
  /** A printable certificate (learner, course, date, code and a QR code of the verification URL), base64 in JSON. */
  pdf: query({
    input: z.object({ id: z.uuid() }),
    output: z.object({ filename: z.string(), contentType: z.literal('application/pdf'), base64: z.string() }),
    permission: 'authenticated',
    rest: { method: 'GET', path: '/credentials/{id}/pdf' },
    summary: 'A certificate as PDF',
    errors: ['NOT_FOUND'],
  }),
  /** Revoke a certificate (admins) with a reason, private unless `reasonPublic`: its bit in the status list is set, verification then answers `revoked`. */
  revoke: mutation({
    input: z.object({
      id: z.uuid(),
      reason: z.string().trim().min(1).max(500),
      /** Show the reason on the public verification (page and JSON); by default only the learner and admins see it. */
      reasonPublic: z.boolean().default(false),
    }),
    output: credentialSummary,
    permission: 'users:manage',
    rest: { method: 'POST', path: '/credentials/{id}/revoke' },
    summary: 'Revoke a certificate',
    errors: ['NOT_FOUND', 'CONFLICT'],
  }),
  /** The issuer's DID document (did:web); also served at /.well-known/did.json. */
  didDocument: query({
    input: z.object({}),
    output: z.record(z.string(), z.unknown()),
    permission: 'public',
    rest: { method: 'GET', path: '/credentials/did.json' },
    summary: "The issuer's DID document",
  }),
  /** The revocation list: a BitstringStatusListCredential (VC-JWT). The raw JWT is at /credentials/status/1. */
  statusList: query({
    input: z.object({}),
    output: signedDocument,
    permission: 'public',
    rest: { method: 'GET', path: '/credentials/status-list' },
    summary: 'The revocation status list',
  }),
});
