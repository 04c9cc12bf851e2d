import { randomUUID } from 'node:crypto';
import {
  courseEvents,
  coursePermissionsOf,
  coursesInternal,
  DomainError,
  mandatoryTypes,
  notificationEvents,
  notifications,
  notificationTemplate,
  notificationTypes,
  erasureReceipts,
  privacyExportContract,
  templateType,
  userEvents,
  usersInternal,
  type NotificationTemplate,
} from '@lms/contracts';
import { addToOutbox, consumer, decodeCursor, defineService, encodeCursor, keysetPage, type Caller, type HandlerArgs, type Runtime } from '@lms/runtime';
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import { smsProviderFromEnv } from './channels.js';
import type { AnnouncementRow, DeliveryRow, NotificationsDB } from './db.js';
import { UnsubscribeSigner, vapidKeys } from './keys.js';
import * as m0 from './migrations/20261124200000_notifications.js';
import * as m1 from './migrations/20261124270000_delivery.js';
import * as m2 from './migrations/20261124280000_keys.js';
import * as m3 from './migrations/20261125000000_channels.js';
import { render, sampleData, templateLocales } from './templates.js';
import { DeliveryWorker, DigestWorker, FanOutWorker, masked, publicUrlOf, RouteWorker, toItem } from './workers.js';

export type { NotificationsDB };

const toDelivery = (r: DeliveryRow) => ({
  id: r.id,
  eventId: r.event_id,
  userId: r.user_id,
  channel: r.channel as 'email' | 'push' | 'sms',
  template: r.template,
  recipient: masked(r.recipient),
  status: r.status as 'queued' | 'sending' | 'held' | 'digested' | 'sent' | 'skipped' | 'bounced' | 'dead',
  attempts: r.attempts,
  lastError: r.last_error,
  runAfter: r.run_after.toISOString(),
  sentAt: r.sent_at?.toISOString() ?? null,
  updatedAt: r.updated_at.toISOString(),
});

const toSubscription = (r: Selectable<NotificationsDB['push_subscriptions']>) => ({
  id: r.id,
  endpointHost: new URL(r.endpoint).host,
  userAgent: r.user_agent,
  createdAt: r.created_at.toISOString(),
  lastSuccessAt: r.last_success_at?.toISOString() ?? null,
});

/**
 * Announcements as the API shows them: per channel and status, how many of each one's messages there are, and
 * whether anything is left to send. Two grouped queries for the whole page.
 */
async function withProgress(db: Kysely<NotificationsDB>, list: AnnouncementRow[]) {
  const ids = list.map((a) => a.id);
  if (!ids.length) return [];
  const counts = await db
    .selectFrom('deliveries')
    .select(['announcement_id', 'channel', 'status', (eb) => eb.fn.countAll<string>().as('n')])
    .where('announcement_id', 'in', ids)
    .groupBy(['announcement_id', 'channel', 'status'])
    .execute();
  const pending = await db
    .selectFrom('requests')
    .select(['announcement_id', (eb) => eb.fn.countAll<string>().as('n')])
    .where('announcement_id', 'in', ids)
    .where('status', '=', 'pending')
    .groupBy('announcement_id')
    .execute();
  return list.map((a) => {
    const mine = counts.filter((c) => c.announcement_id === a.id);
    const progress: Record<string, Record<string, number>> = {};
    for (const c of mine) (progress[c.channel] ??= {})[c.status] = Number(c.n);
    const routing = Number(pending.find((p) => p.announcement_id === a.id)?.n ?? 0);
    if (routing) progress.routing = { pending: routing };
    const open = routing > 0 || mine.some((c) => c.status === 'queued' || c.status === 'sending');
    const status: 'fanning_out' | 'queued' | 'done' = a.status === 'fanning_out' ? 'fanning_out' : open ? 'queued' : 'done';
    return { id: a.id, courseId: a.course_id, authorId: a.author_id, title: a.title, body: a.body, status, recipients: a.recipients, progress, createdAt: a.created_at.toISOString() };
  });
}

/**
 * Course staff with `course:announce` (or an administrator). A course the caller may not even see does not
 * exist for them (404, like an unknown id); one they see but may not announce in answers 403.
 */
async function mayAnnounce(call: HandlerArgs<typeof notifications.announce, unknown>['call'], courseId: string, caller: Caller, admin: boolean) {
  const r = await call(coursesInternal.roleOf, { courseId, userId: caller.userId });
  if (!r.exists || !(admin || r.visible)) throw new DomainError('COURSE_NOT_FOUND', 'No such course');
  if (!admin && !coursePermissionsOf(r.role ?? undefined).has('course:announce')) throw new DomainError('FORBIDDEN', 'Only the course staff may announce', { permission: 'course:announce' });
}

/**
 * Who reads a course's announcements: its staff with `course:announce` and admins see their delivery progress;
 * its other members (enrolled learners) the announcements themselves; anyone else who may see the course is
 * refused (403), and a course they may not see does not exist for them (404).
 */
async function readerOf(call: HandlerArgs<typeof notifications.announcements, unknown>['call'], courseId: string, caller: Caller, admin: boolean): Promise<'staff' | 'member'> {
  const r = await call(coursesInternal.roleOf, { courseId, userId: caller.userId });
  if (!r.exists || !(admin || r.visible)) throw new DomainError('COURSE_NOT_FOUND', 'No such course');
  if (admin || coursePermissionsOf(r.role ?? undefined).has('course:announce')) return 'staff';
  if (r.role) return 'member';
  throw new DomainError('FORBIDDEN', "Only the course's members may read its announcements", { permission: 'course:view' });
}

/** An announcement as its course's learners see it: what was said, when and by whom; not how its delivery goes. */
const forMembers = (a: AnnouncementRow) => ({ id: a.id, courseId: a.course_id, authorId: a.author_id, title: a.title, body: a.body, createdAt: a.created_at.toISOString() });

interface Workers {
  route: RouteWorker;
  fanOut: FanOutWorker;
  digest: DigestWorker;
  delivery: DeliveryWorker;
}
const running = new WeakMap<Runtime, Workers>();
/** The notifications workers of a node (REPL: `notificationWorkers(runtime).digest.assembleDue()`; tests). */
export const notificationWorkers = (runtime: Runtime): Workers | undefined => running.get(runtime);

/** Records a request for routing (idempotent on the event id) and wakes the router after the commit. */
async function request(trx: Transaction<NotificationsDB>, runtime: Runtime, r: { eventId: string; userId: string | null; to: string | null; template: NotificationTemplate; locale: string; data: Record<string, string> }) {
  await trx
    .insertInto('requests')
    .values({ event_id: r.eventId, user_id: r.userId, to: r.to, template: r.template, locale: r.locale, data: JSON.stringify(r.data), announcement_id: null })
    .onConflict((oc) => oc.column('event_id').doNothing())
    .execute();
  setImmediate(() => running.get(runtime)?.route.kick());
}

/**
 * Decides whether, when, how and in which language a message is delivered: `notification.requested` (and
 * the events it listens to itself) become requests; the router applies the user's preferences (channel
 * modes, quiet hours, digests) and writes the in-app copy and one delivery per channel; workers send
 * email (SMTP), web push (VAPID) and SMS (an HTTP gateway) with retries, and assemble digests.
 * Every worker claims with SKIP LOCKED: any number of nodes can run this service.
 */
export const notificationsService = defineService({
  name: 'notifications',
  contracts: { ...notifications, ...privacyExportContract('notifications') },
  migrations: { '20261124200000_notifications': m0, '20261124270000_delivery': m1, '20261124280000_keys': m2, '20261125000000_channels': m3 },
  repository: (db: Kysely<NotificationsDB>, runtime) => {
    const log = runtime.logger('notifications');
    const signer = new UnsubscribeSigner(db);
    const vapid = vapidKeys(db);
    const sms = smsProviderFromEnv;
    const delivery = new DeliveryWorker(db, runtime, log, signer, vapid, sms);
    const route = new RouteWorker(db, runtime, log, () => delivery.kick(), sms);
    const workers: Workers = { route, delivery, fanOut: new FanOutWorker(db, runtime, log, () => route.kick()), digest: new DigestWorker(db, runtime, log, () => delivery.kick()) };
    running.set(runtime, workers);
    return { db, workers, signer, vapid, publicUrl: () => publicUrlOf(runtime) };
  },
  started: async ({ workers }) => Object.values(workers).forEach((w) => w.start()),
  stopped: async ({ workers }) => Object.values(workers).forEach((w) => w.stop()),
  consumers: [
    // The durable keeps its first name ('email'): renaming it would replay the stream into a new consumer.
    consumer({
      name: 'email',
      event: notificationEvents.requested,
      handle: async ({ payload: p, event: env, trx, runtime }) => {
        // Events from before routing existed already have their email delivery: nothing to do again.
        const old = await trx.selectFrom('deliveries').select('id').where('event_id', '=', env.id).executeTakeFirst();
        if (!old) await request(trx, runtime, { eventId: env.id, userId: p.userId, to: p.to, template: p.template, locale: p.locale, data: p.data });
      },
    }),
    consumer({
      name: 'welcome',
      event: userEvents.created,
      handle: async ({ payload: p, event: env, trx, runtime }) => {
        await request(trx, runtime, { eventId: env.id, userId: p.userId, to: p.email, template: 'welcome', locale: 'en', data: { displayName: p.displayName } });
      },
    }),
    consumer({
      name: 'course-published',
      event: courseEvents.published,
      handle: async ({ payload: p, event: env, trx, runtime }) => {
        // A first publication has no learners yet; a new version tells the enrolled ones.
        if (p.version <= 1) return;
        await trx
          .insertInto('announcements')
          .values({ id: env.id, kind: 'course_updated', course_id: p.courseId, course_title: p.title, author_id: p.ownerId, title: `${p.title} was updated`, body: `Version ${p.version} is published.`, cursor: null })
          .onConflict((oc) => oc.column('id').doNothing())
          .execute();
        setImmediate(() => running.get(runtime)?.fanOut.kick());
      },
    }),
    consumer({
      name: 'user-deleted',
      event: userEvents.deleted,
      handle: async ({ payload: p, event: _env, trx }) => {
        await trx.deleteFrom('deliveries').where('user_id', '=', p.userId).execute();
        await trx.deleteFrom('requests').where('user_id', '=', p.userId).execute();
        await trx.deleteFrom('inbox').where('user_id', '=', p.userId).execute();
        await trx.deleteFrom('push_subscriptions').where('user_id', '=', p.userId).execute();
        await addToOutbox(trx, erasureReceipts.notifications, { requestId: p.requestId, userId: p.userId, service: 'notifications' }, { key: p.userId });
      },
    }),
  ],
  handlers: {
    async inbox({ input, caller, repo: { db } }) {
      let q = db.selectFrom('inbox').selectAll().where('user_id', '=', caller.userId);
      if (input.unread) q = q.where('read_at', 'is', null);
      if (input.cursor) {
        const c = decodeCursor(input.cursor);
        q = q.where(sql<boolean>`(created_at, id) < (${c.createdAt}, ${c.id}::uuid)`);
      }
      const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(input.limit + 1).execute();
      const unread = await db.selectFrom('inbox').select((eb) => eb.fn.countAll<string>().as('n')).where('user_id', '=', caller.userId).where('read_at', 'is', null).executeTakeFirst();
      return { ...keysetPage(rows, input.limit, toItem, (i) => encodeCursor(i.createdAt, i.id)), unreadCount: Number(unread?.n ?? 0) };
    },
    async markRead({ input, caller, repo: { db } }) {
      const row = await db
        .updateTable('inbox')
        .set({ read_at: sql`coalesce(read_at, now())` })
        .where('id', '=', input.notificationId)
        .where('user_id', '=', caller.userId)
        .returningAll()
        .executeTakeFirst();
      if (!row) throw new DomainError('NOT_FOUND', 'No such notification');
      return toItem(row);
    },
    async markAllRead({ caller, repo: { db } }) {
      const r = await db.updateTable('inbox').set({ read_at: sql`now()` }).where('user_id', '=', caller.userId).where('read_at', 'is', null).executeTakeFirst();
      return { marked: Number(r.numUpdatedRows) };
    },
    async pushKey({ repo: { vapid } }) {
      return { publicKey: (await vapid()).publicKey };
    },
    async subscribePush({ input, caller, repo: { db }, logger }) {
      const count = Number((await db.selectFrom('push_subscriptions').select((eb) => eb.fn.countAll<string>().as('n')).where('user_id', '=', caller.userId).executeTakeFirst())?.n ?? 0);
      const existing = await db.selectFrom('push_subscriptions').select(['id', 'user_id']).where('endpoint', '=', input.endpoint).executeTakeFirst();
      if (!existing && count >= 20) throw new DomainError('VALIDATION_FAILED', 'At most 20 push subscriptions per account: remove an old device first');
      // The same endpoint again (a refreshed subscription, or the browser now signed in as someone else) moves to this caller.
      const row = await db
        .insertInto('push_subscriptions')
        .values({ id: randomUUID(), user_id: caller.userId, endpoint: input.endpoint, p256dh: input.keys.p256dh, auth: input.keys.auth, user_agent: input.userAgent ?? null, last_success_at: null })
        .onConflict((oc) => oc.column('endpoint').doUpdateSet({ user_id: caller.userId, p256dh: input.keys.p256dh, auth: input.keys.auth, user_agent: input.userAgent ?? null }))
        .returningAll()
        .executeTakeFirstOrThrow();
      logger.info({ userId: caller.userId, host: new URL(input.endpoint).host, moved: existing !== undefined && existing.user_id !== caller.userId }, 'push subscription saved');
      return toSubscription(row);
    },
    async pushSubscriptions({ caller, repo: { db } }) {
      const rows = await db.selectFrom('push_subscriptions').selectAll().where('user_id', '=', caller.userId).orderBy('created_at').execute();
      return { items: rows.map(toSubscription) };
    },
    async unsubscribePush({ input, caller, repo: { db } }) {
      const r = await db.deleteFrom('push_subscriptions').where('id', '=', input.subscriptionId).where('user_id', '=', caller.userId).executeTakeFirst();
      if (Number(r.numDeletedRows) === 0) throw new DomainError('NOT_FOUND', 'No such push subscription');
      return { removed: true as const };
    },
    async announce({ input, caller, can, call, repo: { db, workers }, logger }) {
      await mayAnnounce(call, input.courseId, caller, can('notifications:manage'));
      const terms = await call(coursesInternal.enrollmentTerms, { courseId: input.courseId });
      const row = await db
        .insertInto('announcements')
        .values({ id: randomUUID(), kind: 'announcement', course_id: input.courseId, course_title: terms.title, author_id: caller.userId, title: input.title, body: input.body, cursor: null })
        .returningAll()
        .executeTakeFirstOrThrow();
      logger.info({ announcementId: row.id, courseId: input.courseId, by: caller.userId }, 'announcement queued');
      workers.fanOut.kick();
      return (await withProgress(db, [row]))[0]!;
    },
    async announcements({ input, caller, can, call, repo: { db } }) {
      const reader = await readerOf(call, input.courseId, caller, can('courses:read-all'));
      let q = db.selectFrom('announcements').selectAll().where('course_id', '=', input.courseId).where('kind', '=', 'announcement');
      if (input.cursor) {
        const c = decodeCursor(input.cursor);
        q = q.where(sql<boolean>`(created_at, id) < (${c.createdAt}, ${c.id}::uuid)`);
      }
      const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(input.limit + 1).execute();
      const items = reader === 'staff' ? await withProgress(db, rows.slice(0, input.limit)) : rows.slice(0, input.limit).map(forMembers);
      return { items, nextCursor: rows.length > input.limit ? encodeCursor(items[items.length - 1]!.createdAt, items[items.length - 1]!.id) : null };
    },
    async announcement({ input, caller, can, call, repo: { db } }) {
      const reader = await readerOf(call, input.courseId, caller, can('courses:read-all'));
      const row = await db.selectFrom('announcements').selectAll().where('id', '=', input.announcementId).where('course_id', '=', input.courseId).executeTakeFirst();
      if (!row) throw new DomainError('NOT_FOUND', 'No such announcement');
      return reader === 'staff' ? (await withProgress(db, [row]))[0]! : forMembers(row);
    },
    async templates() {
      return {
        items: notificationTemplate.options.map((t) => {
          const type = t === 'digest' ? null : templateType[t];
          return { template: t, type, mandatory: type !== null && mandatoryTypes.has(type), locales: templateLocales[t] };
        }),
      };
    },
    async previewTemplate({ input, repo: { publicUrl } }) {
      const m = render(input.template, { ...sampleData[input.template], ...input.data }, publicUrl(), input.locale);
      const base = input.locale.toLowerCase().split('-')[0]!;
      return { template: input.template, locale: templateLocales[input.template].includes(base) ? base : 'en', subject: m.subject, text: m.text, html: m.html };
    },
    async deliveries({ input, repo: { db } }) {
      let q = db.selectFrom('deliveries').selectAll();
      if (input.status) q = q.where('status', '=', input.status);
      if (input.channel) q = q.where('channel', '=', input.channel);
      if (input.cursor) {
        const c = decodeCursor(input.cursor);
        q = q.where(sql<boolean>`(updated_at, id) < (${c.createdAt}, ${c.id}::uuid)`);
      }
      const rows = await q.orderBy('updated_at', 'desc').orderBy('id', 'desc').limit(input.limit + 1).execute();
      return keysetPage(rows, input.limit, toDelivery, (d) => encodeCursor(d.updatedAt, d.id));
    },
    async unsubscribe({ input, call, repo: { signer }, logger }) {
      const t = await signer.check(input.token);
      const type = notificationTypes.find((x) => x === t?.type);
      if (!t || !type || mandatoryTypes.has(type)) throw new DomainError('TOKEN_INVALID', 'This unsubscribe link is not valid');
      await call(usersInternal.setChannelPreference, { id: t.userId, type, channel: 'email', mode: 'never' }).catch((err) => {
        // An erased user, or a type that no longer exists: nothing left to unsubscribe from.
        logger.warn({ err: String(err) }, 'unsubscribe found nothing to change');
      });
      return { unsubscribed: true as const, type: t.type };
    },
    async retryDelivery({ input, caller, repo: { db, workers }, logger }) {
      const row = await db
        .updateTable('deliveries')
        .set({ status: 'queued', attempts: 0, run_after: sql`now()`, updated_at: sql`now()` })
        .where('id', '=', input.deliveryId)
        .where('status', 'in', ['dead', 'bounced'])
        .returningAll()
        .executeTakeFirst();
      if (!row) {
        const exists = await db.selectFrom('deliveries').select('status').where('id', '=', input.deliveryId).executeTakeFirst();
        throw exists ? new DomainError('CONFLICT', `Only dead or bounced deliveries can be retried; this one is ${exists.status}`) : new DomainError('NOT_FOUND', 'No such delivery');
      }
      logger.info({ deliveryId: input.deliveryId, by: caller.userId }, 'delivery retried by an operator');
      workers.delivery.kick();
      return toDelivery(row);
    },
    async privacyExport({ input, repo: { db } }) {
      const rows = await db.selectFrom('deliveries').select(['channel', 'template', 'recipient', 'status', 'sent_at']).where('user_id', '=', input.userId).orderBy('sent_at').execute();
      const inbox = await db.selectFrom('inbox').selectAll().where('user_id', '=', input.userId).orderBy('created_at').execute();
      const push = await db.selectFrom('push_subscriptions').selectAll().where('user_id', '=', input.userId).orderBy('created_at').execute();
      return { data: { deliveries: rows.map((r) => ({ ...r, sent_at: r.sent_at?.toISOString() ?? null })), inbox: inbox.map(toItem), pushSubscriptions: push.map(toSubscription) } };
    },
  },
});

