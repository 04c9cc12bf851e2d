import type { InboxItem } from '@lms/contracts';
import type { DeliveryRow, InboxRow } from './db.js';
import type { PushSubscriptionRow } from './repository/push-subscriptions.repository.js';

/** Masks an address for logs and listings: `a***@example.org`, `+33******78`. */
export const masked = (to: string) =>
  to.includes('@') ? to.replace(/^(.).*@/, '$1***@') : to.startsWith('+') ? `${to.slice(0, 3)}${'*'.repeat(Math.max(0, to.length - 5))}${to.slice(-2)}` : to;

export const toItem = (r: InboxRow): InboxItem => ({
  id: r.id,
  template: r.template,
  title: r.title,
  body: r.body,
  link: r.link,
  createdAt: r.created_at.toISOString(),
  readAt: r.read_at?.toISOString() ?? null,
});

export const toDelivery = (r: DeliveryRow) => ({
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

export const toSubscription = (r: PushSubscriptionRow) => ({
  id: r.id,
  endpointHost: new URL(r.endpoint).host,
  userAgent: r.user_agent,
  createdAt: r.created_at.toISOString(),
  lastSuccessAt: r.last_success_at?.toISOString() ?? null,
});
