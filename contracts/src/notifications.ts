import { z } from 'zod';
import { domain, event, isoDate, mutation, page, pageInput, query } from './core.js';

/** The messages the platform sends; each has a template in the notifications service. */
export const notificationTemplate = z.enum([
  'email_verification',
  'password_reset',
  'password_changed',
  'mfa_enabled',
  'mfa_disabled',
  'privacy_export_ready',
  'enrollment_welcome',
  'waitlist_promoted',
]);
export type NotificationTemplate = z.infer<typeof notificationTemplate>;

/**
 * Security messages (verification, reset, MFA changes) are sent whatever the user's preferences say:
 * they are the account's safety net. Everything else honours the per-type channel preferences.
 */
export const transactionalTemplates: ReadonlySet<NotificationTemplate> = new Set([
  'email_verification',
  'password_reset',
  'password_changed',
  'mfa_enabled',
  'mfa_disabled',
]);

/** Kinds of non-security messages a user can route per channel (the preferences in the users service). */
export const notificationTypes = ['announcements', 'assignments', 'grades', 'discussions', 'course_updates', 'enrollments', 'privacy'] as const;
export const notificationChannels = ['email', 'inApp', 'push', 'sms'] as const;
const channelSwitches = z.object(Object.fromEntries(notificationChannels.map((c) => [c, z.boolean()])) as Record<(typeof notificationChannels)[number], z.ZodBoolean>);
export const notificationPreferences = z
  .object(Object.fromEntries(notificationTypes.map((t) => [t, channelSwitches])) as Record<(typeof notificationTypes)[number], typeof channelSwitches>)
  .meta({ id: 'NotificationPreferences', description: 'Per message type, which channels deliver it' });
export type NotificationPreferences = z.infer<typeof notificationPreferences>;
export const defaultNotificationPreferences: NotificationPreferences = Object.fromEntries(
  notificationTypes.map((t) => [t, { email: true, inApp: true, push: false, sms: false }]),
) as NotificationPreferences;

/** Which preference type governs a template; transactional templates have none (always sent). */
export const templateType: Partial<Record<NotificationTemplate, (typeof notificationTypes)[number]>> = {
  enrollment_welcome: 'enrollments',
  waitlist_promoted: 'enrollments',
  privacy_export_ready: 'privacy',
};

export const notificationEvents = {
  requested: event({
    subject: 'lms.notification.requested.v1',
    stream: 'LMS_NOTIFICATION',
    version: 1,
    summary: 'Some service wants a message sent to a person (the notifications service renders and delivers it)',
    payload: z.object({
      /** Null when the recipient has no account yet (or any longer). */
      userId: z.uuid().nullable(),
      to: z.email(),
      template: notificationTemplate,
      locale: z.string().default('en'),
      /**
       * Values the template fills in. May hold single-use secrets (reset and verification tokens):
       * the stream keeps them only as long as its retention, the auth service stores only their hashes.
       */
      data: z.record(z.string(), z.string()),
    }),
  }),
};

/** A notification in a user's in-app inbox. */
export const inboxItem = z
  .object({
    id: z.uuid(),
    template: z.string(),
    title: z.string(),
    body: z.string(),
    link: z.string().nullable(),
    createdAt: isoDate,
    readAt: isoDate.nullable(),
  })
  .meta({ id: 'Notification' });
export type InboxItem = z.infer<typeof inboxItem>;

export const delivery = z
  .object({
    eventId: z.uuid(),
    userId: z.uuid().nullable(),
    channel: z.string(),
    template: z.string(),
    recipient: z.string().meta({ description: 'Masked: a***@example.org' }),
    status: z.enum(['queued', 'sending', 'sent', 'skipped', 'dead']),
    attempts: z.number().int(),
    lastError: z.string().nullable(),
    sentAt: isoDate.nullable(),
    updatedAt: isoDate,
  })
  .meta({ id: 'Delivery' });

export const notifications = domain('notifications', {
  /** The caller's in-app notifications, newest first (live: GET /me/notifications/stream, Server-Sent Events). */
  inbox: query({
    input: pageInput.extend({ unread: z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]).optional() }),
    output: page(inboxItem).extend({ unreadCount: z.number().int() }),
    permission: 'authenticated',
    rest: { method: 'GET', path: '/me/notifications' },
    summary: 'My notifications',
  }),
  markRead: mutation({
    input: z.object({ notificationId: z.uuid() }),
    output: inboxItem,
    permission: 'authenticated',
    rest: { method: 'POST', path: '/me/notifications/{notificationId}/read' },
    summary: 'Mark a notification read',
    errors: ['NOT_FOUND'],
  }),
  markAllRead: mutation({
    input: z.object({}),
    output: z.object({ marked: z.number().int() }),
    permission: 'authenticated',
    rest: { method: 'POST', path: '/me/notifications/read-all' },
    summary: 'Mark all my notifications read',
  }),
  /** Outbound deliveries and their state, for operators: filter by status (e.g. `dead` to retry). */
  deliveries: query({
    input: pageInput.extend({ status: z.enum(['queued', 'sending', 'sent', 'skipped', 'dead']).optional() }),
    output: page(delivery),
    permission: 'notifications:manage',
    rest: { method: 'GET', path: '/admin/notifications/deliveries' },
    summary: 'List deliveries',
  }),
  /** One-click unsubscribe (RFC 8058) from a message type, with the signed token in the email's link. */
  unsubscribe: mutation({
    input: z.object({ token: z.string().min(10).max(300) }),
    output: z.object({ unsubscribed: z.literal(true), type: z.string() }),
    permission: 'public',
    rest: { method: 'POST', path: '/notifications/unsubscribe', acceptsForm: true },
    summary: 'Unsubscribe from a kind of email',
    errors: ['TOKEN_INVALID'],
  }),
  /** Send a dead delivery again. */
  retryDelivery: mutation({
    input: z.object({ eventId: z.uuid() }),
    output: delivery,
    permission: 'notifications:manage',
    rest: { method: 'POST', path: '/admin/notifications/deliveries/{eventId}/retry' },
    summary: 'Retry a delivery',
    errors: ['NOT_FOUND', 'CONFLICT'],
  }),
});

/** Live notices to connected browsers (Moleculer broadcast; the gateway relays them as Server-Sent Events). */
export const notificationBroadcasts = {
  created: { name: 'notifications.created', payload: z.object({ userId: z.uuid(), item: inboxItem }) },
};
