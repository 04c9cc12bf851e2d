import { notificationEvents, privacyEvents, privacyParticipants, type PrivacyRequest } from '@lms/contracts';
import { addToOutbox, detached, type Logger, type Runtime } from '@lms/runtime';
import type { Kysely } from 'kysely';
import { toProfile, toRequest, UsersRepository, type UsersDB } from './users.repository.js';

const MAX_ATTEMPTS = 5;

/**
 * Runs data exports in the background: asks every participant for what it holds about the user,
 * one internal call each, and stores the bundle with the request. Requests live in the database,
 * so a node that dies mid-export resumes the unfinished ones when it starts again.
 */
export class ExportJobs {
  private readonly running = new Set<string>();
  private stopped = false;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly db: Kysely<UsersDB>,
    private readonly runtime: Runtime,
    private readonly log: Logger,
  ) {}

  kick(id: string, delayMs = 0): void {
    if (this.stopped) return;
    // Not in the transaction of a unit of work that queued the job.
    const t = detached(() =>
      setTimeout(() => {
        this.timers.delete(t);
        void this.run(id);
      }, delayMs),
    );
    this.timers.add(t);
  }

  async resume(): Promise<void> {
    for (const r of await new UsersRepository(this.db).unfinished('export')) this.kick(r.id);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
  }

  private async run(id: string): Promise<void> {
    if (this.running.has(id) || this.stopped) return;
    this.running.add(id);
    const repo = new UsersRepository(this.db);
    try {
      const req = await repo.request(id);
      if (!req || req.kind !== 'export' || req.status === 'complete' || req.status === 'failed') return;
      const attempts = req.attempts + 1;
      await repo.setRequest(id, { status: 'running', attempts });
      try {
        const broker = this.runtime.broker;
        await broker.waitForServices([...privacyParticipants], 30_000);
        const parts: Record<string, 'pending' | 'done'> = { ...req.parts };
        const services: Record<string, unknown> = {};
        for (const svc of privacyParticipants) {
          const out = (await broker.call(`${svc}.privacyExport`, { userId: req.user_id }, { meta: { edge: false }, timeout: 30_000 })) as { data: unknown };
          services[svc] = out.data;
          parts[svc] = 'done';
          await repo.setRequest(id, { parts });
          this.log.info({ requestId: id, service: svc, done: Object.values(parts).filter((p) => p === 'done').length, of: privacyParticipants.length }, 'export progress');
        }
        const bundle = { format: 'lms-data-export/1', generatedAt: new Date().toISOString(), userId: req.user_id, services };
        const erased = await this.db.transaction().execute(async (trx) => {
          // The profile row is locked: an erasure that commits first is seen here, one that comes
          // after waits and then deletes this bundle with the others (UsersRepository.dropExports).
          const profile = await trx.selectFrom('users').selectAll().where('id', '=', req.user_id).forUpdate().executeTakeFirst();
          if (!profile || profile.status === 'erased') {
            await new UsersRepository(trx).setRequest(id, { status: 'failed', error: 'The user was erased' });
            return true;
          }
          const done = await new UsersRepository(trx).setRequest(id, { status: 'complete', result: bundle, complete: true, error: null });
          await addToOutbox(trx, privacyEvents.exported, { requestId: id, userId: req.user_id, by: req.requested_by, stage: 'completed' }, { key: req.user_id });
          if (done && profile && profile.status === 'active') {
            const p = toProfile(profile);
            await addToOutbox(trx, notificationEvents.requested, { userId: p.id, to: p.email, template: 'privacy_export_ready', data: { displayName: p.displayName, requestId: id } }, { key: p.id });
          }
          return false;
        });
        for (const r of this.runtime.relays) r.kick();
        this.log.info({ requestId: id }, erased ? 'export dropped: the user was erased' : 'export complete');
      } catch (err) {
        const last = attempts >= MAX_ATTEMPTS;
        await repo.setRequest(id, { status: last ? 'failed' : 'pending', error: String(err).slice(0, 500) });
        this.log.warn({ requestId: id, attempts, err: String(err) }, last ? 'export failed for good' : 'export failed; will retry');
        if (!last) this.kick(id, 1000 * 2 ** attempts);
      }
    } finally {
      this.running.delete(id);
    }
  }
}

export type { PrivacyRequest };
export { toRequest };
