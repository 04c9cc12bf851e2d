import { mandatoryTypes, templateType, type NotificationTemplate } from '@lms/contracts';
import { createRateLimiter, mayRetry, PollingWorker, retryDelay, type RateLimiter } from '@lms/runtime';
import { PermanentDeliveryError, pushAgent, sendPush, smsText, type PushAgent, type ShortMessage, type SmsProvider } from '../channels.js';
import type { NotificationsContext, WorkerEnv } from '../context.js';
import type { DeliveryRow } from '../db.js';
import type { UnsubscribeSigner, Vapid } from '../keys.js';
import { createMailer, type Mailer } from '../mailer.js';
import type { DeliveryOutcome } from '../repository/deliveries.repository.js';
import { render } from '../templates.js';
import { masked } from '../views.js';

export type Channel = 'email' | 'push' | 'sms';

/**
 * Sends queued deliveries outside any transaction: claims one due row of a channel that is under its rate
 * (SKIP LOCKED, so any number of nodes), sends it, records the attempt. Rates (NOTIFY_RATE_EMAIL / _PUSH /
 * _SMS, messages per second) are counted in a one-second window shared by every node (Redis in mesh mode, the
 * process in embedded mode): a provider's account-wide limit holds however many nodes send. A claim over the
 * rate is rolled back and its channel paused until the window ends, so a slow channel never holds up the others.
 * Failures back off (`retryPolicies.deliveries`: 1 s, 2 s, 4 s… at most 10 min) and after NOTIFY_MAX_ATTEMPTS the
 * delivery is `dead`; a permanent refusal (SMTP 5xx, an SMS gateway's 4xx) is `bounced` at once. Dead and bounced
 * deliveries wait for an operator's retry. A crash between the hand-off and the record leaves the row `sending`
 * until its lease ends: at least once.
 */
export class DeliveryWorker extends PollingWorker<DeliveryRow> {
  private mailer: Mailer | undefined;
  private push: PushAgent | undefined;
  /** Messages per second per channel; read at each claim, so an operator can change one without a restart (`setRate`). */
  private readonly rates: Record<Channel, number>;
  /** Channel → when its rate window ends (epoch ms), while it is full. */
  private readonly paused = new Map<string, number>();
  private limiter: Promise<RateLimiter> | undefined;
  private wake: NodeJS.Timeout | undefined;

  constructor(
    private readonly s: NotificationsContext,
    private readonly env: WorkerEnv,
    private readonly signer: UnsubscribeSigner,
    private readonly vapid: () => Promise<Vapid>,
    private readonly sms: SmsProvider | undefined,
  ) {
    // Several sends in flight per node: a message spends most of its time waiting for the SMTP server or push service.
    super(s.logger, s.config.NOTIFY_POLL_MS, s.config.NOTIFY_CONCURRENCY);
    this.rates = { email: s.config.NOTIFY_RATE_EMAIL, push: s.config.NOTIFY_RATE_PUSH, sms: s.config.NOTIFY_RATE_SMS };
  }

  /** Changes a channel's rate (messages per second for the whole mesh) on this node, from the next claim on. */
  setRate(channel: Channel, perSecond: number): void {
    if (!(Number.isFinite(perSecond) && perSecond > 0)) throw new RangeError('a rate is a positive number of messages per second');
    this.rates[channel] = perSecond;
  }

  private mail(): Mailer {
    return (this.mailer ??= createMailer({ smtpUrl: this.s.config.SMTP_URL, from: this.s.config.MAIL_FROM, dataDir: this.s.runtime.config.dataDir }));
  }

  override start(): void {
    const dataDir = this.s.runtime.config.dataDir;
    if (!this.s.config.SMTP_URL && !dataDir.startsWith('memory:')) this.log.info(`no SMTP_URL: mail is written to ${dataDir}/mail`);
    super.start();
  }

  override async stop(): Promise<void> {
    clearTimeout(this.wake);
    // The sends in hand finish before their mailer and push agent close.
    await super.stop();
    this.mailer?.close();
    this.push?.agent.destroy();
    void this.limiter?.then((l) => l.close());
  }

  private rateLimiter(): Promise<RateLimiter> {
    return (this.limiter ??= createRateLimiter(this.s.runtime.config, (err) =>
      this.log.warn({ err: String(err) }, 'send-rate limiter unavailable; sending unthrottled'),
    ));
  }

  protected async claim() {
    const limiter = await this.rateLimiter();
    const rates = { ...this.rates };
    for (;;) {
      const now = Date.now();
      const open = (Object.keys(rates) as Channel[]).filter((c) => (this.paused.get(c) ?? 0) <= now);
      const full = [...this.paused.values()].filter((t) => t > now);
      if (full.length) {
        // Some channel is at its rate: look again when its window ends (not at the next poll).
        clearTimeout(this.wake);
        this.wake = setTimeout(() => this.kick(), Math.max(10, Math.min(...full) - now)).unref();
      }
      if (!open.length) return undefined;
      const claimed = await this.s.uow(async ({ repo }) => {
        const due = await repo.deliveries.nextDue(open);
        if (!due) return undefined;
        // Counted only for a row that will be sent: an idle poll uses none of the rate.
        const window = await limiter.hit(`notify:${due.channel}`, rates[due.channel as Channel], 1000);
        if (!window.allowed) {
          this.paused.set(due.channel, now + Math.max(10, window.resetMs));
          return 'over' as const; // the row stays as it was
        }
        await repo.deliveries.lease(due.id);
        return due;
      });
      if (claimed !== 'over') return claimed;
    }
  }

  private short(d: DeliveryRow): ShortMessage {
    const m = render(d.template as NotificationTemplate, d.data ?? {}, this.env.publicUrl(), d.locale);
    const body = d.template === 'announcement' ? (d.data?.body ?? m.text) : m.text;
    return { title: m.subject, body: body.length > 400 ? `${body.slice(0, 397)}...` : body, url: m.link };
  }

  /** Hands a message to its channel; answers the provider id, or a reason to skip. */
  private async send(d: DeliveryRow): Promise<{ providerId: string } | { skipped: string }> {
    const template = d.template as NotificationTemplate;
    if (d.channel === 'email') {
      const message = render(template, d.data ?? {}, this.env.publicUrl(), d.locale);
      // Optional mail carries a one-click unsubscribe (RFC 8058); security mail and digests do not.
      const type = template === 'digest' ? undefined : templateType[template];
      if (d.user_id && type && !mandatoryTypes.has(type)) {
        const url = `${this.env.publicUrl()}/api/v1/notifications/unsubscribe?token=${encodeURIComponent(await this.signer.token(d.user_id, type))}`;
        message.headers = { 'List-Unsubscribe': `<${url}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' };
      }
      return { providerId: await this.mail().send(d.recipient, message) };
    }
    if (d.channel === 'sms') {
      if (!this.sms) return { skipped: 'no SMS provider configured' };
      return { providerId: await this.sms.send(d.recipient, smsText(this.short(d))) };
    }
    // Web push: every device of the user; one that is gone for good is forgotten.
    const subs = await this.s.repo.push.ofUser(d.user_id ?? '');
    if (!subs.length) return { skipped: 'no push subscription' };
    const vapid = await this.vapid();
    const message = this.short(d);
    const agent = (this.push ??= pushAgent({ allowPrivate: this.s.config.PUSH_ALLOW_PRIVATE, caFile: this.s.config.PUSH_CA_FILE }));
    const outcomes = await Promise.all(subs.map(async (s) => ({ id: s.id, o: await sendPush(s, message, vapid, agent) })));
    const ok = outcomes.filter((x) => x.o.ok).map((x) => x.id);
    const gone = outcomes.filter((x) => !x.o.ok && x.o.gone).map((x) => x.id);
    await this.s.repo.push.forget(gone);
    if (ok.length) {
      await this.s.repo.push.markSucceeded(ok);
      return { providerId: `${ok.length}/${subs.length} devices` };
    }
    if (gone.length === subs.length) return { skipped: 'every push subscription has expired' };
    const first = outcomes.map((x) => x.o).find((o) => !o.ok);
    throw new Error(first && !first.ok ? first.error : 'push failed');
  }

  protected async run(d: DeliveryRow): Promise<void> {
    const attempts = d.attempts + 1;
    try {
      const r = await this.send(d);
      const outcome: DeliveryOutcome = 'skipped' in r ? { outcome: 'skipped', reason: r.skipped } : { outcome: 'sent', providerId: r.providerId };
      // The user may have been erased while this was in flight: then their deliveries are gone, and stay gone.
      await this.s.uow(({ repo }) => repo.deliveries.record(d, attempts, outcome));
      if (!('skipped' in r))
        this.log.info({ channel: d.channel, template: d.template, to: masked(d.recipient), deliveryId: d.id, attempts }, `${d.channel} sent`);
    } catch (err) {
      const error = String((err as Error).message ?? err).slice(0, 300);
      const code = (err as { responseCode?: number }).responseCode;
      const bounced = err instanceof PermanentDeliveryError || (typeof code === 'number' && code >= 500);
      const dead = !bounced && !mayRetry(attempts, this.env.retry);
      const outcome: DeliveryOutcome = {
        outcome: bounced ? 'bounced' : 'failed',
        status: bounced ? 'bounced' : dead ? 'dead' : 'queued',
        error,
        retryInMs: retryDelay(attempts, this.env.retry),
      };
      await this.s.uow(({ repo }) => repo.deliveries.record(d, attempts, outcome));
      this.log.warn(
        { channel: d.channel, template: d.template, to: masked(d.recipient), attempts, bounced, dead, err: error },
        bounced ? `${d.channel} bounced` : dead ? `${d.channel} delivery dead` : `${d.channel} delivery failed; will retry`,
      );
    }
  }
}
