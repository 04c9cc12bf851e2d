import type { NotificationTemplate } from '@lms/contracts';
import { PollingWorker } from '@lms/runtime';
import type { NotificationsContext, WorkerEnv } from '../context.js';
import { render } from '../templates.js';

/**
 * Assembles due digests: one user and channel at a time, every held message of theirs that is due goes
 * into one digest delivery, in one transaction. The user is claimed with a transaction-scoped advisory lock
 * (tried, never waited for: another node moves on to the next user), and the rows are re-read under it, so
 * with any number of nodes a held message is digested once and each user gets one digest per period.
 * (Row locks alone deadlock here: two nodes can each lock one of the same user's rows, then wait for the other's.)
 */
export class DigestWorker extends PollingWorker<number> {
  constructor(
    private readonly s: NotificationsContext,
    private readonly env: WorkerEnv,
    private readonly kickDelivery: () => void,
  ) {
    super(s.logger, s.config.NOTIFY_DIGEST_POLL_MS);
  }

  protected claim() {
    return this.s.uow(async ({ repo }) => {
      // Users with due held messages, oldest first; take the first whose digest lock no other node holds.
      let first: { user_id: string | null; channel: string } | undefined;
      for (const c of await repo.digests.dueUsers(20)) {
        if (await repo.digests.tryLock(c.user_id, c.channel)) {
          first = c;
          break;
        }
      }
      if (!first) return undefined; // nothing due, or every due user is being digested by another node
      const held = await repo.digests.dueHeld(first.user_id, first.channel);
      const last = held.at(-1);
      if (!last) return 0; // another node digested them meanwhile
      const items = held.map((h) => {
        const m = render(h.template as NotificationTemplate, h.data ?? {}, this.env.publicUrl(), h.locale);
        return { title: m.subject, link: m.link ?? null };
      });
      const period = held.some((h) => h.digest === 'weekly') ? 'weekly' : 'daily';
      await repo.digests.digest(held, last, { displayName: last.data?.displayName ?? '', period, items: JSON.stringify(items) });
      return held.length;
    });
  }

  /** Assembles every due digest now (operators, tests); answers how many held messages went into digests. */
  async assembleDue(): Promise<number> {
    let total = 0;
    for (let n = await this.claim(); n !== undefined; n = await this.claim()) {
      total += n;
      await this.run(n);
    }
    return total;
  }

  protected async run(n: number): Promise<void> {
    if (n > 0) {
      this.log.info({ messages: n }, 'digest assembled');
      this.kickDelivery();
    }
  }
}
