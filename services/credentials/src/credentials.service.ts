import {
  credentialCode,
  credentialEvents,
  credentials,
  credentialsInternal,
  DomainError,
  enrollmentEvents,
  erasureReceipts,
  privacyExportContract,
  userEvents,
  type CredentialSummary,
} from '@lms/contracts';
import { consumerOf, defineService } from '@lms/runtime';
import type { Kysely } from 'kysely';
import { credentialsEnv } from './config.js';
import { CredentialsRepository, type CredentialRow, type CredentialsDB } from './credentials.repository.js';
import { ERASED_NAME, Issuer } from './issuer.service.js';
import * as m0 from './migrations/20261201120000_credentials.js';
import * as m1 from './migrations/20261202120000_sealed_issuer_key.js';
import * as m2 from './migrations/20261202130000_validity_public_reason.js';
import { PendingWorker } from './pending.worker.js';
import { certificatePdf } from './pdf.js';

interface CredentialsDeps {
  issuer: Issuer;
  worker: PendingWorker;
}

const on = consumerOf<CredentialsDB, CredentialsRepository, CredentialsDeps>();
const noSuchCredential = () => new DomainError('NOT_FOUND', 'No such certificate');

function summary(issuer: Issuer, r: CredentialRow): CredentialSummary {
  return {
    id: r.id,
    code: r.code,
    userId: r.user_id,
    courseId: r.course_id,
    courseTitle: r.course_title,
    learnerName: r.learner_name,
    issuedAt: r.issued_at.toISOString(),
    validUntil: r.valid_until?.toISOString() ?? null,
    status: r.revoked_at ? 'revoked' : r.valid_until && r.valid_until.getTime() < Date.now() ? 'expired' : 'active',
    revokedAt: r.revoked_at?.toISOString() ?? null,
    revocationReason: r.revocation_reason,
    revocationReasonPublic: r.revocation_reason_public,
    verifyUrl: issuer.urls.verify(r.code),
  };
}

/** Course certificates: Open Badges 3.0 credentials signed by the installation's did:web, revocable, verifiable by anyone. */
export const credentialsService = defineService({
  name: 'credentials',
  env: credentialsEnv,
  contracts: { ...credentials, ...credentialsInternal, ...privacyExportContract('credentials') },
  migrations: { '20261201120000_credentials': m0, '20261202120000_sealed_issuer_key': m1, '20261202130000_validity_public_reason': m2 },
  repository: (db: Kysely<CredentialsDB>) => new CredentialsRepository(db),
  deps: (s): CredentialsDeps => {
    const issuer = new Issuer(s, s.logger);
    return { issuer, worker: new PendingWorker(s, issuer) };
  },
  started: async ({ issuer, worker }) => {
    await issuer.keys(); // the first start creates the key
    worker.start();
  },
  stopped: async ({ worker }) => worker.stop(),
  consumers: [
    // A course completed (with or without assessments) earns its certificate: queued here, issued by the worker
    // (the names come from other services, which a consumer's transaction may not call).
    on({
      name: 'course-completed',
      event: enrollmentEvents.courseCompleted,
      handle: async ({ payload: p, event, repo, afterCommit, deps }) => {
        await repo.queue(p.userId, p.courseId, new Date(event.occurredAt));
        afterCommit(() => deps.worker.kick());
      },
    }),
    // Erasure: no name and no signed document stay; every certificate is revoked (reason `erased`), so that the JWT
    // the learner may still hold verifies as revoked.
    on({
      name: 'user-deleted',
      event: userEvents.deleted,
      handle: async ({ payload: p, repo, emit }) => {
        await repo.deletePending(p.userId);
        for (const row of await repo.anonymise(p.userId, ERASED_NAME)) {
          if (row.revoked_at) continue;
          await repo.markRevoked(row.id, 'erased', true); // public: the name already says the learner is erased
          await repo.setStatusBit(row.status_index);
          await emit(credentialEvents.revoked, { userId: row.user_id, courseId: row.course_id, credentialId: row.id, reason: 'erased' }, row.user_id);
        }
        await emit(erasureReceipts.credentials, { requestId: p.requestId, userId: p.userId, service: 'credentials' }, p.userId);
      },
    }),
  ],
  handlers: {
    async issue({ input, call, uow, repo, deps: { issuer } }) {
      return issuer.issue({ call, uow, repo }, { userId: input.userId, courseId: input.courseId, completedAt: new Date(input.completedAt) });
    },
    async mine({ caller, repo, deps: { issuer } }) {
      return { items: (await repo.ofUser(caller.userId)).map((r) => summary(issuer, r)) };
    },
    async verify({ input, repo, deps: { issuer } }) {
      const parsed = credentialCode.safeParse(input.code);
      const row = parsed.success ? await repo.byCode(parsed.data) : undefined;
      if (!row) {
        return {
          status: 'unknown' as const,
          code: input.code,
          credentialId: null,
          learnerName: null,
          course: null,
          issuedAt: null,
          validUntil: null,
          issuer: null,
          revocationReason: null,
          checks: { signature: false, statusList: false },
        };
      }
      const v = await issuer.verify(row);
      return {
        status: v.status,
        code: row.code,
        credentialId: row.id,
        learnerName: row.learner_name,
        course: row.course_title,
        issuedAt: row.issued_at.toISOString(),
        validUntil: row.valid_until?.toISOString() ?? null,
        issuer: issuer.identity.name,
        // An admin's reason is theirs and the learner's unless the revocation made it public.
        revocationReason: v.status === 'revoked' && row.revocation_reason_public ? row.revocation_reason : null,
        checks: { signature: v.signature, statusList: v.statusList },
      };
    },
    async credential({ input, repo, deps: { issuer } }) {
      const row = await repo.byId(input.id);
      if (!row?.jwt) throw noSuchCredential();
      return { jwt: row.jwt, credential: issuer.decode(row.jwt) };
    },
    async pdf({ input, caller, can, repo, deps: { issuer } }) {
      const row = await repo.byId(input.id);
      // Someone else's certificate does not exist for the caller (admins excepted).
      if (!row || (row.user_id !== caller.userId && !can('users:manage'))) throw noSuchCredential();
      const bytes = await certificatePdf({
        learnerName: row.learner_name,
        courseTitle: row.course_title,
        issuerName: issuer.identity.name,
        issuedAt: row.issued_at,
        code: row.code,
        verifyUrl: issuer.urls.verify(row.code),
      });
      return { filename: `certificate-${row.code}.pdf`, contentType: 'application/pdf' as const, base64: Buffer.from(bytes).toString('base64') };
    },
    async revoke({ input, repo, uow, deps: { issuer } }) {
      const row = await repo.byId(input.id);
      if (!row) throw noSuchCredential();
      const revoked = await uow(async ({ repo: r, emit }) => {
        const done = await r.markRevoked(row.id, input.reason, input.reasonPublic);
        if (!done) throw new DomainError('CONFLICT', 'The certificate is already revoked', { credentialId: row.id });
        await r.setStatusBit(done.status_index);
        await emit(credentialEvents.revoked, { userId: done.user_id, courseId: done.course_id, credentialId: done.id, reason: input.reason }, done.user_id);
        return done;
      });
      return summary(issuer, revoked);
    },
    async didDocument({ deps: { issuer } }) {
      return issuer.didDocument();
    },
    async statusList({ deps: { issuer } }) {
      return issuer.statusList();
    },
    async privacyExport({ input, repo, deps: { issuer } }) {
      const rows = await repo.ofUser(input.userId);
      return { data: { credentials: rows.map((r) => ({ ...summary(issuer, r), credential: r.jwt })) } };
    },
  },
  dependencies: ['users', 'courses'],
});
