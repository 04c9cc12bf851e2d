import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import {
  DomainError,
  notificationBroadcasts,
  notificationEvents,
  notifications,
  privacyEvents,
  privacyExportContract,
  notificationTypes,
  templateType,
  transactionalTemplates,
  userEvents,
  usersInternal,
  type InboxItem,
  type NotificationTemplate,
} from '@lms/contracts';
import { addToOutbox, consumer, decodeCursor, defineService, encodeCursor, keysetPage, PollingWorker, type Logger, type Runtime } from '@lms/runtime';
import { sql, type ColumnType, type Kysely, type Selectable, type Transaction } from 'kysely';
import { createMailer, type Mailer } from './mailer.js';
import * as m0 from './migrations/20261124200000_notifications.js';
import * as m1 from './migrations/20261124270000_delivery.js';
import * as m2 from './migrations/20261124280000_keys.js';
import { render } from './templates.js';

export interface NotificationsDB {
  deliveries: {
    event_id: string;
    user_id: string | null;
    channel: string;
    template: string;
    recipient: string;
    provider_id: string | null;
    sent_at: Date | null;
    status: ColumnType<string, string | undefined, string>;
    attempts: ColumnType<number, number | undefined, number>;
    run_after: ColumnType<Date, undefined, unknown>;
    last_error: string | null;
    locale: ColumnType<string, string | undefined, string>;
    data: ColumnType<Record<string, string> | null, string | null, string | null>;
    updated_at: ColumnType<Date, undefined, unknown>;
  };
  delivery_attempts: { id: ColumnType<string, undefined, never>; event_id: string; at: ColumnType<Date, undefined, never>; outcome: string; error: string | null };
  keys: { id: number; key: string };
  inbox: { id: string; event_id: string; user_id: string; template: string; title: string; body: string; link: string | null; created_at: ColumnType<Date, undefined, never>; read_at: Date | null };
}
type InboxRow = Selectable<NotificationsDB['inbox']>;

/** Templates that carry a secret (a link with a token) never go to the in-app inbox. */
const EMAIL_ONLY: ReadonlySet<NotificationTemplate> = new Set(['email_verification', 'password_reset']);
const MAX_ATTEMPTS = () => Number(process.env.NOTIFY_MAX_ATTEMPTS ?? 6);
const publicUrlOf = (runtime: Runtime) => process.env.PUBLIC_URL ?? `http://localhost:${runtime.config.port}`;

/** Masks an address for logs and listings: `a***@example.org`. */
const masked = (to: string) => to.replace(/^(.).*@/, '$1***@');

const toItem = (r: InboxRow): InboxItem => ({ id: r.id, template: r.template, title: r.title, body: r.body, link: r.link, createdAt: r.created_at.toISOString(), readAt: r.read_at?.toISOString() ?? null });

/**
 * Sends queued email deliveries outside any transaction: claims due rows with SKIP LOCKED (any number
 * of nodes), sends, records the attempt; failures back off exponentially (2^n s, at most 10 min) and,
 * after NOTIFY_MAX_ATTEMPTS, the delivery is `dead` until an operator retries it. A crash between the
 * SMTP hand-off and the record leaves the row `sending` until its lock expires: at least once.
 */
class DeliveryWorker extends PollingWorker<Selectable<NotificationsDB['deliveries']>> {
  private mailer: Mailer | undefined;

  constructor(
    private readonly db: Kysely<NotificationsDB>,
    private readonly runtime: Runtime,
    log: Logger,
    private readonly signer: UnsubscribeSigner,
  ) {
    super(log, Number(process.env.NOTIFY_POLL_MS ?? 500));
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
    this.mailer?.close();
  }

  protected claim() {
    return this.db.transaction().execute(async (trx) => {
      const due = await trx
        .selectFrom('deliveries')
        .selectAll()
        .where('status', 'in', ['queued', 'sending'])
        .where('run_after', '<=', sql<Date>`now()`)
        .orderBy('run_after')
        .limit(1)
        .forUpdate()
        .skipLocked()
        .executeTakeFirst();
      if (!due) return undefined;
      await trx.updateTable('deliveries').set({ status: 'sending', run_after: sql`now() + interval '5 minutes'`, updated_at: sql`now()` }).where('event_id', '=', due.event_id).execute();
      return due;
    });
  }

  protected async run(d: Selectable<NotificationsDB['deliveries']>): Promise<void> {
    const attempts = d.attempts + 1;
    try {
      // The user's language and choices, as they are now (the sender may not know them).
      const template = d.template as NotificationTemplate;
      let locale = d.locale;
      if (d.user_id) {
        const s = await this.runtime.broker
          .call(usersInternal.notificationSettings.action, { id: d.user_id }, { meta: { edge: false } })
          .catch(() => undefined) as { locale: string; preferences: Record<string, { email: boolean }> } | undefined;
        if (s) locale = s.locale;
        const type = templateType[template];
        // Security messages are always sent; the rest follow the user's per-type email switch.
        if (s && type && !transactionalTemplates.has(template) && s.preferences[type]?.email === false) {
          await this.db.updateTable('deliveries').set({ status: 'skipped', attempts, data: null, last_error: 'turned off in the user preferences', updated_at: sql`now()` }).where('event_id', '=', d.event_id).execute();
          return;
        }
      }
      const message = render(template, d.data ?? {}, publicUrlOf(this.runtime), locale);
      // Optional mail carries a one-click unsubscribe (RFC 8058); security mail does not.
      const type = templateType[template];
      if (d.user_id && type && !transactionalTemplates.has(template)) {
        const url = `${publicUrlOf(this.runtime).replace(/\/$/, '')}/api/v1/notifications/unsubscribe?token=${encodeURIComponent(await this.signer.token(d.user_id, type))}`;
        message.headers = { 'List-Unsubscribe': `<${url}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' };
      }
      const providerId = await this.mail().send(d.recipient, message);
      await this.db.transaction().execute(async (trx) => {
        // Sent: the data (it may hold a token) is no longer needed.
        await trx.updateTable('deliveries').set({ status: 'sent', attempts, provider_id: providerId, sent_at: sql`now()`, data: null, last_error: null, updated_at: sql`now()` }).where('event_id', '=', d.event_id).execute();
        await trx.insertInto('delivery_attempts').values({ event_id: d.event_id, outcome: 'sent', error: null }).execute();
      });
      this.log.info({ template: d.template, to: masked(d.recipient), eventId: d.event_id, attempts }, 'email sent');
    } catch (err) {
      const error = String((err as Error).message ?? err).slice(0, 300);
      const dead = attempts >= MAX_ATTEMPTS();
      const delayMs = Math.min(600_000, 1000 * 2 ** (attempts - 1));
      await this.db.transaction().execute(async (trx) => {
        await trx
          .updateTable('deliveries')
          .set({ status: dead ? 'dead' : 'queued', attempts, last_error: error, run_after: sql`now() + ${`${delayMs} milliseconds`}::interval`, updated_at: sql`now()` })
          .where('event_id', '=', d.event_id)
          .execute();
        await trx.insertInto('delivery_attempts').values({ event_id: d.event_id, outcome: 'failed', error }).execute();
      });
      this.log.warn({ template: d.template, to: masked(d.recipient), attempts, dead, err: error }, dead ? 'email delivery dead' : 'email delivery failed; will retry');
    }
  }
}

const workers = new WeakMap<Runtime, DeliveryWorker>();

/** Signs one-click unsubscribe links: `<userId>.<type>.<hmac>` (NOTIFY_SECRET, or a key generated and kept here). */
class UnsubscribeSigner {
  private key: Promise<Buffer> | undefined;
  constructor(private readonly db: Kysely<NotificationsDB>) {}
  private secret(): Promise<Buffer> {
    return (this.key ??= (async () => {
      if (process.env.NOTIFY_SECRET) return Buffer.from(process.env.NOTIFY_SECRET);
      await this.db.insertInto('keys').values({ id: 1, key: randomBytes(32).toString('base64') }).onConflict((oc) => oc.column('id').doNothing()).execute();
      return Buffer.from((await this.db.selectFrom('keys').select('key').where('id', '=', 1).executeTakeFirstOrThrow()).key, 'base64');
    })());
  }
  private async mac(userId: string, type: string): Promise<string> {
    return createHmac('sha256', await this.secret()).update(`unsubscribe.${userId}.${type}`).digest('base64url');
  }
  async token(userId: string, type: string): Promise<string> {
    return `${userId}.${type}.${await this.mac(userId, type)}`;
  }
  async check(token: string): Promise<{ userId: string; type: string } | undefined> {
    const [userId, type, sig] = token.split('.');
    if (!userId || !type || !sig) return undefined;
    const want = Buffer.from(await this.mac(userId, type));
    const got = Buffer.from(sig);
    return want.length === got.length && timingSafeEqual(want, got) ? { userId, type } : undefined;
  }
}

const toDelivery = (r: Selectable<NotificationsDB['deliveries']>) => ({
  eventId: r.event_id,
  userId: r.user_id,
  channel: r.channel,
  template: r.template,
  recipient: masked(r.recipient),
  status: r.status as 'queued' | 'sending' | 'sent' | 'skipped' | 'dead',
  attempts: r.attempts,
  lastError: r.last_error,
  sentAt: r.sent_at?.toISOString() ?? null,
  updatedAt: r.updated_at.toISOString(),
});

/**
 * Turns `notification.requested` into deliveries: an email (queued, sent by the worker with retries) and,
 * for messages without secrets, an in-app notification pushed live to connected browsers. Idempotent: a
 * redelivered event finds its rows and does nothing.
 */
export const notificationsService = defineService({
  name: 'notifications',
  contracts: { ...notifications, ...privacyExportContract('notifications') },
  migrations: { '20261124200000_notifications': m0, '20261124270000_delivery': m1, '20261124280000_keys': m2 },
  repository: (db: Kysely<NotificationsDB>, runtime) => {
    const signer = new UnsubscribeSigner(db);
    const worker = new DeliveryWorker(db, runtime, runtime.logger('notifications'), signer);
    workers.set(runtime, worker);
    return { db, worker, signer };
  },
  started: async ({ worker }) => worker.start(),
  stopped: async ({ worker }) => worker.stop(),
  consumers: [
    consumer({
      name: 'email',
      event: notificationEvents.requested,
      handle: async (p, env, trx: Transaction<NotificationsDB>, runtime) => {
        const inserted = await trx
          .insertInto('deliveries')
          .values({ event_id: env.id, user_id: p.userId, channel: 'email', template: p.template, recipient: p.to, provider_id: null, sent_at: null, status: 'queued', attempts: 0, last_error: null, locale: p.locale, data: JSON.stringify(p.data) })
          .onConflict((oc) => oc.column('event_id').doNothing())
          .returning('event_id')
          .executeTakeFirst();
        if (!inserted) return; // seen before
        if (p.userId && !EMAIL_ONLY.has(p.template)) {
          const r = render(p.template, p.data, publicUrlOf(runtime), p.locale);
          const row = await trx
            .insertInto('inbox')
            .values({ id: randomUUID(), event_id: env.id, user_id: p.userId, template: p.template, title: r.subject, body: r.text, link: r.link ?? null, read_at: null })
            .returningAll()
            .executeTakeFirstOrThrow();
          // Best effort and live only: the inbox row is what lasts.
          void runtime.broker.broadcast(notificationBroadcasts.created.name, { userId: p.userId, item: toItem(row) });
        }
        setImmediate(() => workers.get(runtime)?.kick());
      },
    }),
    consumer({
      name: 'user-deleted',
      event: userEvents.deleted,
      handle: async (p, _env, trx: Transaction<NotificationsDB>) => {
        await trx.deleteFrom('deliveries').where('user_id', '=', p.userId).execute();
        await trx.deleteFrom('inbox').where('user_id', '=', p.userId).execute();
        await addToOutbox(trx, privacyEvents.erased, { requestId: p.requestId, userId: p.userId, service: 'notifications' }, { key: p.userId });
      },
    }),
  ],
  handlers: {
    async inbox({ input, caller, repo: { db } }) {
      let q = db.selectFrom('inbox').selectAll().where('user_id', '=', caller!.userId);
      if (input.unread) q = q.where('read_at', 'is', null);
      if (input.cursor) {
        const c = decodeCursor(input.cursor);
        q = q.where(sql<boolean>`(created_at, id) < (${c.createdAt}, ${c.id}::uuid)`);
      }
      const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(input.limit + 1).execute();
      const unread = await db.selectFrom('inbox').select((eb) => eb.fn.countAll<string>().as('n')).where('user_id', '=', caller!.userId).where('read_at', 'is', null).executeTakeFirst();
      return { ...keysetPage(rows, input.limit, toItem, (i) => encodeCursor(i.createdAt, i.id)), unreadCount: Number(unread?.n ?? 0) };
    },
    async markRead({ input, caller, repo: { db } }) {
      const row = await db
        .updateTable('inbox')
        .set({ read_at: sql`coalesce(read_at, now())` })
        .where('id', '=', input.notificationId)
        .where('user_id', '=', caller!.userId)
        .returningAll()
        .executeTakeFirst();
      if (!row) throw new DomainError('NOT_FOUND', 'No such notification');
      return toItem(row);
    },
    async markAllRead({ caller, repo: { db } }) {
      const r = await db.updateTable('inbox').set({ read_at: sql`now()` }).where('user_id', '=', caller!.userId).where('read_at', 'is', null).executeTakeFirst();
      return { marked: Number(r.numUpdatedRows) };
    },
    async deliveries({ input, repo: { db } }) {
      let q = db.selectFrom('deliveries').selectAll();
      if (input.status) q = q.where('status', '=', input.status);
      if (input.cursor) {
        const c = decodeCursor(input.cursor);
        q = q.where(sql<boolean>`(updated_at, event_id) < (${c.createdAt}, ${c.id}::uuid)`);
      }
      const rows = await q.orderBy('updated_at', 'desc').orderBy('event_id', 'desc').limit(input.limit + 1).execute();
      return keysetPage(rows, input.limit, toDelivery, (d) => encodeCursor(d.updatedAt, d.eventId));
    },
    async unsubscribe({ input, call, repo: { signer }, logger }) {
      const t = await signer.check(input.token);
      const type = notificationTypes.find((x) => x === t?.type);
      if (!t || !type) throw new DomainError('TOKEN_INVALID', 'This unsubscribe link is not valid');
      await call(usersInternal.setChannelPreference, { id: t.userId, type, channel: 'email', enabled: false }).catch((err) => {
        // An erased user, or a type that no longer exists: nothing left to unsubscribe from.
        logger.warn({ err: String(err) }, 'unsubscribe found nothing to change');
      });
      return { unsubscribed: true as const, type: t.type };
    },
    async retryDelivery({ input, caller, repo: { db, worker }, logger }) {
      const row = await db
        .updateTable('deliveries')
        .set({ status: 'queued', attempts: 0, run_after: sql`now()`, updated_at: sql`now()` })
        .where('event_id', '=', input.eventId)
        .where('status', '=', 'dead')
        .returningAll()
        .executeTakeFirst();
      if (!row) {
        const exists = await db.selectFrom('deliveries').select('status').where('event_id', '=', input.eventId).executeTakeFirst();
        throw exists ? new DomainError('CONFLICT', `Only dead deliveries can be retried; this one is ${exists.status}`) : new DomainError('NOT_FOUND', 'No such delivery');
      }
      logger.info({ eventId: input.eventId, by: caller!.userId }, 'delivery retried by an operator');
      worker.kick();
      return toDelivery(row);
    },
    async privacyExport({ input, repo: { db } }) {
      const rows = await db.selectFrom('deliveries').select(['channel', 'template', 'recipient', 'status', 'sent_at']).where('user_id', '=', input.userId).orderBy('sent_at').execute();
      const inbox = await db.selectFrom('inbox').selectAll().where('user_id', '=', input.userId).orderBy('created_at').execute();
      return { data: { deliveries: rows.map((r) => ({ ...r, sent_at: r.sent_at?.toISOString() ?? null })), inbox: inbox.map(toItem) } };
    },
  },
});

export { transactionalTemplates };
