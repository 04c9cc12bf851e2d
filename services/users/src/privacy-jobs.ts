import { notificationEvents, privacyEvents, privacyExportContract, privacyParticipants, type PrivacyRequest } from '@lms/contracts';
import { afterHold, detached, errInfo, isOutage, mayRetry, retryDelay, retryPolicies, type ServiceContext } from '@lms/runtime';
import { toProfile, toRequest, type UsersDB, type UsersRepository } from './users.repository.js';

/** How long the export waits for every participant to be reachable before it counts as a failed attempt. */
const PARTICIPANTS_WAIT_MS = 30_000;

/**
 * Runs data exports in the background: asks every participant for what it holds about the user,
 * one internal call each, and stores the bundle with the request. Requests live in the database,
 * so a node that dies mid-export resumes the unfinished ones when it starts again. A failed attempt
 * is retried with the runtime's policy for background jobs (`retryPolicies.jobs`).
 */
export class ExportJobs {
  private readonly running = new Set<string>();
  private stopped = false;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly s: Pick<ServiceContext<UsersDB, UsersRepository>, 'repo' | 'uow' | 'call' | 'logger' | 'runtime'>,
    private readonly policy = retryPolicies.jobs,
  ) {}

  kick(id: string, delayMs = 0): void {
    if (this.stopped) return;
    // Not in the transaction of a unit of work that queued the job, and after a unit the request holds open commits.
    afterHold(() => {
      const t = detached(() =>
        setTimeout(() => {
          this.timers.delete(t);
          void this.run(id).catch((err: unknown) => {
            // The database went away before the run could record anything (or its failure): nothing would try again
            // before the next start, so try again once it may be back. Anything else is logged, not left unhandled.
            if (isOutage(err)) return this.kick(id, retryDelay(1, this.policy));
            this.s.logger.error({ requestId: id, err: errInfo(err) }, 'export run failed');
          });
        }, delayMs),
      );
      this.timers.add(t);
    });
  }

  async resume(): Promise<void> {
    for (const r of await this.s.repo.unfinished('export')) this.kick(r.id);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
  }

  private async run(id: string): Promise<void> {
    if (this.running.has(id) || this.stopped) return;
    this.running.add(id);
    const { repo, logger } = this.s;
    try {
      const req = await repo.request(id);
      if (!req || req.kind !== 'export' || req.status === 'complete' || req.status === 'failed') return;
      const attempts = req.attempts + 1;
      await repo.setRequest(id, { status: 'running', attempts });
      try {
        await this.s.runtime.broker.waitForServices([...privacyParticipants], PARTICIPANTS_WAIT_MS);
        const parts: Record<string, 'pending' | 'done'> = { ...req.parts };
        const services: Record<string, unknown> = {};
        for (const svc of privacyParticipants) {
          const out = await this.s.call(privacyExportContract(svc).privacyExport, { userId: req.user_id }, { timeout: 30_000 });
          services[svc] = out.data;
          parts[svc] = 'done';
          await repo.setRequest(id, { parts });
          logger.info(
            { requestId: id, service: svc, done: Object.values(parts).filter((p) => p === 'done').length, of: privacyParticipants.length },
            'export progress',
          );
        }
        const bundle = { format: 'lms-data-export/1', generatedAt: new Date().toISOString(), userId: req.user_id, services };
        const erased = await this.s.uow(async ({ repo, emit }) => {
          // The profile row is locked: an erasure that commits first is seen here, one that comes
          // after waits and then deletes this bundle with the others (UsersRepository.dropExports).
          const profile = await repo.byIdForUpdate(req.user_id);
          if (!profile || profile.status === 'erased') {
            await repo.setRequest(id, { status: 'failed', error: 'The user was erased' });
            return true;
          }
          const done = await repo.setRequest(id, { status: 'complete', result: bundle, complete: true, error: null });
          await emit(privacyEvents.exported, { requestId: id, userId: req.user_id, by: req.requested_by, stage: 'completed' }, req.user_id);
          if (done && profile.status === 'active') {
            const p = toProfile(profile);
            await emit(
              notificationEvents.requested,
              { userId: p.id, to: p.email, template: 'privacy_export_ready', data: { displayName: p.displayName, requestId: id } },
              p.id,
            );
          }
          return false;
        });
        logger.info({ requestId: id }, erased ? 'export dropped: the user was erased' : 'export complete');
      } catch (err) {
        const again = mayRetry(attempts, this.policy);
        await repo.setRequest(id, { status: again ? 'pending' : 'failed', error: String(err).slice(0, 500) });
        logger.warn({ requestId: id, attempts, err: errInfo(err) }, again ? 'export failed; will retry' : 'export failed for good');
        if (again) this.kick(id, retryDelay(attempts, this.policy));
      }
    } finally {
      this.running.delete(id);
    }
  }
}

export type { PrivacyRequest };
export { toRequest };
