import { usersInternal, type InboxItem } from '@lms/contracts';
import { PollingWorker, retryDelay } from '@lms/runtime';
import type { SmsProvider } from '../channels.js';
import type { NotificationsContext, WorkerEnv } from '../context.js';
import type { RequestRow } from '../db.js';
import { route, type Settings } from '../routing.js';
import { toItem } from '../views.js';

const ROUTE_BATCH = 50;

/**
 * Routes requests in batches of up to 50: reads the users' settings in one call (outside any transaction),
 * their push devices in one query, then in one transaction writes each request's in-app copy and one delivery
 * per channel the preferences allow (`route()`): queued now, queued for the end of quiet hours, or held for a
 * daily/weekly digest. A batch whose users cannot be read now is retried with backoff.
 */
export class RouteWorker extends PollingWorker<RequestRow[]> {
  constructor(
    private readonly s: NotificationsContext,
    private readonly env: WorkerEnv,
    private readonly sms: SmsProvider | undefined,
    private readonly kickDelivery: () => void,
    /** Tells the gateways (live streams) of a new in-app notification; best effort. */
    private readonly broadcast: (userId: string, item: InboxItem) => void,
  ) {
    super(s.logger, s.config.NOTIFY_POLL_MS, s.config.NOTIFY_CONCURRENCY);
  }

  protected async claim() {
    const due = await this.s.uow(({ repo }) => repo.requests.claimDue(ROUTE_BATCH));
    return due.length ? due : undefined;
  }

  protected async run(batch: RequestRow[]): Promise<void> {
    const userIds = [...new Set(batch.map((r) => r.user_id).filter((u): u is string => u !== null))];
    let settings = new Map<string, Settings>();
    if (userIds.length) {
      try {
        const found = await this.s.call(usersInternal.notificationSettingsMany, { ids: userIds });
        settings = new Map(found.items.map((s) => [s.id, s]));
      } catch (err) {
        const attempts = Math.max(...batch.map((r) => r.attempts)) + 1;
        await this.s.repo.requests.postpone(
          batch.map((r) => r.event_id),
          retryDelay(attempts, this.env.retry),
        );
        this.log.warn({ requests: batch.length, attempts, err: String(err) }, 'cannot read the recipients settings; will retry');
        return;
      }
    }
    const devices = await this.s.repo.push.countsOf(userIds);
    const smsReady = this.sms !== undefined;
    const publicUrl = this.env.publicUrl();
    const now = new Date();
    const digestHour = this.s.config.NOTIFY_DIGEST_HOUR;
    const plans = new Map(
      batch.map((r) => [
        r.event_id,
        route(
          r,
          r.user_id ? (settings.get(r.user_id) ?? null) : undefined,
          r.user_id ? (devices.get(r.user_id) ?? 0) : 0,
          smsReady,
          publicUrl,
          now,
          digestHour,
        ),
      ]),
    );
    // Requests about erased users are deleted, not kept as routed: they may hold the old address.
    const erased = batch.filter((r) => r.user_id && settings.get(r.user_id)?.status === 'erased').map((r) => r.event_id);
    const { wrote, queued } = await this.s.uow(async ({ repo }) => {
      await repo.requests.dropPending(erased);
      // Only what is still pending is routed here (another loop may have taken a request after its lease).
      const mine = await repo.requests.markRouted([...plans.keys()]);
      const routed = mine.flatMap((id) => plans.get(id) ?? []);
      const rows = routed.flatMap((p) => p.rows);
      await repo.deliveries.addPlanned(rows);
      const inserted = await repo.inbox.add(routed.flatMap((p) => (p.item ? [p.item] : [])));
      return { wrote: inserted, queued: rows.some((x) => x.status === 'queued') };
    });
    // Live and best effort: the inbox row is what lasts.
    for (const w of wrote) this.broadcast(w.user_id, toItem(w));
    if (queued) this.kickDelivery();
  }
}
