import {
  auditInternal,
  type CallerOptional,
  DomainError,
  idempotentByItself,
  nulIssues,
  permissionsOf,
  type AnyProcedure,
  type DomainContracts,
  type EventContract,
  type EventEnvelope,
  type PermissionName,
} from '@lms/contracts';
import type { Kysely, Transaction } from 'kysely';
import { Errors, type Context, type ServiceSchema } from 'moleculer';
import type { z } from 'zod';
import { databaseUnavailable, isDatabaseUnavailable, isUnreachable, toTransportError, validationError } from './errors.js';
import { OutboxRelay } from './events/outbox.js';
import { detached, inUnitOfWork, joinUnit, routed, runUnit, type UnitOfWork } from './unit-of-work.js';
import type { RuntimeTables, Subscription } from './events/types.js';
import { errInfo, type Logger } from './logger.js';
import { actionDuration } from './metrics.js';
import { inSpan, traceCarrier, type TraceCarrier } from './tracing.js';
import type { Migrations } from './migrate.js';
import type { Runtime } from './runtime.js';
import { envOf, type EnvSchema } from './config.js';
import { Hold, IdempotencyStore, claimToHold, keyedRequest, markApplied, parseIdempotencyKey, releaseHold, type Claim } from './idempotency.js';

/** The authenticated caller, as this node's TokenVerifier read it from the access token in `meta.token`. */
export interface Caller {
  userId: string;
  roles: string[];
  email?: string;
  /** The auth session the access token belongs to (`sid` claim). */
  sessionId?: string;
  /** The session signed in with a second factor (`amr` claim holds `otp`). */
  mfa?: boolean;
}

/** Roles whose permissions count only in sessions that used a second factor (LMS_MFA_REQUIRED_ROLES, set at node start). */
let mfaRoles: string[] = [];
export function mfaRequiredRoles(): string[] {
  return mfaRoles;
}
export function setMfaRequiredRoles(roles: string[]): void {
  mfaRoles = roles;
}

/** What a caller may do: their roles' permissions, less those that need MFA this session lacks. */
export function callerPermissions(caller: Caller | undefined): Set<PermissionName> {
  return permissionsOf(caller?.roles ?? [], { mfa: caller?.mfa === true, mfaRequiredRoles: mfaRequiredRoles() });
}

/** What travels in `ctx.meta` on every call. */
export interface CallMeta {
  /**
   * The signed-in person's access token (the gateway forwards the bearer token; nested calls pass it on).
   * Every action verifies it and derives the caller from it.
   */
  token?: string;
  /**
   * Derived: the action wrapper sets it from `token` on arrival. A caller sent by a peer without a
   * valid token is ignored, whoever sent it.
   */
  caller?: Caller;
  /** `repl` for calls made by an operator's REPL (audited as that operator). */
  via?: 'repl';
  requestId?: string;
  /** True when the call came straight from the gateway; nested service calls clear it. */
  edge?: boolean;
  /** W3C trace context (`traceparent`, `tracestate`) of the calling span. */
  trace?: TraceCarrier;
  /** The HTTP client as the gateway saw it (set by the gateway only). */
  client?: { ip: string; userAgent?: string };
  /**
   * The request's Idempotency-Key (mutations; the gateway sets the client's, or one of its own per request): it stays in
   * the context, so the broker's retries of this call carry it; nested calls do not inherit it.
   */
  idempotencyKey?: string;
  /** Set by the service that answered with the stored response of an earlier request (travels back with the answer). */
  idempotentReplay?: boolean;
}

export type { Emit, UnitOfWork } from './unit-of-work.js';

/** A typed call of another service's action. */
export type Call = <T extends AnyProcedure>(contract: T, input: z.input<T['input']>, opts?: CallOptions) => Promise<z.output<T['output']>>;

export interface CallOptions {
  /** Longer (or shorter) than the broker's request timeout, for a call known to take long (a privacy export). */
  timeout?: number;
}

/** Calls another service's action, typed by its contract; the caller's token and the request id travel along. */
export async function call<C extends AnyProcedure>(
  ctx: Context<unknown, CallMeta>,
  contract: C,
  input: z.input<C['input']>,
  opts: CallOptions = {},
): Promise<z.output<C['output']>> {
  // Not `via`: a REPL call is audited once, where it lands, not at every service it reaches.
  return ctx.call<z.output<C['output']>, z.input<C['input']>>(contract.action, input, {
    ...opts,
    // Not the Idempotency-Key either: it names the caller's request, not this call (Moleculer copies the parent's meta).
    meta: { edge: false, trace: traceCarrier(), token: ctx.meta.token, via: undefined, idempotencyKey: undefined } satisfies CallMeta,
  });
}

/** The caller a handler receives: always one, but on public and internal procedures (where there may be none). */
export type CallerOf<C extends AnyProcedure> = C['permission'] extends CallerOptional ? Caller | undefined : Caller;

/** Runs `fn` as one unit of work: one transaction; its events reach the outbox with it and are relayed after it commits. */
export type RunUnit<DB, R> = <T>(fn: (w: UnitOfWork<DB, R>) => Promise<T>) => Promise<T>;

/**
 * What a service's background code (workers, sagas, jobs, its `deps` factory) gets from the runtime: what handlers
 * get, without a caller.
 */
export interface ServiceContext<DB, R, Cfg = unknown> {
  name: string;
  /** The service's declared environment (`env` of its definition), parsed once when the node started. */
  config: Cfg;
  /** The service's repository. Inside a unit of work it queries through that unit's transaction. */
  repo: R;
  uow: RunUnit<DB, R>;
  /** Calls another service's action as the service itself (no caller: internal procedures). */
  call: Call;
  logger: Logger;
  /** Wakes this service's outbox relay (after a commit that wrote events outside `uow`). */
  kickRelay(): void;
  /** Tells every node (Moleculer broadcast, not the event log): for notices that change in-memory state (revoked sessions). */
  broadcast<P>(name: string, payload: P): Promise<void>;
  runtime: Runtime;
}

export interface HandlerArgs<C extends AnyProcedure, DB, R = unknown, Deps = unknown> {
  input: z.output<C['input']>;
  /** The verified caller; `undefined` is possible only on public and internal procedures. */
  caller: CallerOf<C>;
  /** The HTTP client (IP, user agent) when the call came through the gateway. */
  client: CallMeta['client'];
  requestId: string;
  ctx: Context<unknown, CallMeta>;
  /** The service's repository (inside `uow`, it queries through the unit's transaction). */
  repo: R;
  /** The service's typed dependencies (workers, token issuers, throttles…), built once. */
  deps: Deps;
  logger: Logger;
  /** Calls another service's action with this caller's token. */
  call: Call;
  /** One unit of work: a transaction, the repository bound to it, `emit`; events relayed once it commits. */
  uow: RunUnit<DB, R>;

  /** Whether the caller holds a permission (admins hold every one). */
  can: (permission: PermissionName) => boolean;
}

export type Handlers<D extends DomainContracts, DB, R, Deps = unknown> = {
  [K in keyof D]: (args: HandlerArgs<D[K], DB, R, Deps>) => Promise<z.input<D[K]['output']>>;
};

/** What a consumer's handler gets: the event, and a unit of work over the transaction that records it as applied. */
export interface ConsumerArgs<E extends EventContract, DB, R, Deps> extends UnitOfWork<DB, R> {
  payload: z.output<E['payload']>;
  event: EventEnvelope<z.output<E['payload']>>;
  deps: Deps;
  logger: Logger;
}

export interface ConsumerDefinition<E extends EventContract = EventContract, DB = any, R = any, Deps = any> {
  /** Group name, unique within the service; the durable consumer is `<service>-<name>`. */
  name: string;
  event: E;
  /** Applies one event, in the transaction that records it as applied; events it emits commit with it. */
  handle: (e: ConsumerArgs<E, DB, R, Deps>) => Promise<void>;
  /** Optional bulk form of `handle` (same effect, fewer statements): see Subscription.handleMany. */
  handleMany?: (events: Array<EventEnvelope<z.output<E['payload']>>>, w: UnitOfWork<DB, R> & { deps: Deps }) => Promise<void>;
  /** Empties the projection so that a rebuild can replay the stream into it. */
  reset?: (w: UnitOfWork<DB, R>) => Promise<void>;
  maxDeliver?: number;
}

/**
 * A `consumer()` typed by its service: `const on = consumerOf<NotificationsDB, NotificationsRepository, Deps>()`, then
 * `on({ name, event, handle: async ({ payload, repo, deps }) => … })` — repo and deps typed, not `any`.
 */
export function consumerOf<DB, R, Deps>() {
  return <E extends EventContract>(def: ConsumerDefinition<E, DB, R, Deps>): ConsumerDefinition<EventContract, DB, R, Deps> => consumer(def);
}

/** Declares a consumer; its repository and dependencies are typed by the service it is declared in. */
export function consumer<E extends EventContract, DB = any, R = any, Deps = any>(
  def: ConsumerDefinition<E, DB, R, Deps>,
): ConsumerDefinition<EventContract, DB, R, Deps> {
  return def;
}

/** What `started`/`stopped` receive: the service's deps, or (services without `deps`) its repository. */
type LifecycleArg<R, Deps> = unknown extends Deps ? R : Deps extends undefined ? R : Deps;

export interface ServiceDefinition<D extends DomainContracts, DB, R, Deps, Cfg> {
  name: string;
  /** The environment variables the service reads (`declareEnv`): parsed once at start, typed in `deps`' context. */
  env?: z.ZodType<Cfg> & EnvSchema;
  /** Postgres schema of the service; defaults to its name. */
  schema?: string;
  contracts: D;
  /**
   * Builds the service's repository (the only code that queries its tables), once, over the service's database handle:
   * inside a unit of work that handle (and so the repository) queries through the unit's transaction.
   */
  repository?: (db: Kysely<DB>) => R;
  /** Builds the service's other dependencies (workers, sagas, issuers, throttles) once, from its context. */
  deps?: (service: ServiceContext<DB, R, Cfg>) => Deps;
  /** Runs once the service and its consumers have started (resume background work here). */
  started?: (deps: NoInfer<LifecycleArg<R, Deps>>, service: ServiceContext<DB, R, Cfg>) => Promise<void>;
  /** Runs when the service stops, after its consumers and relay. */
  stopped?: (deps: NoInfer<LifecycleArg<R, Deps>>, service: ServiceContext<DB, R, Cfg>) => Promise<void>;
  handlers: Handlers<D, DB, R, Deps>;
  migrations?: Migrations;
  consumers?: Array<ConsumerDefinition<EventContract, DB, R, Deps>>;
  /** Services that must be reachable for this one to be ready. */
  dependencies?: string[];
}

/** What a service's `health` action answers: which node answered, and whether its database did. */
export interface ServiceHealth {
  ok: boolean;
  service: string;
  node: string;
  database: 'up' | 'down';
}

/** A service module: what the CLI needs to migrate it and to start it. */
export interface ServiceModule {
  name: string;
  schema: string;
  /** The environment variables it reads, declared. */
  env?: EnvSchema;
  migrations: Migrations;
  consumers: Array<ConsumerDefinition<EventContract, any, any, any>>;
  /** The procedures it serves (its Moleculer actions, besides `health` and the `events.*` operator actions). */
  contracts?: DomainContracts;
  build(runtime: Runtime): ServiceSchema;
}

/**
 * A call of another service from inside a unit of work is refused: the callee cannot see the unit's uncommitted rows,
 * and in embedded mode (PGlite: one connection, held by the unit's transaction) its queries would wait forever.
 */
function outsideUnit(c: AnyProcedure): void {
  if (inUnitOfWork()) throw new Error(`${c.action} called inside a unit of work: call other services before or after it`);
}

function authorize(c: AnyProcedure, meta: CallMeta, caller: Caller | undefined): void {
  const p = c.permission;
  if (p === 'public') return;
  if (p === 'internal') {
    if (meta.edge) throw new DomainError('FORBIDDEN', 'This operation is not available');
    return;
  }
  if (!caller) throw new DomainError('UNAUTHENTICATED', 'Sign in to do this');
  if (p === 'authenticated') return;
  if (!callerPermissions(caller).has(p)) {
    if (permissionsOf(caller.roles).has(p)) {
      throw new DomainError('MFA_REQUIRED', `Requires the ${p} permission, which your role grants only after two-step sign-in`, { permission: p });
    }
    throw new DomainError('FORBIDDEN', `Requires the ${p} permission`, { permission: p });
  }
}

/**
 * Turns a contract plus handlers into a Moleculer service: each action validates its input
 * and output with the contract's zod schemas and checks the permission against the caller
 * in `ctx.meta`, so a service is safe whoever calls it.
 */
export function defineService<D extends DomainContracts, DB = unknown, R = undefined, Deps = undefined, Cfg = Record<string, never>>(
  def: ServiceDefinition<D, DB, R, Deps, Cfg>,
): ServiceModule {
  const schemaName = def.schema ?? def.name;
  return {
    name: def.name,
    env: def.env,
    schema: schemaName,
    migrations: def.migrations ?? {},
    consumers: def.consumers ?? [],
    contracts: def.contracts,
    build(runtime) {
      // Inside a unit of work this handle (and every repository over it) is the unit's transaction.
      const db = routed(runtime.db.forSchema<DB>(schemaName), schemaName);
      // Built once: inside a unit of work it queries through the unit's transaction (the handle is routed), so units
      // reuse it instead of building one per transaction.
      const repo = (def.repository?.(db) ?? undefined) as R;
      const logger = runtime.logger(def.name);
      const relay = new OutboxRelay(def.name, db as unknown as Kysely<RuntimeTables>, runtime.transport, runtime.logger(`${def.name}.outbox`));
      runtime.relays.push(relay);
      const kickRelay = () => detached(() => relay.kick());

      /**
       * One transaction: `fn` as a unit of work, the request's Idempotency-Key (if any) marked `applied` with its effects,
       * then `beforeCommit` (a held unit waits there for the handler's response); the relay and the after-commit work
       * once it committed.
       */
      const inTransaction = async <T>(
        fn: (w: UnitOfWork<DB, R>) => Promise<T>,
        requestId: string | undefined,
        beforeCommit?: (trx: Transaction<DB>, result: T) => Promise<void>,
      ): Promise<T> => {
        let emitted = 0;
        const after: Array<() => void> = [];
        const result = await runtime.db
          .forSchema<DB>(schemaName)
          .transaction()
          .execute(async (trx) => {
            const r = await runUnit(schemaName, trx, requestId, after, (emit) => fn({ trx, repo, emit, afterCommit: (f) => void after.push(f) }));
            await markApplied(trx, schemaName);
            emitted = r.emitted;
            await beforeCommit?.(trx, r.result);
            return r.result;
          });
        if (emitted) kickRelay();
        for (const f of after) detached(f);
        return result;
      };
      /** One unit of work of this service; one opened inside another of this service joins it. */
      const unitOfWork = async <T>(fn: (w: UnitOfWork<DB, R>) => Promise<T>, requestId?: string): Promise<T> => {
        const outer = joinUnit(schemaName);
        if (outer) return fn({ trx: outer.trx as Transaction<DB>, repo, emit: outer.emit, afterCommit: outer.afterCommit });
        const claim = runtime.db.kind === 'postgres' ? claimToHold(schemaName) : undefined;
        if (claim) return heldUnitOfWork(claim, fn, requestId);
        await releaseHold(); // a second unit of work of the request: the first one commits before it begins
        return inTransaction(fn, requestId);
      };
      /**
       * The first unit of work of a request with an Idempotency-Key, held open once its body is done: its result goes to
       * the handler, and it commits when the handler's response is stored in it (idempotency.ts, Hold), or earlier when
       * the handler calls another service or opens another unit. A failure before the hand-over is the unit's error.
       */
      const heldUnitOfWork = async <T>(claim: Claim, fn: (w: UnitOfWork<DB, R>) => Promise<T>, requestId?: string): Promise<T> => {
        let handOver: (result: T) => void = () => {};
        const handed = new Promise<T>((resolve) => (handOver = resolve));
        const committed: Promise<void> = inTransaction(fn, requestId, async (trx, result) => {
          const hold = new Hold(trx);
          hold.committed = committed;
          claim.hold = hold;
          handOver(result);
          const last = await hold.requested;
          if (last) await last(trx);
        }).then(() => {});
        committed.catch(() => {}); // observed by whoever ends the hold; before the hand-over, by the race below
        return Promise.race([handed, committed.then(() => handed)]);
      };
      /** A call as the service itself (background code): no caller, so internal procedures only. */
      const serviceCall: Call = async <T extends AnyProcedure>(c: T, input: z.input<T['input']>, opts: CallOptions = {}) => {
        outsideUnit(c);
        await releaseHold(); // the callee must see what this request's unit of work wrote
        return detached(() =>
          runtime.broker.call<z.output<T['output']>, z.input<T['input']>>(c.action, input, {
            ...opts,
            meta: { edge: false, trace: traceCarrier() } satisfies CallMeta,
          }),
        );
      };
      // Parsed with the runtime's variables when the node started (one error listing every problem).
      const config = (def.env ? envOf(runtime.config, def.env) : {}) as Cfg;
      const service: ServiceContext<DB, R, Cfg> = {
        name: def.name,
        config,
        repo,
        uow: (fn) => unitOfWork(fn),
        call: serviceCall,
        logger,
        kickRelay,
        // Nodes hearing it may read what the request wrote (a verifier reloading roles): a held unit commits first.
        broadcast: async (name, payload) => {
          await releaseHold();
          await runtime.broker.broadcast(name, payload);
        },
        runtime,
      };
      const deps = def.deps?.(service) as Deps;
      runtime.deps.set(def.name, deps);
      const lifecycleArg = (def.deps ? deps : repo) as LifecycleArg<R, Deps>;

      /** A consumer's handler runs as a unit of work over the transaction that records the event as applied. */
      const asUnit = async (
        trx: Transaction<any>,
        requestId: string | undefined,
        afterCommit: ((fn: () => void) => void) | undefined,
        fn: (w: UnitOfWork<DB, R>) => Promise<void>,
      ) => {
        // Called by a transport, after its commit; called straight from a test, on the next turn.
        const later = (f: () => void) => (afterCommit ? afterCommit(() => detached(f)) : void setImmediate(() => detached(f)));
        const r = await runUnit(schemaName, trx, requestId, { push: later }, (emit) => fn({ trx: trx as Transaction<DB>, repo, emit, afterCommit: later }));
        if (r.emitted) later(kickRelay);
      };
      const subs: Subscription[] = (def.consumers ?? []).map((c) => {
        const many = c.handleMany;
        const reset = c.reset;
        return {
          consumer: `${def.name}-${c.name}`,
          events: [c.event],
          db: runtime.db.forSchema<any>(schemaName),
          handle: (env, trx, afterCommit) =>
            asUnit(trx, env.requestId ?? undefined, afterCommit, (w) => c.handle({ ...w, payload: env.payload, event: env, deps, logger })),
          handleMany: many ? (envs, trx, afterCommit) => asUnit(trx, undefined, afterCommit, (w) => many(envs, { ...w, deps })) : undefined,
          reset: reset
            ? (trx) =>
                asUnit(
                  trx,
                  undefined,
                  () => {},
                  (w) => reset(w),
                )
            : undefined,
          maxDeliver: c.maxDeliver ?? runtime.config.maxDeliver,
        };
      });
      for (const s of subs) runtime.subscriptions.set(s.consumer, s);
      const handles: Array<{ stop(): Promise<void> }> = [];
      const idempotency = new IdempotencyStore(
        runtime.db.forSchema(schemaName),
        schemaName,
        runtime.broker,
        runtime.config.idempotency,
        runtime.logger(`${def.name}.idempotency`),
      );

      // One warning per outage burst, not one per failed request (thousands while the database is away).
      let lastOutageLog = 0;
      const outageNoticed = (action: string, what: string) => {
        if (Date.now() - lastOutageLog < 5_000) return;
        lastOutageLog = Date.now();
        logger.warn({ action, unavailable: what }, 'unavailable; calls answer 503 until it is back');
      };

      const actions: NonNullable<ServiceSchema['actions']> = {};
      for (const [name, contract] of Object.entries(def.contracts)) {
        const handler = def.handlers[name as keyof D] as (a: HandlerArgs<AnyProcedure, DB, R, Deps>) => Promise<unknown>;
        if (!handler) throw new Error(`${def.name}: no handler for ${contract.action}`);
        /** Permission, input, handler, output: the contract enforced on every call. */
        const run = async (ctx: Context<unknown, CallMeta>) => {
          const started = performance.now();
          let outcome = 'ok';
          try {
            // The caller comes from a verified token, never from what the sender wrote into meta.caller.
            const caller = typeof ctx.meta.token === 'string' ? await runtime.verifier.verify(ctx.meta.token) : undefined;
            ctx.meta.caller = caller;
            if (ctx.meta.via === 'repl' && caller && contract.action !== auditInternal.recordOperatorCall.action) {
              // An operator's REPL call is audited as that operator before it runs (refused ones too); a fresh
              // call, so that nothing of its meta merges back into this one.
              await runtime.broker.call(
                auditInternal.recordOperatorCall.action,
                { action: contract.action, requestId: ctx.meta.requestId },
                { meta: { token: ctx.meta.token, edge: false } satisfies CallMeta },
              );
            }
            authorize(contract, ctx.meta, caller);
            const nul = nulIssues(ctx.params);
            if (nul[0]) throw new DomainError('VALIDATION_FAILED', `Invalid input: ${nul[0].path}: ${nul[0].message}`, { issues: nul });
            const parsed = contract.input.safeParse(ctx.params ?? {});
            if (!parsed.success) throw validationError(parsed.error);
            const perms = callerPermissions(caller);
            const requestId = ctx.meta.requestId;
            const invoke = async () => {
              const result = await handler({
                input: parsed.data,
                // authorize() let no call without a caller through to a procedure that needs one.
                caller: caller as Caller,
                client: ctx.meta.client,
                requestId: requestId ?? ctx.requestID ?? '',
                ctx,
                repo,
                deps,
                logger,
                call: async (c, input, opts) => {
                  outsideUnit(c);
                  await releaseHold(); // the callee must see what this request's unit of work wrote
                  return detached(() => call(ctx, c, input, opts));
                },
                can: (p) => perms.has(p),
                uow: (fn) => unitOfWork(fn, requestId),
              });
              const out = contract.output.safeParse(result);
              if (!out.success) {
                logger.error(
                  { action: contract.action, issues: validationError(out.error, 'output').details },
                  'handler returned a value that breaks its contract',
                );
                throw new DomainError('INTERNAL', 'The service returned an invalid response');
              }
              return out.data;
            };
            // A mutation with an Idempotency-Key runs once per (caller, key): a repeat answers the first response.
            const sent: unknown = ctx.meta.idempotencyKey;
            const key = contract.kind === 'mutation' && typeof sent === 'string' ? parseIdempotencyKey(sent) : undefined;
            // A call idempotent by itself (the contract's idempotentBy field sent) keeps no record: running a repeat is safe.
            if (key === undefined || idempotentByItself(contract, parsed.data)) return await invoke();
            return await idempotency.once(keyedRequest(contract.action, caller?.userId ?? 'anonymous', key, parsed.data), invoke, () => {
              ctx.meta.idempotentReplay = true;
            });
          } catch (err) {
            outcome = 'error';
            if (err instanceof DomainError) throw toTransportError(err);
            if (err instanceof Errors.MoleculerError) throw err; // from a nested call: already public-safe
            if (isDatabaseUnavailable(err) || isUnreachable(err)) {
              // An outage, not a bug: the unit of work rolled back (or never began); the caller gets a retryable 503.
              outageNoticed(contract.action, isDatabaseUnavailable(err) ? 'database' : 'a server it calls');
              throw databaseUnavailable();
            }
            logger.error({ action: contract.action, requestId: ctx.meta.requestId, err: errInfo(err) }, 'unhandled error');
            throw new Errors.MoleculerError('Internal error', 500, 'INTERNAL');
          } finally {
            actionDuration.observe({ action: contract.action, outcome }, (performance.now() - started) / 1000);
          }
        };
        actions[name] = {
          visibility: 'published',
          handler(ctx: Context<unknown, CallMeta>) {
            const attributes = { 'rpc.system': 'moleculer', 'rpc.method': contract.action, 'lms.request_id': ctx.meta.requestId ?? '' };
            // A local call (embedded mode) from inside another service's unit of work must not run in its transaction.
            return detached(() => inSpan(contract.action, ctx.meta.trace, attributes, () => run(ctx)));
          },
        };
      }
      // Readiness probe: the gateway's /health/ready asks every required service. It answers (rather than fails)
      // while the database is away, so that readiness can tell "this service's database is down" from "no instance".
      actions.health = {
        visibility: 'public',
        async handler(): Promise<ServiceHealth> {
          const database = (await runtime.db.reachable()) ? 'up' : 'down';
          return { ok: database === 'up', service: def.name, node: String(runtime.broker.nodeID), database };
        },
      };

      // Operator action (REPL, tests): prune the keys past LMS_IDEMPOTENCY_TTL_S now, as the timer does every ten minutes.
      actions['idempotency.prune'] = {
        visibility: 'public',
        handler: async () => ({ pruned: await idempotency.prune() }),
      };

      // Operator actions for the event consumers (REPL, `lms events ...`); never exposed at the edge.
      if (subs.length) {
        const find = (name: string) => {
          const sub = runtime.subscriptions.get(name);
          if (!sub) throw new Errors.MoleculerClientError(`no consumer ${name}`, 404, 'NOT_FOUND');
          return sub;
        };
        actions['events.consumers'] = {
          visibility: 'public',
          handler: () => subs.map((s) => ({ consumer: s.consumer, events: s.events.map((e) => e.subject) })),
        };
        actions['events.deadLetters'] = {
          visibility: 'public',
          handler: (ctx: Context<{ consumer: string; limit?: number }>) => runtime.transport.deadLetters(find(ctx.params.consumer), ctx.params.limit),
        };
        actions['events.replay'] = {
          visibility: 'public',
          handler: async (ctx: Context<{ consumer: string; id: number }>) => {
            await runtime.transport.replay(find(ctx.params.consumer), Number(ctx.params.id));
            return { replayed: ctx.params.id };
          },
        };
        actions['events.rebuild'] = {
          visibility: 'public',
          handler: async (ctx: Context<{ consumer: string }>) => {
            await runtime.transport.rebuild(find(ctx.params.consumer));
            return { rebuilding: ctx.params.consumer };
          },
        };
      }

      return {
        name: def.name,
        dependencies: def.dependencies,
        actions,
        async started() {
          idempotency.start();
          for (const s of subs) handles.push(await runtime.transport.subscribe(s));
          await def.started?.(lifecycleArg, service);
        },
        async stopped() {
          idempotency.stop();
          await relay.stop();
          await Promise.all(handles.map((h) => h.stop()));
          await def.stopped?.(lifecycleArg, service);
        },
      };
    },
  };
}
