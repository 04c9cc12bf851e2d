import { createHash, randomUUID } from 'node:crypto';
import {
  defaultNotificationPreferences,
  enrollmentsInternal,
  mandatoryTypes,
  notificationBroadcasts,
  templateType,
  usersInternal,
  type DeliveryMode,
  type InboxItem,
  type NotificationPreferences,
  type NotificationTemplate,
} from '@lms/contracts';
import { createRateLimiter, dueRows, PollingWorker, type Logger, type RateLimiter, type Runtime } from '@lms/runtime';
import { sql, type Insertable, type Kysely } from 'kysely';
import { PermanentDeliveryError, pushAgent, type PushAgent, sendPush, smsProviderFromEnv, smsText, type ShortMessage, type SmsProvider } from './channels.js';
import { nextDigestAt, quietUntil } from './clock.js';
import type { AnnouncementRow, DeliveryRow, InboxRow, NotificationsDB, RequestRow } from './db.js';
import type { UnsubscribeSigner, Vapid } from './keys.js';
import { createMailer, type Mailer } from './mailer.js';
import { render } from './templates.js';

/** Templates that carry a secret (a link with a token) go by email only: never the inbox, a phone or a push service. */
export const EMAIL_ONLY: ReadonlySet<NotificationTemplate> = new Set(['email_verification', 'password_reset']);
const MAX_ATTEMPTS = () => Number(process.env.NOTIFY_MAX_ATTEMPTS ?? 6);
const DIGEST_HOUR = () => Number(process.env.NOTIFY_DIGEST_HOUR ?? 8);
export const publicUrlOf = (runtime: Runtime) => (process.env.PUBLIC_URL ?? `http://localhost:${runtime.config.port}`).replace(/\/$/, '');

/** Masks an address for logs and listings: `a***@example.org`, `+33******78`. */
export const masked = (to: string) => (to.includes('@') ? to.replace(/^(.).*@/, '$1***@') : to.startsWith('+') ? `${to.slice(0, 3)}${'*'.repeat(Math.max(0, to.length - 5))}${to.slice(-2)}` : to);

export const toItem = (r: InboxRow): InboxItem => ({ id: r.id, template: r.template, title: r.title, body: r.body, link: r.link, createdAt: r.created_at.toISOString(), readAt: r.read_at?.toISOString() ?? null });

/** A stable id from parts: the same announcement and learner always make the same request (idempotent fan-out). */
export function stableId(...parts: string[]): string {
  const h = createHash('sha256').update(parts.join('\u0000')).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

interface Settings {
  email: string;
  displayName: string;
  locale: string;
  timezone: string;
  status: string;
  preferences: NotificationPreferences;
}

/** A positive rate from the environment, or the default (0, negative or garbage would stall or spin the worker). */
const rate = (name: string, fallback: number) => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
};

const backoffMs = (attempts: number) => Math.min(600_000, 1000 * 2 ** (attempts - 1));

/** What routing one request decides: its deliveries and its in-app copy. */
interface Routed {
  rows: Array<Insertable<NotificationsDB['deliveries']>>;
  item?: Omit<InboxRow, 'created_at'>;
}

/**
 * Applies a user's preferences to one request (pure: no I/O). `settings` is undefined for a request without a
 * user, null for an account that is gone; `devices` is how many push subscriptions the user has.
 */
export function route(r: RequestRow, settings: Settings | null | undefined, devices: number, smsReady: boolean, publicUrl: string, now = new Date()): Routed {
  const template = r.template as NotificationTemplate;
  const type = template === 'digest' ? undefined : templateType[template];
  const mandatory = type !== undefined && mandatoryTypes.has(type);
  const out: Routed = { rows: [] };
  // An erased account gets nothing at all: a request about it that arrives after the erasure (another
  // stream, a slow outbox) may still carry the old address. Deactivated or unknown: only mandatory mail.
  if (r.user_id && settings?.status === 'erased') return out;
  if (r.user_id && !mandatory && settings?.status !== 'active') return out;
  const prefs = settings?.preferences ?? defaultNotificationPreferences;
  const modes = type ? prefs.types[type] : { email: 'immediately', inApp: 'never', push: 'never', sms: 'never' };
  const tz = settings?.timezone ?? 'UTC';
  const locale = settings?.locale ?? r.locale;
  const data: Record<string, string> = { ...(settings ? { displayName: settings.displayName } : {}), ...(r.data ?? {}) };
  const quiet = mandatory ? undefined : quietUntil(now, tz, prefs.quietHours);
  const plan = (channel: 'email' | 'push' | 'sms', recipient: string, mode: DeliveryMode) => {
    const base = { event_id: r.event_id, user_id: r.user_id, channel, template, recipient, provider_id: null, sent_at: null, attempts: 0, locale, announcement_id: r.announcement_id, digest_id: null };
    if (mode === 'never') return out.rows.push({ ...base, status: 'skipped', digest: null, data: null, last_error: 'turned off in the user preferences' });
    if (mode === 'immediately') return out.rows.push({ ...base, status: 'queued', digest: null, data: JSON.stringify(data), last_error: null, run_after: quiet ?? now });
    return out.rows.push({ ...base, status: 'held', digest: mode, data: JSON.stringify(data), last_error: null, run_after: nextDigestAt(now, tz, mode, DIGEST_HOUR()) });
  };
  const to = r.to ?? settings?.email;
  if (to) plan('email', to, mandatory ? 'immediately' : (modes.email as DeliveryMode));
  if (!r.user_id || EMAIL_ONLY.has(template)) return out;
  if (modes.push !== 'never' && devices > 0) plan('push', `${devices} device${devices === 1 ? '' : 's'}`, modes.push as DeliveryMode);
  if (modes.sms !== 'never' && prefs.smsNumber && smsReady) plan('sms', prefs.smsNumber, modes.sms as DeliveryMode);
  if (modes.inApp !== 'never') {
    const m = render(template, data, publicUrl, locale);
    out.item = { id: randomUUID(), event_id: r.event_id, user_id: r.user_id, template, title: m.subject, body: m.text, link: m.link ?? null, read_at: null };
  }
  return out;
}

const ROUTE_BATCH = 50;

/**
 * Routes requests in batches of up to 50: reads the users' settings in one call (outside any transaction),
 * their push devices in one query, then in one transaction writes each request's in-app copy and one delivery
 * per channel the preferences allow: queued now, queued for the end of quiet hours, or held for a daily/weekly
 * digest. A batch whose users cannot be read now is retried with backoff.
 */
export class RouteWorker extends PollingWorker<RequestRow[]> {
  constructor(
    private readonly db: Kysely<NotificationsDB>,
    private readonly runtime: Runtime,
    log: Logger,
    private readonly kickDelivery: () => void,
    private readonly sms: () => SmsProvider | undefined,
  ) {
    super(log, Number(process.env.NOTIFY_POLL_MS ?? 500), Math.floor(rate('NOTIFY_CONCURRENCY', 4)));
  }

  protected claim() {
    return this.db.transaction().execute(async (trx) => {
      const due = await dueRows(trx.selectFrom('requests').selectAll(), ['pending']).limit(ROUTE_BATCH).execute();
      if (!due.length) return undefined;
      await trx.updateTable('requests').set({ run_after: sql`now() + interval '2 minutes'` }).where('event_id', 'in', due.map((r) => r.event_id)).execute();
      return due;
    });
  }

  protected async run(batch: RequestRow[]): Promise<void> {
    const userIds = [...new Set(batch.map((r) => r.user_id).filter((u): u is string => u !== null))];
    let settings = new Map<string, Settings>();
    if (userIds.length) {
      try {
        const found = (await this.runtime.broker.call(usersInternal.notificationSettingsMany.action, { ids: userIds }, { meta: { edge: false } })) as { items: Array<Settings & { id: string }> };
        settings = new Map(found.items.map((s) => [s.id, s]));
      } catch (err) {
        const attempts = Math.max(...batch.map((r) => r.attempts)) + 1;
        await this.db.updateTable('requests').set({ attempts: sql`attempts + 1`, run_after: sql`now() + ${`${backoffMs(attempts)} milliseconds`}::interval` }).where('event_id', 'in', batch.map((r) => r.event_id)).execute();
        this.log.warn({ requests: batch.length, attempts, err: String(err) }, 'cannot read the recipients settings; will retry');
        return;
      }
    }
    const devices = new Map<string, number>();
    if (userIds.length) {
      const counts = await this.db.selectFrom('push_subscriptions').select(['user_id', (eb) => eb.fn.countAll<string>().as('n')]).where('user_id', 'in', userIds).groupBy('user_id').execute();
      for (const c of counts) devices.set(c.user_id, Number(c.n));
    }
    const smsReady = this.sms() !== undefined;
    const publicUrl = publicUrlOf(this.runtime);
    const now = new Date();
    const plans = new Map(batch.map((r) => [r.event_id, route(r, r.user_id ? (settings.get(r.user_id) ?? null) : undefined, r.user_id ? (devices.get(r.user_id) ?? 0) : 0, smsReady, publicUrl, now)]));
    // Requests about erased users are deleted, not kept as routed: they may hold the old address.
    const erased = batch.filter((r) => r.user_id && settings.get(r.user_id)?.status === 'erased').map((r) => r.event_id);
    const { wrote, queued } = await this.db.transaction().execute(async (trx) => {
      if (erased.length) await trx.deleteFrom('requests').where('event_id', 'in', erased).where('status', '=', 'pending').execute();
      // Only what is still pending is routed here (another loop may have taken a request after its lease).
      const mine = await trx.updateTable('requests').set({ status: 'routed', data: null }).where('event_id', 'in', [...plans.keys()]).where('status', '=', 'pending').returning('event_id').execute();
      const routed = mine.map((m) => plans.get(m.event_id)!);
      const rows = routed.flatMap((p) => p.rows);
      const items = routed.flatMap((p) => (p.item ? [p.item] : []));
      if (rows.length) await trx.insertInto('deliveries').values(rows).onConflict((oc) => oc.columns(['event_id', 'channel']).doNothing()).execute();
      const inserted = items.length ? await trx.insertInto('inbox').values(items).onConflict((oc) => oc.column('event_id').doNothing()).returningAll().execute() : [];
      return { wrote: inserted, queued: rows.some((x) => x.status === 'queued') };
    });
    // Live and best effort: the inbox row is what lasts.
    for (const w of wrote) void this.runtime.broker.broadcast(notificationBroadcasts.created.name, { userId: w.user_id, item: toItem(w) });
    if (queued) this.kickDelivery();
  }
}

/**
 * Lists an announcement's recipients a page at a time (from the enrollments service, outside any
 * transaction) and writes one request per learner, idempotently (a stable id per announcement and learner);
 * the cursor is kept, so a crash resumes where it stopped.
 */
export class FanOutWorker extends PollingWorker<AnnouncementRow> {
  constructor(
    private readonly db: Kysely<NotificationsDB>,
    private readonly runtime: Runtime,
    log: Logger,
    private readonly kickRouter: () => void,
  ) {
    super(log, Number(process.env.NOTIFY_POLL_MS ?? 500));
  }

  protected claim() {
    return this.db.transaction().execute(async (trx) => {
      const due = await dueRows(trx.selectFrom('announcements').selectAll(), ['fanning_out']).limit(1).executeTakeFirst();
      if (!due) return undefined;
      await trx.updateTable('announcements').set({ run_after: sql`now() + interval '2 minutes'` }).where('id', '=', due.id).execute();
      return due;
    });
  }

  protected async run(a: AnnouncementRow): Promise<void> {
    let page: { userIds: string[]; next: string | null };
    try {
      page = (await this.runtime.broker.call(enrollmentsInternal.learnerIds.action, { courseId: a.course_id, after: a.cursor ?? undefined, limit: 500 }, { meta: { edge: false } })) as typeof page;
    } catch (err) {
      await this.db.updateTable('announcements').set({ run_after: sql`now() + interval '5 seconds'` }).where('id', '=', a.id).execute();
      this.log.warn({ announcementId: a.id, err: String(err) }, 'cannot list the learners; will retry');
      return;
    }
    const template: NotificationTemplate = a.kind === 'course_updated' ? 'course_updated' : 'announcement';
    const data = JSON.stringify({ courseId: a.course_id, courseTitle: a.course_title, title: a.title, body: a.body });
    await this.db.transaction().execute(async (trx) => {
      let added = 0;
      if (page.userIds.length) {
        const r = await trx
          .insertInto('requests')
          .values(page.userIds.map((userId) => ({ event_id: stableId(a.id, userId), user_id: userId, to: null, template, locale: 'en', data, announcement_id: a.id })))
          .onConflict((oc) => oc.column('event_id').doNothing())
          .returning('event_id')
          .execute();
        added = r.length;
      }
      await trx
        .updateTable('announcements')
        .set({ cursor: page.next, recipients: sql`recipients + ${added}`, status: page.next ? 'fanning_out' : 'queued', run_after: sql`now()` })
        .where('id', '=', a.id)
        .execute();
    });
    this.log.info({ announcementId: a.id, listed: page.userIds.length, more: page.next !== null }, 'announcement recipients listed');
    this.kickRouter();
  }
}

/**
 * Assembles due digests: one user and channel at a time, every held message of theirs that is due goes
 * into one digest delivery, in one transaction. The user is claimed with a transaction-scoped advisory lock
 * (tried, never waited for: another node moves on to the next user), and the rows are re-read under it, so
 * with any number of nodes a held message is digested once and each user gets one digest per period.
 * (Row locks alone deadlock here: two nodes can each lock one of the same user's rows, then wait for the other's.)
 */
export class DigestWorker extends PollingWorker<number> {
  constructor(
    private readonly db: Kysely<NotificationsDB>,
    private readonly runtime: Runtime,
    log: Logger,
    private readonly kickDelivery: () => void,
  ) {
    super(log, Number(process.env.NOTIFY_DIGEST_POLL_MS ?? 60_000));
  }

  protected claim() {
    return this.db.transaction().execute(async (trx) => {
      // Users with due held messages, oldest first; take the first whose digest lock no other node holds.
      const candidates = await trx
        .selectFrom('deliveries')
        .select(['user_id', 'channel', (eb) => eb.fn.min('run_after').as('due')])
        .where('status', '=', 'held')
        .where('run_after', '<=', sql<Date>`now()`)
        .groupBy(['user_id', 'channel'])
        .orderBy('due')
        .limit(20)
        .execute();
      if (!candidates.length) return undefined;
      let first: (typeof candidates)[number] | undefined;
      for (const c of candidates) {
        const key = `digest:${c.user_id ?? ''}:${c.channel}`;
        const { rows } = await sql<{ ok: boolean }>`select pg_try_advisory_xact_lock(hashtextextended(${key}, 0)) as ok`.execute(trx);
        if (rows[0]?.ok) {
          first = c;
          break;
        }
      }
      if (!first) return undefined; // every due user is being digested by another node
      let q = trx.selectFrom('deliveries').selectAll().where('status', '=', 'held').where('run_after', '<=', sql<Date>`now()`).where('channel', '=', first.channel);
      q = first.user_id ? q.where('user_id', '=', first.user_id) : q.where('user_id', 'is', null);
      const held = await q.orderBy('run_after').forUpdate().execute();
      if (!held.length) return 0; // another node digested them meanwhile
      const last = held[held.length - 1]!;
      const items = held.map((h) => {
        const m = render(h.template as NotificationTemplate, h.data ?? {}, publicUrlOf(this.runtime), h.locale);
        return { title: m.subject, link: m.link ?? null };
      });
      const digest = await trx
        .insertInto('deliveries')
        .values({
          event_id: randomUUID(),
          user_id: last.user_id,
          channel: last.channel,
          template: 'digest',
          recipient: last.recipient,
          provider_id: null,
          sent_at: null,
          status: 'queued',
          attempts: 0,
          locale: last.locale,
          data: JSON.stringify({ displayName: last.data?.displayName ?? '', period: held.some((h) => h.digest === 'weekly') ? 'weekly' : 'daily', items: JSON.stringify(items) }),
          last_error: null,
          digest: null,
          digest_id: null,
          announcement_id: null,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      await trx
        .updateTable('deliveries')
        .set({ status: 'digested', digest_id: digest.id, data: null, updated_at: sql`now()` })
        .where('id', 'in', held.map((h) => h.id))
        .execute();
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

/**
 * Sends queued deliveries outside any transaction: claims one due row of a channel that is under its rate
 * (SKIP LOCKED, so any number of nodes), sends it, records the attempt. Rates (NOTIFY_RATE_EMAIL / _PUSH /
 * _SMS, messages per second) are counted in a one-second window shared by every node (Redis in mesh mode, the
 * process in embedded mode): a provider's account-wide limit holds however many nodes send. A claim over the
 * rate is rolled back and its channel paused until the window ends, so a slow channel never holds up the others. Failures back off exponentially
 * (2^n s, at most 10 min) and after NOTIFY_MAX_ATTEMPTS the delivery is `dead`; a permanent refusal (SMTP
 * 5xx, an SMS gateway's 4xx) is `bounced` at once. Dead and bounced deliveries wait for an operator's retry.
 * A crash between the hand-off and the record leaves the row `sending` until its lease ends: at least once.
 */
export class DeliveryWorker extends PollingWorker<DeliveryRow> {
  private mailer: Mailer | undefined;
  private push: PushAgent | undefined;
  /** Read at each claim: an operator can change a rate without a restart (e.g. from the REPL). */
  private rates(): Record<string, number> {
    return { email: rate('NOTIFY_RATE_EMAIL', 50), push: rate('NOTIFY_RATE_PUSH', 200), sms: rate('NOTIFY_RATE_SMS', 10) };
  }
  /** Channel → when its rate window ends (epoch ms), while it is full. */
  private readonly paused = new Map<string, number>();
  private limiter: Promise<RateLimiter> | undefined;
  private wake: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Kysely<NotificationsDB>,
    private readonly runtime: Runtime,
    log: Logger,
    private readonly signer: UnsubscribeSigner,
    private readonly vapid: () => Promise<Vapid>,
    readonly sms: () => SmsProvider | undefined = smsProviderFromEnv,
  ) {
    // Several sends in flight per node: a message spends most of its time waiting for the SMTP server or push service.
    super(log, Number(process.env.NOTIFY_POLL_MS ?? 500), Math.floor(rate('NOTIFY_CONCURRENCY', 4)));
  }

  private mail(): Mailer {
    return (this.mailer ??= createMailer({ smtpUrl: process.env.SMTP_URL || undefined, from: process.env.MAIL_FROM ?? 'LMS <no-reply@localhost>', dataDir: this.runtime.config.dataDir }));
  }

  override start(): void {
    if (!process.env.SMTP_URL && !this.runtime.config.dataDir.startsWith('memory:')) this.log.info(`no SMTP_URL: mail is written to ${this.runtime.config.dataDir}/mail`);
    super.start();
  }

  override stop(): void {
    super.stop();
    clearTimeout(this.wake);
    this.mailer?.close();
    this.push?.agent.destroy();
    void this.limiter?.then((l) => l.close());
  }

  private rateLimiter(): Promise<RateLimiter> {
    return (this.limiter ??= createRateLimiter(this.runtime.config, (err) => this.log.warn({ err: String(err) }, 'send-rate limiter unavailable; sending unthrottled')));
  }

  protected async claim() {
    const limiter = await this.rateLimiter();
    const rates = this.rates();
    for (;;) {
      const now = Date.now();
      const open = Object.keys(rates).filter((c) => (this.paused.get(c) ?? 0) <= now);
      const full = [...this.paused.values()].filter((t) => t > now);
      if (full.length) {
        // Some channel is at its rate: look again when its window ends (not at the next poll).
        clearTimeout(this.wake);
        this.wake = setTimeout(() => this.kick(), Math.max(10, Math.min(...full) - now)).unref();
      }
      if (!open.length) return undefined;
      const claimed = await this.db.transaction().execute(async (trx) => {
        const due = await dueRows(trx.selectFrom('deliveries').selectAll().where('channel', 'in', open), ['queued', 'sending']).limit(1).executeTakeFirst();
        if (!due) return undefined;
        // Counted only for a row that will be sent: an idle poll uses none of the rate.
        const window = await limiter.hit(`notify:${due.channel}`, rates[due.channel]!, 1000);
        if (!window.allowed) {
          this.paused.set(due.channel, now + Math.max(10, window.resetMs));
          return 'over' as const; // the row stays as it was
        }
        await trx.updateTable('deliveries').set({ status: 'sending', run_after: sql`now() + interval '5 minutes'`, updated_at: sql`now()` }).where('id', '=', due.id).execute();
        return due;
      });
      if (claimed !== 'over') return claimed;
    }
  }

  private short(d: DeliveryRow): ShortMessage {
    const m = render(d.template as NotificationTemplate, d.data ?? {}, publicUrlOf(this.runtime), d.locale);
    const body = d.template === 'announcement' ? (d.data?.body ?? m.text) : m.text;
    return { title: m.subject, body: body.length > 400 ? `${body.slice(0, 397)}...` : body, url: m.link };
  }

  /** Hands a message to its channel; answers the provider id, or a reason to skip. */
  private async send(d: DeliveryRow): Promise<{ providerId: string } | { skipped: string }> {
    const template = d.template as NotificationTemplate;
    if (d.channel === 'email') {
      const message = render(template, d.data ?? {}, publicUrlOf(this.runtime), d.locale);
      // Optional mail carries a one-click unsubscribe (RFC 8058); security mail and digests do not.
      const type = template === 'digest' ? undefined : templateType[template];
      if (d.user_id && type && !mandatoryTypes.has(type)) {
        const url = `${publicUrlOf(this.runtime)}/api/v1/notifications/unsubscribe?token=${encodeURIComponent(await this.signer.token(d.user_id, type))}`;
        message.headers = { 'List-Unsubscribe': `<${url}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' };
      }
      return { providerId: await this.mail().send(d.recipient, message) };
    }
    if (d.channel === 'sms') {
      const provider = this.sms();
      if (!provider) return { skipped: 'no SMS provider configured' };
      return { providerId: await provider.send(d.recipient, smsText(this.short(d))) };
    }
    // Web push: every device of the user; one that is gone for good is forgotten.
    const subs = await this.db.selectFrom('push_subscriptions').selectAll().where('user_id', '=', d.user_id ?? '').execute();
    if (!subs.length) return { skipped: 'no push subscription' };
    const vapid = await this.vapid();
    const message = this.short(d);
    const outcomes = await Promise.all(subs.map((s) => sendPush(s, message, vapid, (this.push ??= pushAgent()))));
    const ok = subs.filter((_, i) => outcomes[i]!.ok).map((s) => s.id);
    const gone = subs.filter((_, i) => { const o = outcomes[i]!; return !o.ok && o.gone; }).map((s) => s.id);
    if (gone.length) await this.db.deleteFrom('push_subscriptions').where('id', 'in', gone).execute();
    if (ok.length) {
      await this.db.updateTable('push_subscriptions').set({ last_success_at: sql`now()` }).where('id', 'in', ok).execute();
      return { providerId: `${ok.length}/${subs.length} devices` };
    }
    if (gone.length === subs.length) return { skipped: 'every push subscription has expired' };
    const first = outcomes.find((o) => !o.ok) as { error: string };
    throw new Error(first.error);
  }

  protected async run(d: DeliveryRow): Promise<void> {
    const attempts = d.attempts + 1;
    try {
      const r = await this.send(d);
      await this.db.transaction().execute(async (trx) => {
        // Sent: the data (it may hold a token) is no longer needed.
        const u =
          'skipped' in r
            ? await trx.updateTable('deliveries').set({ status: 'skipped', attempts, data: null, last_error: r.skipped, updated_at: sql`now()` }).where('id', '=', d.id).executeTakeFirst()
            : await trx.updateTable('deliveries').set({ status: 'sent', attempts, provider_id: r.providerId, sent_at: sql`now()`, data: null, last_error: null, updated_at: sql`now()` }).where('id', '=', d.id).executeTakeFirst();
        // The user was erased while this was in flight: their deliveries are gone, and stay gone.
        if (Number(u.numUpdatedRows) === 0) return;
        await trx.insertInto('delivery_attempts').values({ event_id: d.event_id, delivery_id: d.id, outcome: 'skipped' in r ? 'skipped' : 'sent', error: 'skipped' in r ? r.skipped : null }).execute();
      });
      if (!('skipped' in r)) this.log.info({ channel: d.channel, template: d.template, to: masked(d.recipient), deliveryId: d.id, attempts }, `${d.channel} sent`);
    } catch (err) {
      const error = String((err as Error).message ?? err).slice(0, 300);
      const code = (err as { responseCode?: number }).responseCode;
      const bounced = err instanceof PermanentDeliveryError || (typeof code === 'number' && code >= 500);
      const dead = !bounced && attempts >= MAX_ATTEMPTS();
      await this.db.transaction().execute(async (trx) => {
        const u = await trx
          .updateTable('deliveries')
          .set({ status: bounced ? 'bounced' : dead ? 'dead' : 'queued', attempts, last_error: error, run_after: sql`now() + ${`${backoffMs(attempts)} milliseconds`}::interval`, updated_at: sql`now()` })
          .where('id', '=', d.id)
          .executeTakeFirst();
        if (Number(u.numUpdatedRows) === 0) return; // erased meanwhile (see above)
        await trx.insertInto('delivery_attempts').values({ event_id: d.event_id, delivery_id: d.id, outcome: bounced ? 'bounced' : 'failed', error }).execute();
      });
      this.log.warn({ channel: d.channel, template: d.template, to: masked(d.recipient), attempts, bounced, dead, err: error }, bounced ? `${d.channel} bounced` : dead ? `${d.channel} delivery dead` : `${d.channel} delivery failed; will retry`);
    }
  }
}
