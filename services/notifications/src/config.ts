import { declareEnv, env } from '@lms/runtime';
import { z } from 'zod';

/** What the notifications service reads from the environment, parsed once when the node starts. */
export const notificationsEnv = declareEnv('notifications', {
  SMTP_URL: z.string().optional().meta({
    description: 'SMTP server for outgoing mail (`smtp://user:pass@host:587`, `smtps://…`); unset: `.eml` files under the data directory',
    secret: true,
  }),
  MAIL_FROM: z.string().default('LMS <no-reply@localhost>').meta({ description: 'Sender of outgoing mail' }),
  PUBLIC_URL: z
    .string()
    .optional()
    .meta({ description: 'Public base URL of the LMS (links in messages and redirects)', defaultText: '`http://localhost:<PORT>`' }),
  NOTIFY_SECRET: z.string().optional().meta({
    description: 'Signs one-click unsubscribe links (set the same on every node); unset: a key generated once and kept in the database',
    secret: true,
  }),
  VAPID_PUBLIC_KEY: z
    .string()
    .optional()
    .meta({ description: 'Web push VAPID public key; unset (with the private key): a pair generated once and kept in the database' }),
  VAPID_PRIVATE_KEY: z.string().optional().meta({ description: 'Web push VAPID private key', secret: true }),
  VAPID_SUBJECT: z.string().optional().meta({ description: 'VAPID subject (contact of the sender)', defaultText: '`mailto:` + the address of `MAIL_FROM`' }),
  PUSH_ALLOW_PRIVATE: env
    .bool()
    .default(false)
    .meta({ description: 'Allow push endpoints on private, loopback or link-local addresses (a push service on your network; tests)' }),
  PUSH_CA_FILE: z.string().optional().meta({ description: 'Extra CA certificate (PEM file) trusted for push services' }),
  SMS_HTTP_URL: z.string().optional().meta({ description: 'HTTP SMS gateway (`POST {from, to, text}`); unset: no SMS' }),
  SMS_HTTP_TOKEN: z.string().optional().meta({ description: 'Bearer token for the SMS gateway', secret: true }),
  SMS_FROM: z.string().optional().meta({ description: 'Sender name or number of text messages', defaultText: '`LMS`' }),
  NOTIFY_MAX_ATTEMPTS: env.int().min(1).default(6).meta({ description: 'Delivery attempts before a message is `dead`' }),
  NOTIFY_POLL_MS: env
    .int()
    .min(1)
    .default(500)
    .meta({ description: 'Poll interval of the routing, fan-out and delivery workers (they are also woken after each commit)' }),
  NOTIFY_DIGEST_POLL_MS: env.int().min(1).default(60_000).meta({ description: 'Poll interval of the digest worker' }),
  NOTIFY_DIGEST_HOUR: env.int().max(23).default(8).meta({ description: "Local hour (in each user's time zone) at which digests go out" }),
  NOTIFY_RATE_EMAIL: env.number().positive('must be positive').default(50).meta({ description: 'Emails per second for the whole mesh (counted in Redis)' }),
  NOTIFY_RATE_PUSH: env.number().positive('must be positive').default(200).meta({ description: 'Web push messages per second for the whole mesh' }),
  NOTIFY_RATE_SMS: env.number().positive('must be positive').default(10).meta({ description: 'Text messages per second for the whole mesh' }),
  NOTIFY_CONCURRENCY: env.int().min(1).default(4).meta({ description: 'Routing and delivery loops per node' }),
});

export type NotificationsConfig = z.output<typeof notificationsEnv>;
