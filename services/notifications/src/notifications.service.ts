import {
  courseEvents,
  credentialEvents,
  enrollmentEvents,
  gradeEvents,
  coursePermissionsOf,
  coursesInternal,
  DomainError,
  erasureReceipts,
  mandatoryTypes,
  notificationEvents,
  notifications,
  notificationTemplate,
  notificationTypes,
  privacyExportContract,
  templateType,
  userEvents,
  usersInternal,
} from '@lms/contracts';
import { consumerOf, defineService, encodeCursor, isNotFound, keysetPage, type Call, type Caller } from '@lms/runtime';
import type { Kysely } from 'kysely';
import { notificationsEnv } from './config.js';
import type { AnnouncementRow, NotificationsDB } from './db.js';
import { notificationDeps, workersOf, type NotificationDeps } from './deps.js';
import * as m0 from './migrations/20261124200000_notifications.js';
import * as m1 from './migrations/20261124270000_delivery.js';
import * as m2 from './migrations/20261124280000_keys.js';
import * as m3 from './migrations/20261125000000_channels.js';
import { NotificationsRepository } from './notifications.repository.js';
import { render, sampleData, templateLocales } from './templates.js';
import { toDelivery, toItem, toSubscription } from './views.js';

export type { NotificationsDB };

/**
 * Announcements as the API shows them: per channel and status, how many of each one's messages there are, and
 * whether anything is left to send. Two grouped queries for the whole page.
 */
async function withProgress(repo: NotificationsRepository, list: AnnouncementRow[]) {
  const ids = list.map((a) => a.id);
  if (!ids.length) return [];
  const counts = await repo.deliveries.countsByAnnouncement(ids);
  const pending = await repo.requests.pendingByAnnouncement(ids);
  return list.map((a) => {
    const mine = counts.filter((c) => c.announcement_id === a.id);
    const progress: Record<string, Record<string, number>> = {};
    for (const c of mine) (progress[c.channel] ??= {})[c.status] = c.n;
    const routing = pending.get(a.id) ?? 0;
    if (routing) progress.routing = { pending: routing };
    const open = routing > 0 || mine.some((c) => c.status === 'queued' || c.status === 'sending');
    const status: 'fanning_out' | 'queued' | 'done' = a.status === 'fanning_out' ? 'fanning_out' : open ? 'queued' : 'done';
    return {
      id: a.id,
      courseId: a.course_id,
      authorId: a.author_id,
      title: a.title,
      body: a.body,
      status,
      recipients: a.recipients,
      progress,
      createdAt: a.created_at.toISOString(),
    };
  });
}

/** One announcement with its progress. */
async function oneWithProgress(repo: NotificationsRepository, row: AnnouncementRow) {
  const [withIt] = await withProgress(repo, [row]);
  if (!withIt) throw new Error('an announcement lost its progress');
  return withIt;
}

/**
 * Course staff with `course:announce` (or an administrator). A course the caller may not even see does not
 * exist for them (404, like an unknown id); one they see but may not announce in answers 403.
 */
async function mayAnnounce(call: Call, courseId: string, caller: Caller, admin: boolean) {
  const r = await call(coursesInternal.roleOf, { courseId, userId: caller.userId });
  if (!r.exists || !(admin || r.visible)) throw new DomainError('COURSE_NOT_FOUND', 'No such course');
  if (!admin && !coursePermissionsOf(r.role ?? undefined).has('course:announce'))
    throw new DomainError('FORBIDDEN', 'Only the course staff may announce', { permission: 'course:announce' });
}

/**
 * Who reads a course's announcements: its staff with `course:announce` and admins see their delivery progress;
 * its other members (enrolled learners) the announcements themselves; anyone else who may see the course is
 * refused (403), and a course they may not see does not exist for them (404).
 */
async function readerOf(call: Call, courseId: string, caller: Caller, admin: boolean): Promise<'staff' | 'member'> {
  const r = await call(coursesInternal.roleOf, { courseId, userId: caller.userId });
  if (!r.exists || !(admin || r.visible)) throw new DomainError('COURSE_NOT_FOUND', 'No such course');
  if (admin || coursePermissionsOf(r.role ?? undefined).has('course:announce')) return 'staff';
  if (r.role) return 'member';
  throw new DomainError('FORBIDDEN', "Only the course's members may read its announcements", { permission: 'course:view' });
}

/** An announcement as its course's learners see it: what was said, when and by whom; not how its delivery goes. */
const forMembers = (a: AnnouncementRow) => ({
  id: a.id,
  courseId: a.course_id,
  authorId: a.author_id,
  title: a.title,
  body: a.body,
  createdAt: a.created_at.toISOString(),
});

const on = consumerOf<NotificationsDB, NotificationsRepository, NotificationDeps>();

/**
 * Decides whether, when, how and in which language a message is delivered: `notification.requested` (and
 * the events it listens to itself) become requests; the router applies the user's preferences (channel
 * modes, quiet hours, digests) and writes the in-app copy and one delivery per channel; workers send
 * email (SMTP), web push (VAPID) and SMS (an HTTP gateway) with retries, and assemble digests.
 * Every worker claims with SKIP LOCKED: any number of nodes can run this service.
 */
export const notificationsService = defineService({
  name: 'notifications',
  env: notificationsEnv,
  contracts: { ...notifications, ...privacyExportContract('notifications') },
  migrations: { '20261124200000_notifications': m0, '20261124270000_delivery': m1, '20261124280000_keys': m2, '20261125000000_channels': m3 },
  repository: (db: Kysely<NotificationsDB>) => new NotificationsRepository(db),
  deps: (s) => notificationDeps(s),
  started: async (deps) => workersOf(deps).forEach((w) => w.start()),
  stopped: async (deps) => void (await Promise.all(workersOf(deps).map((w) => w.stop()))),
  consumers: [
    // The durable keeps its first name ('email'): renaming it would replay the stream into a new consumer.
    on({
      name: 'email',
      event: notificationEvents.requested,
      handle: async ({ payload: p, event, repo, deps, afterCommit }) => {
        // Events from before routing existed already have their email delivery: nothing to do again.
        if (await repo.deliveries.existsForEvent(event.id)) return;
        await repo.requests.add({ eventId: event.id, userId: p.userId, to: p.to, template: p.template, locale: p.locale, data: p.data });
        afterCommit(() => deps.route.kick());
      },
    }),
    on({
      name: 'welcome',
      event: userEvents.created,
      handle: async ({ payload: p, event, repo, deps, afterCommit }) => {
        await repo.requests.add({ eventId: event.id, userId: p.userId, to: p.email, template: 'welcome', locale: 'en', data: { displayName: p.displayName } });
        afterCommit(() => deps.route.kick());
      },
    }),
    on({
      name: 'course-published',
      event: courseEvents.published,
      handle: async ({ payload: p, event, repo, deps, afterCommit }) => {
        // A first publication has no learners yet; a new version tells the enrolled ones.
        if (p.version <= 1) return;
        await repo.announcements.addCourseUpdate({
          id: event.id,
          courseId: p.courseId,
          courseTitle: p.title,
          authorId: p.ownerId,
          title: `${p.title} was updated`,
          body: `Version ${p.version} is published.`,
        });
        afterCommit(() => deps.fanOut.kick());
      },
    }),
    // Course completion, certificates and grades: the user's address comes from their settings when the request is routed.
    on({
      name: 'course-completed',
      event: enrollmentEvents.courseCompleted,
      handle: async ({ payload: p, event, repo, deps, afterCommit }) => {
        await repo.requests.add({ eventId: event.id, userId: p.userId, to: null, template: 'course_completed', locale: 'en', data: { courseId: p.courseId } });
        afterCommit(() => deps.route.kick());
      },
    }),
    on({
      name: 'credential-issued',
      event: credentialEvents.issued,
      handle: async ({ payload: p, event, repo, deps, afterCommit }) => {
        await repo.requests.add({
          eventId: event.id,
          userId: p.userId,
          to: null,
          template: 'certificate_issued',
          locale: 'en',
          data: { courseId: p.courseId, credentialId: p.credentialId, code: p.code },
        });
        afterCommit(() => deps.route.kick());
      },
    }),
    on({
      name: 'grade-released',
      event: gradeEvents.released,
      handle: async ({ payload: p, event, repo, deps, afterCommit }) => {
        await repo.requests.add({
          eventId: event.id,
          userId: p.userId,
          to: null,
          template: 'grade_released',
          locale: 'en',
          data: { courseId: p.courseId, itemTitle: p.itemTitle, percent: p.percent === null ? '' : String(p.percent) },
        });
        afterCommit(() => deps.route.kick());
      },
    }),
    on({
      name: 'user-deleted',
      event: userEvents.deleted,
      handle: async ({ payload: p, repo, emit }) => {
        await repo.eraseUser(p.userId);
        await emit(erasureReceipts.notifications, { requestId: p.requestId, userId: p.userId, service: 'notifications' }, p.userId);
      },
    }),
  ],
  handlers: {
    async inbox({ input, caller, repo }) {
      const rows = await repo.inbox.page(caller.userId, { unread: input.unread, cursor: input.cursor, limit: input.limit });
      const unreadCount = await repo.inbox.unreadCount(caller.userId);
      return { ...keysetPage(rows, input.limit, toItem, (i) => encodeCursor(i.createdAt, i.id)), unreadCount };
    },
    async markRead({ input, caller, repo }) {
      const row = await repo.inbox.markRead(caller.userId, input.notificationId);
      if (!row) throw new DomainError('NOT_FOUND', 'No such notification');
      return toItem(row);
    },
    async markAllRead({ caller, repo }) {
      return { marked: await repo.inbox.markAllRead(caller.userId) };
    },
    async pushKey({ deps }) {
      return { publicKey: (await deps.vapid()).publicKey };
    },
    async subscribePush({ input, caller, repo, logger }) {
      const count = await repo.push.countOfUser(caller.userId);
      const existing = await repo.push.byEndpoint(input.endpoint);
      if (!existing && count >= 20) throw new DomainError('VALIDATION_FAILED', 'At most 20 push subscriptions per account: remove an old device first');
      // The same endpoint again (a refreshed subscription, or the browser now signed in as someone else) moves to this caller.
      const row = await repo.push.save({
        userId: caller.userId,
        endpoint: input.endpoint,
        p256dh: input.keys.p256dh,
        auth: input.keys.auth,
        userAgent: input.userAgent ?? null,
      });
      logger.info(
        { userId: caller.userId, host: new URL(input.endpoint).host, moved: existing !== undefined && existing.user_id !== caller.userId },
        'push subscription saved',
      );
      return toSubscription(row);
    },
    async pushSubscriptions({ caller, repo }) {
      return { items: (await repo.push.ofUser(caller.userId)).map(toSubscription) };
    },
    async unsubscribePush({ input, caller, repo }) {
      if (!(await repo.push.remove(caller.userId, input.subscriptionId))) throw new DomainError('NOT_FOUND', 'No such push subscription');
      return { removed: true as const };
    },
    async announce({ input, caller, can, call, repo, deps, logger }) {
      await mayAnnounce(call, input.courseId, caller, can('notifications:manage'));
      const terms = await call(coursesInternal.enrollmentTerms, { courseId: input.courseId });
      const row = await repo.announcements.create({
        courseId: input.courseId,
        courseTitle: terms.title,
        authorId: caller.userId,
        title: input.title,
        body: input.body,
      });
      logger.info({ announcementId: row.id, courseId: input.courseId, by: caller.userId }, 'announcement queued');
      deps.fanOut.kick();
      return oneWithProgress(repo, row);
    },
    async announcements({ input, caller, can, call, repo }) {
      const reader = await readerOf(call, input.courseId, caller, can('courses:read-all'));
      const rows = await repo.announcements.page(input.courseId, { cursor: input.cursor, limit: input.limit });
      const items = reader === 'staff' ? await withProgress(repo, rows.slice(0, input.limit)) : rows.slice(0, input.limit).map(forMembers);
      const last = items.at(-1);
      return { items, nextCursor: rows.length > input.limit && last ? encodeCursor(last.createdAt, last.id) : null };
    },
    async announcement({ input, caller, can, call, repo }) {
      const reader = await readerOf(call, input.courseId, caller, can('courses:read-all'));
      const row = await repo.announcements.byId(input.courseId, input.announcementId);
      if (!row) throw new DomainError('NOT_FOUND', 'No such announcement');
      return reader === 'staff' ? oneWithProgress(repo, row) : forMembers(row);
    },
    async templates() {
      return {
        items: notificationTemplate.options.map((t) => {
          const type = t === 'digest' ? null : templateType[t];
          return { template: t, type, mandatory: type !== null && mandatoryTypes.has(type), locales: templateLocales[t] };
        }),
      };
    },
    async previewTemplate({ input, deps }) {
      const m = render(input.template, { ...sampleData[input.template], ...input.data }, deps.publicUrl(), input.locale);
      const base = input.locale.toLowerCase().split('-')[0] ?? '';
      return { template: input.template, locale: templateLocales[input.template].includes(base) ? base : 'en', subject: m.subject, text: m.text, html: m.html };
    },
    async deliveries({ input, repo }) {
      const rows = await repo.deliveries.page({ status: input.status, channel: input.channel, cursor: input.cursor, limit: input.limit });
      return keysetPage(rows, input.limit, toDelivery, (d) => encodeCursor(d.updatedAt, d.id));
    },
    async unsubscribe({ input, call, deps, logger }) {
      const t = await deps.signer.check(input.token);
      const type = notificationTypes.find((x) => x === t?.type);
      if (!t || !type || mandatoryTypes.has(type)) throw new DomainError('TOKEN_INVALID', 'This unsubscribe link is not valid');
      try {
        await call(usersInternal.setChannelPreference, { id: t.userId, type, channel: 'email', mode: 'never' });
      } catch (err) {
        // An erased user: nothing left to unsubscribe from. Anything else (the users service away, a timeout) is
        // not an unsubscription: the caller must learn it failed and try again.
        if (!isNotFound(err, 'USER_NOT_FOUND')) throw err;
        logger.warn({ err: String(err) }, 'unsubscribe found nothing to change');
      }
      return { unsubscribed: true as const, type: t.type };
    },
    async retryDelivery({ input, caller, repo, deps, logger }) {
      const row = await repo.deliveries.requeue(input.deliveryId);
      if (!row) {
        const status = await repo.deliveries.statusOf(input.deliveryId);
        throw status
          ? new DomainError('CONFLICT', `Only dead or bounced deliveries can be retried; this one is ${status}`)
          : new DomainError('NOT_FOUND', 'No such delivery');
      }
      logger.info({ deliveryId: input.deliveryId, by: caller.userId }, 'delivery retried by an operator');
      deps.delivery.kick();
      return toDelivery(row);
    },
    async privacyExport({ input, repo }) {
      const rows = await repo.deliveries.ofUser(input.userId);
      const inbox = await repo.inbox.ofUser(input.userId);
      const push = await repo.push.ofUser(input.userId);
      return {
        data: {
          deliveries: rows.map((r) => ({ ...r, sent_at: r.sent_at?.toISOString() ?? null })),
          inbox: inbox.map(toItem),
          pushSubscriptions: push.map(toSubscription),
        },
      };
    },
  },
});
