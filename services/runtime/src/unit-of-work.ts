import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { EventContract } from '@lms/contracts';
import type { Kysely, Transaction } from 'kysely';
import type { z } from 'zod';
import type { RuntimeTables } from './events/types.js';
import { heldView, outsideClaim } from './idempotency.js';

/** Emits a domain event from a unit of work: written to the outbox in its transaction, relayed once it commits. */
export type Emit = <E extends EventContract>(event: E, payload: z.input<E['payload']>, key?: string) => Promise<string>;

/** What a unit of work hands its body: the transaction, the service's repository bound to it, and `emit`. */
export interface UnitOfWork<DB, R> {
  trx: Transaction<DB>;
  /** The service's repository over this transaction. */
  repo: R;
  emit: Emit;
  /** Runs `fn` once the unit's transaction has committed (never if it rolls back), outside any unit of work. */
  afterCommit: (fn: () => void) => void;
}

interface PendingEvent {
  id: string;
  subject: string;
  key: string | null;
  request_id: string | null;
  payload: string;
}

/** An open unit of work, as the async context sees it. */
interface Unit {
  /** Whose unit it is (the service's schema): a unit of work joins only one of its own service. */
  owner: string;
  trx: Transaction<any>;
  events: PendingEvent[];
  requestId: string | undefined;
  /** False once the transaction has ended: code started inside it and still running later goes back to the pool. */
  open: boolean;
  /** `withSchema` views of the transaction, by schema. */
  views: Map<string, Kysely<any>>;
  /** Work queued for after the commit (by the unit, or by units that joined it). */
  after: { push(fn: () => void): void };
}

const units = new AsyncLocalStorage<Unit>();

function current(): Unit | undefined {
  const u = units.getStore();
  return u?.open ? u : undefined;
}

/** Whether this code runs inside a unit of work (its database handles then mean its transaction). */
export function inUnitOfWork(): boolean {
  return current() !== undefined;
}

/**
 * Runs `fn` outside any unit of work (and any Idempotency-Key claim): background loops (relays, workers, sagas) woken from inside a transaction
 * must not join it.
 */
export function detached<T>(fn: () => T): T {
  // Nor the request's Idempotency-Key claim: their units of work are not the request's effects.
  return units.exit(() => outsideClaim(fn));
}

/**
 * Runs `body` as a unit of work over `trx` (a transaction the caller opened and will commit): while it runs, every
 * database handle from `routed()` means this transaction; events it emits are validated at once and written to the
 * outbox with one multi-row INSERT when the body returns, before the caller commits. Returns how many it emitted.
 */
export async function runUnit<T>(
  owner: string,
  trx: Transaction<any>,
  requestId: string | undefined,
  after: { push(fn: () => void): void },
  body: (emit: Emit) => Promise<T>,
): Promise<{ result: T; emitted: number }> {
  const unit: Unit = { owner, trx, events: [], requestId, open: true, views: new Map(), after };
  try {
    const result = await units.run(unit, () => body(emitInto(unit)));
    const emitted = unit.events.length;
    if (emitted) await (trx as Transaction<RuntimeTables>).insertInto('outbox').values(unit.events.splice(0)).execute();
    return { result, emitted };
  } finally {
    unit.open = false;
  }
}

/**
 * The unit of work this code runs in, if it is one of `owner`'s: a unit of work opened inside another of the same
 * service joins it (one transaction, its events flushed with the outer one's).
 */
export function joinUnit(owner: string): { trx: Transaction<any>; emit: Emit; afterCommit: (fn: () => void) => void } | undefined {
  const unit = current();
  if (!unit) return undefined;
  if (unit.owner !== owner) throw new Error(`a unit of work of ${owner} cannot open inside one of ${unit.owner}: call the other service instead`);
  return { trx: unit.trx, emit: emitInto(unit), afterCommit: (fn) => unit.after.push(fn) };
}

function emitInto(unit: Unit): Emit {
  return async (event, payload, key) => {
    const checked = event.payload.parse(payload); // an event that breaks its own contract is a bug: fail the change
    const id = randomUUID();
    unit.events.push({ id, subject: event.subject, key: key ?? null, request_id: unit.requestId ?? null, payload: JSON.stringify(checked) });
    return id;
  };
}

/**
 * A database handle that, inside a unit of work, is that unit's transaction: a repository built once over the
 * pool cannot query around the transaction by mistake (in embedded mode PGlite has one connection, and such a query
 * waited forever for the transaction holding it). Opening a transaction inside a unit of work is refused.
 */
export function routed<DB>(base: Kysely<DB>, schema: string | undefined): Kysely<DB> {
  return new Proxy(base, {
    get(target, prop) {
      const unit = current();
      if (!unit) {
        // After the request's first unit of work, while it is held open (idempotency.ts, Hold): its transaction.
        const held = schema === undefined ? undefined : heldView(schema);
        if (held) {
          const hv: unknown = Reflect.get(held, prop, held);
          return typeof hv === 'function' ? (hv as (...args: unknown[]) => unknown).bind(held) : hv;
        }
        const v: unknown = Reflect.get(target, prop, target);
        return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(target) : v;
      }
      if (prop === 'transaction') {
        return () => {
          throw new Error('already inside a unit of work: use its transaction (nested units of work join the outer one)');
        };
      }
      const view = schema === undefined ? unit.trx : viewOf(unit, schema);
      const v: unknown = Reflect.get(view, prop, view);
      return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(view) : v;
    },
  });
}

function viewOf(unit: Unit, schema: string): Kysely<any> {
  let view = unit.views.get(schema);
  if (!view) unit.views.set(schema, (view = unit.trx.withSchema(schema)));
  return view;
}
