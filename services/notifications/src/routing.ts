import { randomUUID } from 'node:crypto';
import {
  defaultNotificationPreferences,
  mandatoryTypes,
  templateType,
  type DeliveryMode,
  type NotificationPreferences,
  type NotificationTemplate,
} from '@lms/contracts';
import type { Insertable } from 'kysely';
import { nextDigestAt, quietUntil } from './clock.js';
import type { InboxRow, NotificationsDB, RequestRow } from './db.js';
import { render } from './templates.js';

/** The routing rules: whether, when, on which channels and in which language a request is delivered. Pure: no I/O. */

/** Templates that carry a secret (a link with a token) go by email only: never the inbox, a phone or a push service. */
export const EMAIL_ONLY: ReadonlySet<NotificationTemplate> = new Set(['email_verification', 'password_reset']);

/** A user's notification settings, as the users service answers them. */
export interface Settings {
  email: string;
  displayName: string;
  locale: string;
  timezone: string;
  status: string;
  preferences: NotificationPreferences;
}

/** What routing one request decides: its deliveries and its in-app copy. */
export interface Routed {
  rows: Array<Insertable<NotificationsDB['deliveries']>>;
  item?: Omit<InboxRow, 'created_at'>;
}

/**
 * Applies a user's preferences to one request. `settings` is undefined for a request without a user, null for an
 * account that is gone; `devices` is how many push subscriptions the user has; held messages wait for the next
 * `digestHour` (NOTIFY_DIGEST_HOUR) in the user's time zone.
 */
export function route(
  r: RequestRow,
  settings: Settings | null | undefined,
  devices: number,
  smsReady: boolean,
  publicUrl: string,
  now = new Date(),
  digestHour = 8,
): Routed {
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
    const base = {
      event_id: r.event_id,
      user_id: r.user_id,
      channel,
      template,
      recipient,
      provider_id: null,
      sent_at: null,
      attempts: 0,
      locale,
      announcement_id: r.announcement_id,
      digest_id: null,
    };
    if (mode === 'never') return out.rows.push({ ...base, status: 'skipped', digest: null, data: null, last_error: 'turned off in the user preferences' });
    if (mode === 'immediately')
      return out.rows.push({ ...base, status: 'queued', digest: null, data: JSON.stringify(data), last_error: null, run_after: quiet ?? now });
    return out.rows.push({
      ...base,
      status: 'held',
      digest: mode,
      data: JSON.stringify(data),
      last_error: null,
      run_after: nextDigestAt(now, tz, mode, digestHour),
    });
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
