import type { EventEnvelope } from '@lms/contracts';
import { sql } from 'kysely';
import { isDatabaseUnavailable } from '../errors.js';
import { eventsHandled, eventLatency } from '../metrics.js';
import type { Subscription } from './types.js';

export class PoisonMessageError extends Error {
  override name = 'PoisonMessageError';
}

/** Parses and validates one message body; a body that can never be applied is poison. */
export function decode(sub: Subscription, data: Uint8Array | string): EventEnvelope {
  let env: EventEnvelope;
  try {
    env = JSON.parse(typeof data === 'string' ? data : new TextDecoder().decode(data)) as EventEnvelope;
  } catch {
    throw new PoisonMessageError('body is not JSON');
  }
  const contract = sub.events.find((e) => e.subject === env?.subject);
  if (!contract) throw new PoisonMessageError(`no contract for subject ${String(env?.subject)}`);
  if (typeof env.id !== 'string') throw new PoisonMessageError('envelope has no id');
  const parsed = contract.payload.safeParse(env.payload);
  if (!parsed.success) throw new PoisonMessageError(`payload fails ${contract.subject}: ${parsed.error.issues[0]?.message}`);
  return { ...env, subject: contract.subject, payload: parsed.data };
}

/**
 * Applies events in one transaction together with the record that they were applied:
 * an event id already recorded for this consumer is skipped, so a redelivery or a replay
 * has no second effect. Throws if any handler throws; nothing of the batch is then kept.
 */
export async function applyBatch(sub: Subscription, envelopes: EventEnvelope[]): Promise<number> {
  if (envelopes.length === 0) return 0;
  const after: Array<() => void> = [];
  const afterCommit = (fn: () => void) => void after.push(fn);
  const applied = await sub.db.transaction().execute(async (trx) => {
    const fresh = await trx
      .insertInto('processed_events')
      .values(envelopes.map((e) => ({ consumer: sub.consumer, event_id: e.id })))
      .onConflict((oc) => oc.doNothing())
      .returning('event_id')
      .execute();
    const freshIds = new Set(fresh.map((r: { event_id: string }) => r.event_id));
    const toApply: EventEnvelope[] = [];
    for (const env of envelopes) {
      if (!freshIds.has(env.id)) continue;
      freshIds.delete(env.id); // the same id twice in one batch applies once
      toApply.push(env);
    }
    if (sub.handleMany) {
      if (toApply.length) await sub.handleMany(toApply, trx, afterCommit);
    } else {
      for (const env of toApply) await sub.handle(env, trx, afterCommit);
    }
    return fresh.length;
  });
  for (const fn of after) fn();
  sub.onApplied?.(envelopes);
  const now = Date.now();
  for (const env of envelopes) eventLatency.observe({ consumer: sub.consumer }, (now - Date.parse(env.occurredAt)) / 1000);
  eventsHandled.inc({ consumer: sub.consumer, result: 'applied' }, applied);
  if (envelopes.length > applied) eventsHandled.inc({ consumer: sub.consumer, result: 'duplicate' }, envelopes.length - applied);
  return applied;
}

/**
 * `applyBatch`, waiting out a database outage instead of failing the delivery: JetStream counts every redelivery,
 * so naking events while PostgreSQL is away would dead-letter good events after a few seconds of outage. While the
 * database is unreachable the batch is held (`hold()` tells JetStream the messages are still being worked on, so
 * their ack wait does not run out) and tried again, 250 ms doubling to 2 s apart, until it applies, fails for
 * another reason (thrown: the usual retry and dead-letter path), or `stopping()` (thrown: redelivered later).
 */
export async function applyThroughOutage(
  sub: Subscription,
  envelopes: EventEnvelope[],
  /** `onOutage`: called once, when the outage is first met (for a log line). */
  o: { hold(): void; stopping(): boolean; onOutage?(err: unknown): void },
): Promise<number> {
  for (let wait = 250; ; wait = Math.min(wait * 2, 2_000)) {
    try {
      return await applyBatch(sub, envelopes);
    } catch (err) {
      if (!isDatabaseUnavailable(err) || o.stopping()) throw err;
      if (wait === 250) o.onOutage?.(err);
      o.hold();
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}

/** Clears a consumer's processed ids and its projection, for a rebuild. */
export async function resetConsumer(sub: Subscription): Promise<void> {
  await sub.db.transaction().execute(async (trx) => {
    await trx.deleteFrom('processed_events').where('consumer', '=', sub.consumer).execute();
    await sub.reset?.(trx);
  });
}

/**
 * Forgets the consumer's processed ids older than `horizonMs` (by the database's clock), a batch at a time so that
 * no long transaction holds the table: past the horizon the stream no longer holds the event, so no redelivery of
 * it can arrive. Returns how many were removed.
 */
export async function pruneProcessed(sub: Pick<Subscription, 'db' | 'consumer'>, horizonMs: number, batch = 5_000): Promise<number> {
  const cutoff = sql<Date>`now() - ${sql.lit(Math.floor(horizonMs))} * interval '1 millisecond'`;
  let total = 0;
  for (;;) {
    const old = sub.db.selectFrom('processed_events').select('event_id').where('consumer', '=', sub.consumer).where('processed_at', '<', cutoff).limit(batch);
    const r = await sub.db.deleteFrom('processed_events').where('consumer', '=', sub.consumer).where('event_id', 'in', old).executeTakeFirst();
    const n = Number(r.numDeletedRows);
    total += n;
    if (n < batch) return total;
  }
}
