/**
 * Idempotency-Key for mutations: a repeat of a request (the client's retry, or the broker's own retry after a timeout or
 * a dead node) answers the first request's response instead of doing the work again.
 *
 * One row per (caller, key) in the service's own schema (`idempotency_keys`), moving through three states:
 *
 *   pending ── the handler's first unit of work commits ──► applied ── the handler returns ──► done (response stored)
 *
 * - The claim (`pending`, owner node and its incarnation, attempt 1) is one INSERT of its own, before the handler runs.
 * - Every unit of work the handler opens marks the row `applied` inside its own transaction, fenced by the attempt
 *   number: the mark and the effects commit together, or neither does. A stale attempt (its key taken over) fails its
 *   unit, so two attempts can never both apply.
 * - When the handler returns, its response is stored (`done`); a domain error (4xx, not 401 or 429) is stored too, so
 *   that a repeat answers it again. Any other failure releases a `pending` claim (the next repeat runs afresh).
 *
 * A repeat finds the row and: answers the stored response (`done`); answers 422 IDEMPOTENCY_KEY_REUSED when the
 * request differs (another operation or body); waits while the owner node is alive and runs it (`pending`, `applied`),
 * up to LMS_IDEMPOTENCY_WAIT_MS, then 409 IDEMPOTENCY_KEY_IN_USE; takes over a `pending` claim whose owner is gone from
 * the registry (or restarted, or silent to a ping, or past LMS_IDEMPOTENCY_LEASE_MS) and runs it; and answers 409
 * IDEMPOTENCY_RESPONSE_LOST for an `applied` row whose owner is gone: the effect happened, its response died with the
 * node between the commit and the store, and running it again would repeat the effect. On PostgreSQL that window is
 * closed for handlers whose response follows their first unit of work (Hold: the response commits with the effects).
 *
 * Stored rows hold nothing readable without the key: the row id is a hash of caller and key, the request fingerprint an
 * HMAC and the response AES-256-GCM under keys derived from the client's key (a login's tokens are responses too).
 * Rows older than LMS_IDEMPOTENCY_TTL_S (24 h) count as absent and are pruned by every node.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { DomainError, isErrorCode, type ErrorCode } from '@lms/contracts';
import { sql, type ColumnType, type Generated, type Kysely, type Transaction } from 'kysely';
import type { ServiceBroker } from 'moleculer';
import { toPublicError } from './errors.js';
import type { Logger } from './logger.js';

export interface IdempotencySettings {
  /** How long a key and its response are kept (LMS_IDEMPOTENCY_TTL_S). */
  ttlS: number;
  /** How long a repeat waits for a live owner to finish (LMS_IDEMPOTENCY_WAIT_MS). */
  waitMs: number;
  /** After this long a claim no longer holds against a repeat, even on a live node (LMS_IDEMPOTENCY_LEASE_MS). */
  leaseMs: number;
}

/**
 * What a client may send: 1–255 visible ASCII characters but `"` and `,` (a tRPC batch lists one key per call,
 * comma-separated). Keys should be random (a UUID): the stored response is only as secret as the key.
 */
export const IDEMPOTENCY_KEY_PATTERN = '^[!#-+\\--~]{1,255}$';
const KEY = new RegExp(IDEMPOTENCY_KEY_PATTERN);

/**
 * A key as a client sent it: a bare token, or a structured-field string (`"…"`, as the IETF draft writes it).
 * Undefined when absent; a malformed key is refused (422), never ignored: the client meant to be safe.
 */
export function parseIdempotencyKey(raw: string | undefined, where = 'Idempotency-Key'): string | undefined {
  if (raw === undefined) return undefined;
  const v = raw.trim();
  const key = v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v;
  if (!KEY.test(key)) {
    const message = 'must be 1 to 255 visible ASCII characters, without `"` or `,` (use a UUID)';
    throw new DomainError('VALIDATION_FAILED', `Invalid input: ${where}: ${message}`, { issues: [{ path: where, message, code: 'invalid_format' }] });
  }
  return key;
}

interface KeyTable {
  /** sha256 of caller and key, hex: the key itself is never stored. */
  id: string;
  /** HMAC of the operation and its input under a key derived from the client's key. */
  fingerprint: string;
  state: 'pending' | 'applied' | 'done';
  /** Fencing token: a takeover increments it, and a unit of work marks the row applied only for its own attempt. */
  attempt: Generated<number>;
  /** Node id of the attempt running it ('' once abandoned), and that node's incarnation (Moleculer's instanceID). */
  owner: string;
  owner_instance: string;
  /** Set by the claim's INSERT (its default) and moved to now() by a takeover. */
  claimed_at: ColumnType<Date, never, Date>;
  created_at: ColumnType<Date, never, never>;
  /** The sealed outcome once `done`. */
  response: Buffer | null;
}
interface KeyTables {
  idempotency_keys: KeyTable;
}

/** The outcome a repeat answers: the first response, or the domain error the first request met. */
type Outcome = { ok: true; output: unknown } | { ok: false; error: { code: ErrorCode; message: string; details?: Record<string, unknown> } };

/** One mutation request under a key, as stored: ids and keys derived from the client's key, never the key itself. */
export interface KeyedRequest {
  id: string;
  fingerprint: string;
  /** AES-256-GCM key of the stored response. */
  seal: Buffer;
}

/** A claim this node runs under (the AsyncLocalStorage below carries it into the handler's units of work). */
export interface Claim {
  schema: string;
  id: string;
  attempt: number;
  /** False once the handler has returned: code it left running must not mark the row any more. */
  open: boolean;
  /** Set when a unit of work found its attempt taken over: its effects rolled back, another attempt answers. */
  superseded: boolean;
  /** The transaction of the handler's first unit of work, held open until the response is stored in it (see Hold). */
  hold?: Hold;
}

const claims = new AsyncLocalStorage<Claim>();

/** Runs `fn` outside any claim: background work kicked from a handler is not part of its request. */
export function outsideClaim<T>(fn: () => T): T {
  return claims.exit(fn);
}

/** What runs last in a held transaction before it commits: storing the response. */
export type LastStatement = (trx: Transaction<any>) => Promise<void>;

/**
 * Closes the window in which a node dies with its effects committed and its response not yet stored (a repeat could
 * then only answer IDEMPOTENCY_RESPONSE_LOST: the kill -9 tests met it for a few requests in every hundred, since the
 * store is a round trip of its own). The handler's first unit of work, once its body and the `applied` mark are done,
 * hands its result to the handler but does not commit yet: the handler goes on (its queries of this service run in the
 * held transaction, so it reads what it wrote), and when it returns its response is stored in the same transaction,
 * which then commits — effects, `applied` and the response together, or none of them. Anything the held transaction
 * must not wait for commits it first: a call to another service (which could not see the uncommitted rows), a second
 * unit of work, a handler that throws. Only on PostgreSQL (mesh): embedded PGlite has one connection, and a node that
 * dies takes every service with it.
 */
export class Hold {
  private ending = false;
  private finish: (last: LastStatement | undefined) => void = () => {};
  /** Resolves when the hold should end, with the statement to run last (if any). */
  readonly requested = new Promise<LastStatement | undefined>((resolve) => (this.finish = resolve));
  private readonly views = new Map<string, Kysely<any>>();
  /** Settles once the transaction committed (or failed to). */
  committed: Promise<void> = Promise.resolve();

  constructor(readonly trx: Transaction<any>) {}

  /** The held transaction, while it may still be used. */
  get open(): boolean {
    return !this.ending;
  }

  view(schema: string): Kysely<any> {
    let v = this.views.get(schema);
    if (!v) this.views.set(schema, (v = this.trx.withSchema(schema)));
    return v;
  }

  /** Runs `last` in the transaction and commits it; resolves once committed (rejects when the commit failed). */
  end(last?: LastStatement): Promise<void> {
    if (!this.ending) {
      this.ending = true;
      this.finish(last);
    }
    return this.committed;
  }
}

/** The claim whose first unit of work may be held open (see Hold): one open claim of `schema` that holds none yet. */
export function claimToHold(schema: string): Claim | undefined {
  const claim = claims.getStore();
  return claim?.open && claim.schema === schema && !claim.hold ? claim : undefined;
}

/** Inside a handler whose first unit is held open: that transaction, for `schema`'s queries outside a unit of work. */
export function heldView(schema: string): Kysely<any> | undefined {
  const claim = claims.getStore();
  return claim?.open && claim.schema === schema && claim.hold?.open ? claim.hold.view(schema) : undefined;
}

/**
 * Commits the request's held unit of work now (before a call to another service, another unit of work, or background
 * work the handler waits for, such as a saga it runs): what comes next reads what the unit wrote.
 */
export async function releaseHold(): Promise<void> {
  await claims.getStore()?.hold?.end();
}

/**
 * Runs `fn` once the request's held unit of work has committed (at once when there is none): a background loop woken
 * from a handler (a worker's `kick`) then finds what the unit queued. For work nobody awaits; what the handler awaits
 * releases the hold instead (`releaseHold`), or the two would wait for each other.
 */
export function afterHold(fn: () => void): void {
  const hold = claims.getStore()?.hold;
  if (hold) void hold.committed.then(fn, fn);
  else fn();
}

/** Thrown by a unit of work whose attempt was taken over; the request then answers what the new attempt answers. */
class Superseded extends Error {
  override name = 'Superseded';
}

/**
 * Called by a service's unit of work inside its transaction, just before it commits: marks the claim of the request
 * this unit serves (if any, of this service) `applied`, atomically with the unit's effects. Throws (rolling the unit
 * back) when another attempt has taken the key over.
 */
export async function markApplied(trx: Transaction<any>, schema: string): Promise<void> {
  const claim = claims.getStore();
  if (!claim?.open || claim.schema !== schema) return;
  const r = await (trx as Transaction<KeyTables>)
    .updateTable('idempotency_keys')
    .set({ state: 'applied' })
    .where('id', '=', claim.id)
    .where('attempt', '=', claim.attempt)
    .where('state', '!=', 'done')
    .executeTakeFirst();
  if (r.numUpdatedRows !== 1n) {
    claim.superseded = true;
    throw new Superseded('this request was taken over by a repeat with the same Idempotency-Key');
  }
}

/** Object keys sorted at every depth: one input, one text, whatever order the client wrote it in. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/** Ids and keys of one request: `scope` is the caller (a user id, or `anonymous`). */
export function keyedRequest(action: string, scope: string, key: string, input: unknown): KeyedRequest {
  const id = createHash('sha256').update(scope).update('\0').update(key).digest('hex');
  const okm = Buffer.from(hkdfSync('sha256', key, id, 'lms idempotency-key v1', 64));
  const fingerprint = createHmac('sha256', okm.subarray(32)).update(action).update('\0').update(canonical(input)).digest('hex');
  return { id, fingerprint, seal: okm.subarray(0, 32) };
}

function seal(key: Buffer, outcome: Outcome): Buffer {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([c.update(JSON.stringify(outcome), 'utf8'), c.final()]);
  return Buffer.concat([iv, c.getAuthTag(), body]);
}

function unseal(key: Buffer, sealed: Buffer): Outcome {
  const d = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12));
  d.setAuthTag(sealed.subarray(12, 28));
  return JSON.parse(Buffer.concat([d.update(sealed.subarray(28)), d.final()]).toString('utf8')) as Outcome;
}

/**
 * The domain error a repeat answers again, or undefined for a failure a repeat should retry: outages and timeouts
 * (5xx), rate limits (429), an expired token (401), and this module's own answers.
 */
function storedError(err: unknown): Outcome | undefined {
  const code = err instanceof DomainError ? err.code : (err as { type?: unknown } | null)?.type;
  if (!isErrorCode(code) || code.startsWith('IDEMPOTENCY_')) return undefined;
  const pub = toPublicError(err);
  if (pub.status < 400 || pub.status >= 500 || pub.status === 401 || pub.status === 429) return undefined;
  return { ok: false, error: { code: pub.code, message: pub.message, details: pub.details } };
}

/**
 * `from ${NO_FSYNC}` makes a one-statement transaction commit without waiting for its WAL flush (SET LOCAL
 * synchronous_commit = off, in the statement itself): the claim and the stored response would otherwise cost two
 * fsyncs per mutation, tripling its latency. Safe for the claim: the handler's unit of work commits synchronously after
 * it, which flushes the WAL up to and including the claim. A crash of PostgreSQL may lose a stored response of the last
 * moments: its row stays `applied`, and a repeat answers IDEMPOTENCY_RESPONSE_LOST instead of replaying.
 */
const NO_FSYNC = sql`(select set_config('synchronous_commit', 'off', true)) as no_fsync`;

/** A repeat waiting on a live owner pings it after this long, and counts it dead without a pong within the timeout. */
const PING_AFTER_MS = 500;
const PING_TIMEOUT_MS = 1_000;

const SETTLE_RETRY_MS = 250;

const PRUNE_EVERY_MS = 10 * 60_000;
const PRUNE_BATCH = 1000;
/** A request superseded this many times in a row gives up (409) rather than chase its key around the mesh. */
const MAX_ROUNDS = 3;

/** One service's keys: claims, repeats, takeovers, stored responses, pruning. */
export class IdempotencyStore {
  /** Claims this node is running now (`id:attempt`): a claim of this very incarnation not in here was left behind. */
  private readonly running = new Set<string>();
  private timers: NodeJS.Timeout[] = [];
  /** Statements ending a claim that failed, retried until they succeed or the claim's lease is over (`settle`). */
  private readonly unsettled = new Map<string, { op: () => Promise<void>; until: number }>();
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly db: Kysely<any>,
    private readonly schema: string,
    private readonly broker: ServiceBroker,
    private readonly settings: IdempotencySettings,
    private readonly log: Logger,
  ) {}

  private get table() {
    return sql.table(`${this.schema}.idempotency_keys`);
  }

  private get keys(): Kysely<KeyTables> {
    return this.db as Kysely<KeyTables>;
  }

  /**
   * Runs `fn` (the handler and its output check) once per key: answers the stored response of an earlier run, waits
   * for a running one, or runs it under a claim. `fn` answers the validated response; `replayed` hears of a replay.
   */
  async once(req: KeyedRequest, fn: () => Promise<unknown>, replayed: () => void = () => {}): Promise<unknown> {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const begun = await this.begin(req);
      if (!('attempt' in begun)) {
        replayed();
        return replay(begun);
      }
      const claim: Claim = { schema: this.schema, id: req.id, attempt: begun.attempt, open: true, superseded: false };
      const tag = `${claim.id}:${claim.attempt}`;
      this.running.add(tag);
      try {
        const output = await claims.run(claim, fn);
        claim.open = false;
        // Held open (see Hold): the response is stored in the unit's own transaction, committed with its effects.
        if (claim.hold?.open) await claim.hold.end((trx) => this.storeIn(trx, claim, req, { ok: true, output }));
        else {
          // Released early (a call, a broadcast, a saga after the unit) or never held: committed on its own.
          await claim.hold?.committed;
          await this.store(claim, req, { ok: true, output });
        }
        return output;
      } catch (err) {
        claim.open = false;
        // A unit that ran before the failure commits as it would have without the hold (a failed commit is the error).
        await claim.hold?.end().catch(() => {});
        if (claim.superseded) continue; // another attempt holds the key: answer what it answers, like any repeat
        const answer = storedError(err);
        await (answer ? this.store(claim, req, answer) : this.release(claim));
        throw err;
      } finally {
        this.running.delete(tag);
      }
    }
    throw inUse();
  }

  /** Claims the key (attempt number), or answers the outcome a repeat gets; waits while a live owner runs it. */
  private async begin(req: KeyedRequest): Promise<{ attempt: number } | Outcome> {
    const { nodeID, instanceID } = this.broker;
    const started = performance.now();
    const deadline = started + this.settings.waitMs;
    /** Owners that answered a ping while this repeat waited (asked once each). */
    const answered = new Map<string, boolean>();
    for (let step = 10; ; step = Math.min(step * 2, 200)) {
      // A row past its time counts as absent: the insert replaces it (pruning may lag).
      const claimed = (
        await sql<{ attempt: number }>`
          insert into ${this.table} (id, fingerprint, state, owner, owner_instance)
          select ${req.id}, ${req.fingerprint}, 'pending', ${nodeID}, ${instanceID} from ${NO_FSYNC}
          on conflict (id) do update set fingerprint = excluded.fingerprint, state = 'pending', attempt = ${this.table}.attempt + 1,
            owner = excluded.owner, owner_instance = excluded.owner_instance, response = null, claimed_at = now(), created_at = now()
          where ${this.table}.created_at < now() - make_interval(secs => ${this.settings.ttlS})
          returning attempt`.execute(this.db)
      ).rows[0];
      if (claimed) return { attempt: claimed.attempt };
      const row = await this.keys
        .selectFrom('idempotency_keys')
        .select(['fingerprint', 'state', 'attempt', 'owner', 'owner_instance', 'response'])
        .select(sql<number>`(extract(epoch from now() - claimed_at) * 1000)::float8`.as('age_ms'))
        .where('id', '=', req.id)
        .executeTakeFirst();
      if (!row) continue; // released or pruned meanwhile: claim it
      if (row.fingerprint !== req.fingerprint) {
        throw new DomainError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used with another request; use a new key for a new request');
      }
      if (row.state === 'done' && row.response) return unseal(req.seal, row.response);
      let live = Number(row.age_ms) < this.settings.leaseMs && this.alive(row.owner, row.owner_instance, `${req.id}:${row.attempt}`);
      // The registry drops a killed node only after its heartbeats stop counting: a repeat that has waited a moment on a
      // pending claim asks the owner itself. No answer is death: a slow node taken over by mistake is fenced (it cannot
      // apply any more). Not for an applied claim: there a mistake would answer RESPONSE_LOST for a response on its way.
      if (live && row.state === 'pending' && row.owner !== nodeID && performance.now() - started >= PING_AFTER_MS) {
        if (!answered.has(row.owner)) answered.set(row.owner, await this.answers(row.owner));
        live = answered.get(row.owner) === true;
      }
      if (!live && row.state === 'pending') {
        const taken = await this.keys
          .updateTable('idempotency_keys')
          .set({ attempt: sql<number>`attempt + 1`, owner: nodeID, owner_instance: instanceID, claimed_at: sql<Date>`now()` })
          .where('id', '=', req.id)
          .where('attempt', '=', row.attempt)
          .where('state', '=', 'pending')
          .returning('attempt')
          .executeTakeFirst();
        if (taken) {
          this.log.info({ owner: row.owner, attempt: taken.attempt }, 'took over the Idempotency-Key of a request whose node is gone');
          return { attempt: taken.attempt };
        }
        continue; // its owner marked it applied, or another repeat took it: look again
      }
      if (!live) {
        throw new DomainError(
          'IDEMPOTENCY_RESPONSE_LOST',
          'The request with this Idempotency-Key took effect, but its response was lost; read the resource to see the result',
          { applied: true },
        );
      }
      if (performance.now() + step > deadline) throw inUse();
      await new Promise((r) => setTimeout(r, step));
    }
  }

  /** Whether a node answers a ping within PING_TIMEOUT_MS. */
  private async answers(node: string): Promise<boolean> {
    try {
      return (await (this.broker.ping(node, PING_TIMEOUT_MS) as Promise<unknown>)) != null;
    } catch {
      return false; // no transporter connected: nobody can answer
    }
  }

  /** Whether the attempt that owns a claim may still be running: its node is in the registry, same incarnation. */
  private alive(owner: string, instance: string, tag: string): boolean {
    if (owner === this.broker.nodeID) return instance === this.broker.instanceID && this.running.has(tag);
    const node = this.broker.registry.nodes.get(owner) as { available?: boolean; instanceID?: string | null } | undefined;
    return node?.available === true && node.instanceID === instance;
  }

  /** Stores the outcome in the held transaction of the handler's unit of work: it commits with the effects (Hold). */
  private async storeIn(trx: Transaction<any>, claim: Claim, req: KeyedRequest, outcome: Outcome): Promise<void> {
    // Not NO_FSYNC: its set_config would make the whole transaction, effects included, commit without waiting for the WAL.
    await sql`update ${this.table} set state = 'done', response = ${seal(req.seal, outcome)}
              where id = ${claim.id} and attempt = ${claim.attempt}`.execute(trx);
  }

  /** Stores the outcome a repeat answers (the caller gets its answer even while the database is away: see `settle`). */
  private store(claim: Claim, req: KeyedRequest, outcome: Outcome): Promise<void> {
    const sealed = seal(req.seal, outcome);
    return this.settle(claim, 'store the response of', async () => {
      await sql`update ${this.table} set state = 'done', response = ${sealed} from ${NO_FSYNC}
                where id = ${claim.id} and attempt = ${claim.attempt}`.execute(this.db);
    });
  }

  /**
   * After a failure a repeat should retry: a claim that applied nothing is deleted (the repeat runs afresh); one whose
   * unit of work committed is abandoned (no owner), so that a repeat answers IDEMPOTENCY_RESPONSE_LOST at once.
   */
  private release(claim: Claim): Promise<void> {
    return this.settle(claim, 'release', async () => {
      const d = await this.keys
        .deleteFrom('idempotency_keys')
        .where('id', '=', claim.id)
        .where('attempt', '=', claim.attempt)
        .where('state', '=', 'pending')
        .executeTakeFirst();
      if (d.numDeletedRows === 0n) {
        await this.keys
          .updateTable('idempotency_keys')
          .set({ owner: '' })
          .where('id', '=', claim.id)
          .where('attempt', '=', claim.attempt)
          .where('state', '=', 'applied')
          .execute();
      }
    });
  }

  /**
   * Runs the statement that ends a claim; when it fails (the database is away, most likely the very reason the request
   * failed) it is retried in the background every 250 ms, for as long as the lease: meanwhile this live node answers
   * pings, so repeats elsewhere wait for it, and would otherwise meet 409 IN_USE until the lease ran out.
   */
  private async settle(claim: Claim, what: string, op: () => Promise<void>): Promise<void> {
    try {
      await op();
    } catch (err) {
      this.log.warn({ err: String(err) }, `could not ${what} an Idempotency-Key; retrying while the database is away`);
      this.unsettled.set(`${claim.id}:${claim.attempt}`, { op, until: performance.now() + this.settings.leaseMs });
      this.retryUnsettled();
    }
  }

  private retryUnsettled(): void {
    if (this.retryTimer || this.unsettled.size === 0) return;
    this.retryTimer = setTimeout(() => {
      void (async () => {
        for (const [tag, u] of this.unsettled) {
          try {
            await u.op();
            this.unsettled.delete(tag);
          } catch {
            if (performance.now() > u.until) this.unsettled.delete(tag); // the lease frees it now
          }
        }
        this.retryTimer = undefined;
        if (!this.stopped) this.retryUnsettled();
      })();
    }, SETTLE_RETRY_MS);
    this.retryTimer.unref();
  }

  /** Deletes the rows past LMS_IDEMPOTENCY_TTL_S, a batch at a time (short locks); answers how many. */
  async prune(): Promise<number> {
    let total = 0;
    for (;;) {
      const r = await this.keys
        .deleteFrom('idempotency_keys')
        .where('id', 'in', (q) =>
          q
            .selectFrom('idempotency_keys')
            .select('id')
            .where('created_at', '<', sql<Date>`now() - make_interval(secs => ${this.settings.ttlS})`)
            .limit(PRUNE_BATCH),
        )
        .executeTakeFirst();
      const n = Number(r.numDeletedRows);
      total += n;
      if (n < PRUNE_BATCH) return total;
    }
  }

  /** Prunes every ten minutes (every node does; deleting the same old rows twice is harmless), the first soon after start. */
  start(): void {
    const run = () =>
      void this.prune().then(
        (n) => n && this.log.info(`pruned ${n} expired Idempotency-Keys`),
        (err: unknown) => this.log.warn({ err: String(err) }, 'could not prune expired Idempotency-Keys'),
      );
    this.timers = [setInterval(run, PRUNE_EVERY_MS), setTimeout(run, 5_000 + Math.random() * 5_000)];
    for (const t of this.timers) t.unref();
  }

  stop(): void {
    this.stopped = true;
    for (const t of [...this.timers, this.retryTimer]) clearTimeout(t);
  }
}

function inUse(): DomainError {
  return new DomainError('IDEMPOTENCY_KEY_IN_USE', 'A request with this Idempotency-Key is still running; try again shortly', { retryAfterSeconds: 1 });
}

function replay(outcome: Outcome): unknown {
  if (outcome.ok) return outcome.output;
  throw new DomainError(outcome.error.code, outcome.error.message, outcome.error.details);
}
