import type { ColumnType, Generated, Selectable } from 'kysely';

type Stamp = ColumnType<Date, undefined, unknown>;
type Json = ColumnType<Record<string, string> | null, string | null, string | null>;

export interface NotificationsDB {
  /** What was asked (`notification.requested`, a welcome, an announcement's recipient), before routing. */
  requests: {
    event_id: string;
    user_id: string | null;
    to: string | null;
    template: string;
    locale: ColumnType<string, string | undefined, string>;
    data: Json;
    announcement_id: string | null;
    status: ColumnType<string, string | undefined, string>;
    attempts: ColumnType<number, number | undefined, number>;
    run_after: Stamp;
    created_at: Stamp;
  };
  /** One row per message handed to a channel (email, push, sms). */
  deliveries: {
    id: Generated<string>;
    event_id: string;
    user_id: string | null;
    channel: string;
    template: string;
    recipient: string;
    provider_id: string | null;
    sent_at: Date | null;
    status: ColumnType<string, string | undefined, string>;
    attempts: ColumnType<number, number | undefined, number>;
    run_after: ColumnType<Date, Date | undefined, unknown>;
    last_error: string | null;
    locale: ColumnType<string, string | undefined, string>;
    data: Json;
    digest: string | null;
    digest_id: string | null;
    announcement_id: string | null;
    updated_at: Stamp;
  };
  delivery_attempts: {
    id: ColumnType<string, undefined, never>;
    event_id: string;
    delivery_id: string;
    at: ColumnType<Date, undefined, never>;
    outcome: string;
    error: string | null;
  };
  keys: { id: number; key: string };
  inbox: {
    id: string;
    event_id: string;
    user_id: string;
    template: string;
    title: string;
    body: string;
    link: string | null;
    created_at: ColumnType<Date, undefined, never>;
    read_at: Date | null;
  };
  push_subscriptions: {
    id: string;
    user_id: string;
    endpoint: string;
    p256dh: string;
    auth: string;
    user_agent: string | null;
    created_at: Stamp;
    last_success_at: Date | null;
  };
  announcements: {
    id: string;
    kind: ColumnType<string, string | undefined, string>;
    course_id: string;
    course_title: string;
    author_id: string;
    title: string;
    body: string;
    status: ColumnType<string, string | undefined, string>;
    recipients: ColumnType<number, number | undefined, unknown>;
    cursor: string | null;
    run_after: Stamp;
    created_at: Stamp;
  };
}

export type DeliveryRow = Selectable<NotificationsDB['deliveries']>;
export type RequestRow = Selectable<NotificationsDB['requests']>;
export type InboxRow = Selectable<NotificationsDB['inbox']>;
export type AnnouncementRow = Selectable<NotificationsDB['announcements']>;
