import { errorCode, PollingWorker, retryDelay, retryPolicies, type ServiceContext } from '@lms/runtime';
import type { CredentialsEnv } from './config.js';
import type { CredentialsDB, CredentialsRepository, PendingRow } from './credentials.repository.js';
import type { Issuer } from './issuer.service.js';

/** Background jobs' policy: after its last try a certificate still to issue is left `failed` (an operator looks at the log). */
const policy = retryPolicies.jobs;

/**
 * Issues the certificates of completed courses (`enrollment.course_completed`): the consumer queues them in its own
 * transaction; this reads the learner's and the course's names (remote calls, outside any transaction) and issues
 * through the same idempotent path as `credentialsInternal.issue`.
 */
export class PendingWorker extends PollingWorker<PendingRow> {
  constructor(
    private readonly s: ServiceContext<CredentialsDB, CredentialsRepository, CredentialsEnv>,
    private readonly issuer: Issuer,
  ) {
    super(s.logger, s.config.CREDENTIALS_POLL_MS);
  }

  protected claim() {
    return this.s.uow(({ repo }) => repo.claimPending());
  }

  protected async run(job: PendingRow): Promise<void> {
    const where = { userId: job.user_id, courseId: job.course_id };
    try {
      const r = await this.issuer.issue(this.s, { ...where, completedAt: job.completed_at });
      await this.s.repo.donePending(job.user_id, job.course_id);
      this.log.info({ ...where, credentialId: r.credentialId, created: r.created }, 'certificate of a completed course issued');
    } catch (err) {
      const code = errorCode(err);
      if (code === 'USER_NOT_FOUND' || code === 'COURSE_NOT_FOUND') {
        await this.s.repo.donePending(job.user_id, job.course_id);
        this.log.warn({ ...where, code }, 'no certificate: the learner or the course is gone');
        return;
      }
      const tries = job.tries + 1;
      await this.s.repo.postponePending(job.user_id, job.course_id, retryDelay(tries, policy), tries >= policy.maxAttempts);
      this.log.warn({ ...where, tries, err: String(err) }, 'certificate not issued yet; will retry');
    }
  }
}
