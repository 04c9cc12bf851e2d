import { z } from 'zod';
import { domain, event, isoDate, mutation, page, pageInput, query } from './core.js';

/** The messages the platform sends; each has a template in the notifications service. */
export const notificationTemplate = z.enum([
  'email_verification',
  'password_reset',
  'password_changed',
  'mfa_enabled',
  'mfa_disabled',
  'welcome',
  'privacy_export_ready',
  'enrollment_welcome',
  'waitlist_promoted',
  'course_updated',
  'announcement',
  'course_completed',
  'certificate_issued',
  'grade_released',
  /** Many held notifications in one message (daily or weekly), assembled by the notifications service. */
  'digest',
]);
export type NotificationTemplate = z.infer<typeof notificationTemplate>;

/**
 * Kinds of message a user routes per channel. `security` (verification, reset, password and MFA changes)
 * is mandatory: its email is always sent at once, whatever the preferences say; it is the account's safety net.
 */
export const notificationTypes = [
  'security',
  'account',
  'announcements',
  'assignments',
  'grades',
  'discussions',
  'course_updates',
  'enrollments',
  'privacy',
] as const;
export type NotificationType = (typeof notificationTypes)[number];
export const mandatoryTypes: ReadonlySet<NotificationType> = new Set(['security']);
export const notificationChannels = ['email', 'inApp', 'push', 'sms'] as const;
export type NotificationChannel = (typeof notificationChannels)[number];

/** Which type governs each template (a digest is assembled from already-routed messages). */
export const templateType: Record<Exclude<NotificationTemplate, 'digest'>, NotificationType> = {
  email_verification: 'security',
  password_reset: 'security',
  password_changed: 'security',
  mfa_enabled: 'security',
  mfa_disabled: 'security',
  welcome: 'account',
  privacy_export_ready: 'privacy',
  enrollment_welcome: 'enrollments',
  waitlist_promoted: 'enrollments',
  course_updated: 'course_updates',
  announcement: 'announcements',
  course_completed: 'enrollments',
  certificate_issued: 'enrollments',
  grade_released: 'grades',
};

/**
 * When a channel delivers a type: at once, gathered in a daily or weekly digest (sent at
 * NOTIFY_DIGEST_HOUR in the user's time zone; weekly on Mondays), or never. The in-app inbox is
 * already a list: it takes `immediately` or `never`.
 */
export const deliveryMode = z.enum(['immediately', 'daily', 'weekly', 'never']);
export type DeliveryMode = z.infer<typeof deliveryMode>;
const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time of day as HH:MM (24 h)');
export const quietHours = z
  .object({ start: hhmm, end: hhmm })
  .refine((q) => q.start !== q.end, 'start and end must differ')
  .meta({
    id: 'QuietHours',
    description: "A daily window in the user's time zone (it may span midnight) when nothing but security messages is sent; held messages go out when it ends",
  });
const channelModes = z.object({ email: deliveryMode, inApp: deliveryMode, push: deliveryMode, sms: deliveryMode });
export type ChannelModes = z.infer<typeof channelModes>;
export const notificationPreferences = z
  .object({
    types: z.object(Object.fromEntries(notificationTypes.map((t) => [t, channelModes])) as Record<NotificationType, typeof channelModes>),
    quietHours: quietHours.nullable(),
    /** Where SMS go (E.164). SMS are only sent where one is set and a provider is configured. */
    smsNumber: z.string().nullable(),
    /** Types that cannot be switched off (their email is always sent at once). */
    mandatory: z.array(z.enum(notificationTypes)),
  })
  .meta({ id: 'NotificationPreferences', description: 'Per message type and channel: immediately, daily or weekly digest, never; quiet hours' });
export type NotificationPreferences = z.infer<typeof notificationPreferences>;

const defaultModes: ChannelModes = { email: 'immediately', inApp: 'immediately', push: 'immediately', sms: 'never' };
export const defaultNotificationPreferences: NotificationPreferences = {
  types: Object.fromEntries(
    notificationTypes.map((t) => [t, t === 'security' ? { ...defaultModes, push: 'never' } : defaultModes]),
  ) as NotificationPreferences['types'],
  quietHours: null,
  smsNumber: null,
  mandatory: [...mandatoryTypes],
};

/** What a user may send to replace their preferences: any type or channel left out takes its default. */
export const notificationPreferencesInput = z.object({
  types: z
    .object(
      Object.fromEntries(notificationTypes.map((t) => [t, channelModes.partial().optional()])) as Record<
        NotificationType,
        z.ZodOptional<z.ZodObject<{ [K in NotificationChannel]: z.ZodOptional<typeof deliveryMode> }>>
      >,
    )
    .superRefine((types, ctx) => {
      for (const t of notificationTypes) {
        const m = types[t];
        if (m?.inApp === 'daily' || m?.inApp === 'weekly')
          ctx.addIssue({ code: 'custom', path: [t, 'inApp'], message: 'the in-app inbox takes immediately or never' });
        if (mandatoryTypes.has(t) && m?.email && m.email !== 'immediately')
          ctx.addIssue({ code: 'custom', path: [t, 'email'], message: `${t} messages are mandatory: their email is always sent at once` });
      }
    })
    .default({}),
  quietHours: quietHours.nullable().default(null),
  smsNumber: z
    .string()
    .regex(/^\+[1-9]\d{6,14}$/, 'an E.164 number such as +33612345678')
    .nullable()
    .default(null),
});

/** The stored preferences over the defaults (older rows held on/off switches: on = immediately, off = never). */
export function resolvePreferences(stored: unknown): NotificationPreferences {
  const s = (stored ?? {}) as {
    types?: Record<string, Partial<Record<NotificationChannel, unknown>>>;
    quietHours?: NotificationPreferences['quietHours'];
    smsNumber?: string | null;
  };
  // The current shape has `types`, `quietHours` or `smsNumber`; the older one is the per-type map itself.
  const current = s.types !== undefined || 'quietHours' in s || 'smsNumber' in s;
  const byType = current ? (s.types ?? {}) : ((stored as Record<string, Partial<Record<NotificationChannel, unknown>>>) ?? {});
  const mode = (v: unknown, d: DeliveryMode): DeliveryMode => (v === true ? 'immediately' : v === false ? 'never' : (deliveryMode.safeParse(v).data ?? d));
  const types = Object.fromEntries(
    notificationTypes.map((t) => {
      const d = defaultNotificationPreferences.types[t];
      const m = byType[t] ?? {};
      const modes = Object.fromEntries(notificationChannels.map((c) => [c, mode(m[c], d[c])])) as ChannelModes;
      if (mandatoryTypes.has(t)) modes.email = 'immediately';
      return [t, modes];
    }),
  ) as NotificationPreferences['types'];
  return { types, quietHours: current ? (s.quietHours ?? null) : null, smsNumber: current ? (s.smsNumber ?? null) : null, mandatory: [...mandatoryTypes] };
}

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

export const deliveryStatus = z.enum(['queued', 'sending', 'held', 'digested', 'sent', 'skipped', 'bounced', 'dead']);
export const delivery = z
  .object({
    id: z.uuid(),
    eventId: z.uuid(),
    userId: z.uuid().nullable(),
    channel: z.enum(['email', 'push', 'sms']),
    template: z.string(),
    recipient: z.string().meta({ description: 'Masked: a***@example.org, +33******78, or the number of devices' }),
    status: deliveryStatus.meta({
      description: 'held: waiting for a digest or the end of quiet hours; digested: sent inside a digest; bounced: refused for good by the receiving server',
    }),
    attempts: z.number().int(),
    lastError: z.string().nullable(),
    runAfter: isoDate,
    sentAt: isoDate.nullable(),
    updatedAt: isoDate,
  })
  .meta({ id: 'Delivery' });

export const pushSubscription = z
  .object({ id: z.uuid(), endpointHost: z.string(), userAgent: z.string().nullable(), createdAt: isoDate, lastSuccessAt: isoDate.nullable() })
  .meta({ id: 'PushSubscription', description: 'One browser or device that receives web push' });

export const announcement = z
  .object({
    id: z.uuid(),
    courseId: z.uuid(),
    authorId: z.uuid(),
    title: z.string(),
    body: z.string(),
    /** Delivery progress (`status`, `recipients`, `progress`) is for the course's staff and admins; learners get the announcement alone. */
    status: z
      .enum(['fanning_out', 'queued', 'done'])
      .optional()
      .meta({ description: 'Staff only. fanning_out: recipients are being listed; queued: every recipient has its messages; done: nothing left to send' }),
    recipients: z.number().int().optional().meta({ description: 'Staff only' }),
    /** Per channel, how many messages are in each state (the send is throttled per channel). */
    progress: z
      .record(z.string(), z.record(z.string(), z.number().int()))
      .optional()
      .meta({ description: 'Staff only: per channel, how many messages are in each state' }),
    createdAt: isoDate,
  })
  .meta({ id: 'Announcement' });

export const renderedTemplate = z
  .object({ template: notificationTemplate, locale: z.string(), subject: z.string(), text: z.string(), html: z.string() })
  .meta({ id: 'RenderedTemplate' });

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
  /** The VAPID public key a browser subscribes with (`applicationServerKey`). */
  pushKey: query({
    input: z.object({}),
    output: z.object({ publicKey: z.string() }),
    permission: 'public',
    rest: { method: 'GET', path: '/notifications/push-key' },
    summary: 'Web push public key',
  }),
  /** Register this browser's push subscription (the JSON of `PushSubscription.toJSON()`); the same endpoint again updates it. */
  subscribePush: mutation({
    input: z.object({
      endpoint: z.url({ protocol: /^https$/ }).max(2048),
      keys: z.object({
        p256dh: z.string().regex(/^[\w-]{80,100}$/, 'a base64url P-256 public key'),
        auth: z.string().regex(/^[\w-]{16,32}$/, 'a base64url auth secret'),
      }),
      userAgent: z.string().max(300).optional(),
    }),
    output: pushSubscription,
    permission: 'authenticated',
    rest: { method: 'POST', path: '/me/push-subscriptions', status: 201 },
    summary: 'Add a web push subscription',
    errors: ['VALIDATION_FAILED'],
  }),
  pushSubscriptions: query({
    input: z.object({}),
    output: z.object({ items: z.array(pushSubscription) }),
    permission: 'authenticated',
    rest: { method: 'GET', path: '/me/push-subscriptions' },
    summary: 'My web push subscriptions',
  }),
  unsubscribePush: mutation({
    input: z.object({ subscriptionId: z.uuid() }),
    output: z.object({ removed: z.literal(true) }),
    permission: 'authenticated',
    rest: { method: 'DELETE', path: '/me/push-subscriptions/{subscriptionId}' },
    summary: 'Remove a web push subscription',
    errors: ['NOT_FOUND'],
  }),
  /**
   * Send an announcement to a course's active learners (course staff). Answers at once; recipients are
   * listed and messages queued in the background, sent per each learner's preferences, throttled per channel.
   */
  announce: mutation({
    input: z.object({ courseId: z.uuid(), title: z.string().trim().min(1).max(200), body: z.string().trim().min(1).max(10_000) }),
    output: announcement,
    permission: 'authenticated',
    rest: { method: 'POST', path: '/courses/{courseId}/announcements', status: 202 },
    summary: 'Announce to a course',
    errors: ['COURSE_NOT_FOUND', 'FORBIDDEN'],
  }),
  /** A course's announcements, newest first: its members (enrolled learners) read them; its staff and admins also see their delivery progress. */
  announcements: query({
    input: pageInput.extend({ courseId: z.uuid() }),
    output: page(announcement),
    permission: 'authenticated',
    rest: { method: 'GET', path: '/courses/{courseId}/announcements' },
    summary: "A course's announcements (with their progress, for staff)",
    errors: ['COURSE_NOT_FOUND', 'FORBIDDEN'],
  }),
  announcement: query({
    input: z.object({ courseId: z.uuid(), announcementId: z.uuid() }),
    output: announcement,
    permission: 'authenticated',
    rest: { method: 'GET', path: '/courses/{courseId}/announcements/{announcementId}' },
    summary: 'An announcement (with its progress, for staff)',
    errors: ['COURSE_NOT_FOUND', 'FORBIDDEN', 'NOT_FOUND'],
  }),
  /** Every template, its type and whether it is mandatory, for administrators. */
  templates: query({
    input: z.object({}),
    output: z.object({
      items: z.array(z.object({ template: notificationTemplate, type: z.string().nullable(), mandatory: z.boolean(), locales: z.array(z.string()) })),
    }),
    permission: 'notifications:manage',
    rest: { method: 'GET', path: '/admin/notifications/templates' },
    summary: 'List templates',
  }),
  /** Render a template in a locale with sample (or given) values, as the recipient would receive it. */
  previewTemplate: mutation({
    input: z.object({ template: notificationTemplate, locale: z.string().max(35).default('en'), data: z.record(z.string(), z.string().max(2000)).optional() }),
    output: renderedTemplate,
    permission: 'notifications:manage',
    rest: { method: 'POST', path: '/admin/notifications/templates/{template}/preview' },
    summary: 'Preview a template',
  }),
  /** Outbound deliveries and their state, for operators: filter by status (e.g. `dead` to retry). */
  deliveries: query({
    input: pageInput.extend({ status: deliveryStatus.optional(), channel: z.enum(['email', 'push', 'sms']).optional() }),
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
  /** Send a dead or bounced delivery again. */
  retryDelivery: mutation({
    input: z.object({ deliveryId: z.uuid() }),
    output: delivery,
    permission: 'notifications:manage',
    rest: { method: 'POST', path: '/admin/notifications/deliveries/{deliveryId}/retry' },
    summary: 'Retry a delivery',
    errors: ['NOT_FOUND', 'CONFLICT'],
  }),
});

/** Live notices to connected browsers (Moleculer broadcast; the gateway relays them as Server-Sent Events). */
export const notificationBroadcasts = {
  created: { name: 'notifications.created', payload: z.object({ userId: z.uuid(), item: inboxItem }) },
};
