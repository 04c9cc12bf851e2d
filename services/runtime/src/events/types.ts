import type { EventContract, EventEnvelope } from '@lms/contracts';
import { retryDelay, retryPolicies } from '../retry.js';
import type { ColumnType, Generated, Kysely, Transaction } from 'kysely';

/** A jsonb column: read as parsed JSON, written as a JSON string. */
export type JsonColumn<T = unknown> = ColumnType<T, string, string>;

export interface OutboxRow {
  seq: number;
  id: string;
  subject: string;
  key: string | null;
  request_id: string | null;
  payload: unknown;
  occurred_at: Date;
}

/** The tables the runtime keeps in each service's schema. */
export interface RuntimeTables {
  outbox: Omit<OutboxRow, 'seq' | 'occurred_at' | 'payload'> & { seq: Generated<number>; occurred_at: Generated<Date>; payload: JsonColumn };
  processed_events: { consumer: string; event_id: string; processed_at: Generated<Date> };
  dead_letters: {
    id: Generated<number>;
    consumer: string;
    event_id: string;
    subject: string;
    envelope: JsonColumn;
    error: string;
    deliveries: number;
    failed_at: Generated<Date>;
  };
}

export type EventHandler<E extends EventContract = EventContract> = (
  event: EventEnvelope<import('zod').output<E['payload']>>,
  trx: Transaction<any>,
) => Promise<void>;

/** A durable consumer group: one per (service, purpose). */
export interface Subscription {
  /** Durable consumer name, e.g. `analytics-courses`: the group that shares the work. */
  consumer: string;
  events: EventContract[];
  db: Kysely<any>;
  /** `afterCommit` queues work to run once the batch's transaction has committed (dropped if it rolls back). */
  handle: (event: EventEnvelope, trx: Transaction<any>, afterCommit?: (fn: () => void) => void) => Promise<void>;
  /**
   * Optional: applies several fresh events at once (one bulk statement instead of one per event).
   * Used instead of `handle` when present; it must have the same effect as calling `handle` on each.
   */
  handleMany?: (events: EventEnvelope[], trx: Transaction<any>, afterCommit?: (fn: () => void) => void) => Promise<void>;
  /** Deliveries before a message is dead-lettered. */
  maxDeliver: number;
  /** Clears the projection before a rebuild, inside the same transaction as clearing processed ids. */
  reset?: (trx: Transaction<any>) => Promise<void>;
  /** Called after a batch's transaction commits (benchmarks, tests). */
  onApplied?: (events: EventEnvelope[]) => void;
}

export interface SubscriptionHandle {
  stop(): Promise<void>;
}

export interface DeadLetter {
  /** Stream sequence (JetStream) or row id (embedded). */
  id: number;
  consumer: string;
  eventId: string;
  subject: string;
  error: string;
  deliveries: number;
  failedAt: string;
  envelope: EventEnvelope;
}

export interface EventTransport {
  readonly kind: 'jetstream' | 'embedded';
  /** Whether the relay may keep its row locks (and so a connection) while publishing. */
  readonly lockWhilePublishing: boolean;
  publish(rows: OutboxRow[]): Promise<void>;
  subscribe(sub: Subscription): Promise<SubscriptionHandle>;
  /** Dead letters of a consumer group, oldest first. */
  deadLetters(sub: Subscription, limit?: number): Promise<DeadLetter[]>;
  /** Sends a dead letter back to its consumer group and removes it from the dead letters. */
  replay(sub: Subscription, id: number): Promise<void>;
  /** Drops what the group has applied and feeds it the whole stream again. */
  rebuild(sub: Subscription): Promise<void>;
  close(): Promise<void>;
}

/** Delay before the next delivery after `deliveries` failed ones: the runtime's retry policy for events. */
export function backoffMs(deliveries: number, base: number = retryPolicies.events.baseMs): number {
  return retryDelay(deliveries, { baseMs: base, maxMs: retryPolicies.events.maxMs });
}

export function toEnvelope(row: OutboxRow): EventEnvelope {
  return {
    id: row.id,
    subject: row.subject,
    version: Number(row.subject.match(/\.v(\d+)$/)?.[1] ?? 1),
    occurredAt: new Date(row.occurred_at).toISOString(),
    key: row.key,
    requestId: row.request_id,
    payload: row.payload,
  };
}
