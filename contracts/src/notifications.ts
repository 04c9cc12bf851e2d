import { z } from 'zod';
import { event } from './core.js';

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
