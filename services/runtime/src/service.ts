import {
  auditInternal,
  DomainError,
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
import { toTransportError, validationError } from './errors.js';
import { addToOutbox } from './events/outbox.js';
import { OutboxRelay } from './events/outbox.js';
import type { RuntimeTables, Subscription } from './events/types.js';
import { errInfo, type Logger } from './logger.js';
import { actionDuration } from './metrics.js';
import { inSpan, traceCarrier, type TraceCarrier } from './tracing.js';
import type { Migrations } from './migrate.js';
import type { Runtime } from './runtime.js';

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

/** Roles whose permissions count only in sessions that used a second factor (LMS_MFA_REQUIRED_ROLES). */
let mfaRoles: { raw: string; roles: string[] } | undefined;
export function mfaRequiredRoles(): string[] {
  // Read on every call (tests and operators change it at run time), parsed only when it changed: this is on
  // the path of every action.
  const raw = process.env.LMS_MFA_REQUIRED_ROLES ?? '';
  if (mfaRoles?.raw !== raw) mfaRoles = { raw, roles: raw.split(',').map((s) => s.trim()).filter(Boolean) };
  return mfaRoles.roles;
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
}

export type Emit = <E extends EventContract>(event: E, payload: z.input<E['payload']>, key?: string) => Promise<string>;

/** Calls another service's action, typed by its contract; the caller's token and the request id travel along. */
export async function call<C extends AnyProcedure>(
  ctx: Context<unknown, CallMeta>,
  contract: C,
  input: z.input<C['input']>,
): Promise<z.output<C['output']>> {
  // Not `via`: a REPL call is audited once, where it lands, not at every service it reaches.
  return ctx.call(contract.action, input, { meta: { edge: false, trace: traceCarrier(), token: ctx.meta.token, via: undefined } satisfies CallMeta }) as Promise<z.output<C['output']>>;
}

export interface HandlerArgs<C extends AnyProcedure, DB, R = unknown> {
  input: z.output<C['input']>;
  /** Undefined only on public and internal procedures. */
  caller: Caller | undefined;
  /** The HTTP client (IP, user agent) when the call came through the gateway. */
  client: CallMeta['client'];
  requestId: string;
  ctx: Context<unknown, CallMeta>;
  db: Kysely<DB>;
  /** The service's repository, built once over `db`. */
  repo: R;
  logger: Logger;
  call: <T extends AnyProcedure>(contract: T, input: z.input<T['input']>) => Promise<z.output<T['output']>>;
  /** A transaction whose emitted events are written to the outbox in it, and relayed once it commits. */
  tx: <R>(fn: (trx: Transaction<DB>, emit: Emit) => Promise<R>) => Promise<R>;
  /** Whether the caller holds a permission (admins hold every one). */
  can: (permission: PermissionName) => boolean;
}

export type Handlers<D extends DomainContracts, DB, R> = {
  [K in keyof D]: (args: HandlerArgs<D[K], DB, R>) => Promise<z.input<D[K]['output']>>;
};

export interface ConsumerDefinition<E extends EventContract = EventContract, DB = any> {
  /** Group name, unique within the service; the durable consumer is `<service>-<name>`. */
  name: string;
  event: E;
  handle: (payload: z.output<E['payload']>, event: EventEnvelope<z.output<E['payload']>>, trx: Transaction<DB>, runtime: Runtime) => Promise<void>;
  /** Optional bulk form of `handle` (same effect, fewer statements): see Subscription.handleMany. */
  handleMany?: (events: Array<EventEnvelope<z.output<E['payload']>>>, trx: Transaction<DB>, runtime: Runtime) => Promise<void>;
  /** Empties the projection so that a rebuild can replay the stream into it. */
  reset?: (trx: Transaction<DB>) => Promise<void>;
  maxDeliver?: number;
}

export function consumer<E extends EventContract, DB = any>(def: ConsumerDefinition<E, DB>): ConsumerDefinition {
  return def as unknown as ConsumerDefinition;
}

export interface ServiceDefinition<D extends DomainContracts, DB, R> {
  name: string;
  /** Postgres schema of the service; defaults to its name. */
  schema?: string;
  contracts: D;
  /** Builds the service's repository (the only code that queries its tables) and whatever else handlers share. */
  repository?: (db: Kysely<DB>, runtime: Runtime) => R;
  /** Runs once the service and its consumers have started (resume background work here). */
  started?: (repo: R) => Promise<void>;
  /** Runs when the service stops, after its consumers and relay. */
  stopped?: (repo: R) => Promise<void>;
  handlers: Handlers<D, DB, R>;
  migrations?: Migrations;
  consumers?: ConsumerDefinition[];
  /** Services that must be reachable for this one to be ready. */
  dependencies?: string[];
}

/** A service module: what the CLI needs to migrate it and to start it. */
export interface ServiceModule {
  name: string;
  schema: string;
  migrations: Migrations;
  consumers: ConsumerDefinition[];
  /** The procedures it serves (its Moleculer actions, besides `health` and the `events.*` operator actions). */
  contracts?: DomainContracts;
  build(runtime: Runtime): ServiceSchema;
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
export function defineService<D extends DomainContracts, DB = unknown, R = undefined>(def: ServiceDefinition<D, DB, R>): ServiceModule {
  const schemaName = def.schema ?? def.name;
  return {
    name: def.name,
    schema: schemaName,
    migrations: def.migrations ?? {},
    consumers: def.consumers ?? [],
    contracts: def.contracts,
    build(runtime) {
      const db = runtime.db.forSchema<DB>(schemaName);
      const repo = (def.repository?.(db, runtime) ?? undefined) as R;
      const logger = runtime.logger(def.name);
      const relay = new OutboxRelay(def.name, db as unknown as Kysely<RuntimeTables>, runtime.transport, runtime.logger(`${def.name}.outbox`));
      runtime.relays.push(relay);
      const subs: Subscription[] = (def.consumers ?? []).map((c) => ({
        consumer: `${def.name}-${c.name}`,
        events: [c.event],
        db: db as Kysely<any>,
        handle: (env, trx) => c.handle(env.payload, env, trx, runtime),
        handleMany: c.handleMany ? (envs, trx) => c.handleMany!(envs, trx, runtime) : undefined,
        reset: c.reset,
        maxDeliver: c.maxDeliver ?? runtime.config.maxDeliver,
      }));
      for (const s of subs) runtime.subscriptions.set(s.consumer, s);
      const handles: Array<{ stop(): Promise<void> }> = [];

      const actions: NonNullable<ServiceSchema['actions']> = {};
      for (const [name, contract] of Object.entries(def.contracts)) {
        const handler = def.handlers[name as keyof D] as (a: HandlerArgs<AnyProcedure, DB, R>) => Promise<unknown>;
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
              await runtime.broker.call(auditInternal.recordOperatorCall.action, { action: contract.action, requestId: ctx.meta.requestId }, { meta: { token: ctx.meta.token, edge: false } satisfies CallMeta });
            }
            authorize(contract, ctx.meta, caller);
            const nul = nulIssues(ctx.params);
            if (nul[0]) throw new DomainError('VALIDATION_FAILED', `Invalid input: ${nul[0].path}: ${nul[0].message}`, { issues: nul });
            const parsed = contract.input.safeParse(ctx.params ?? {});
            if (!parsed.success) throw validationError(parsed.error);
            const perms = callerPermissions(caller);
            const result = await handler({
              input: parsed.data,
              caller,
              client: ctx.meta.client,
              requestId: ctx.meta.requestId ?? ctx.requestID ?? '',
              ctx,
              db,
              repo,
              logger,
              call: (c, input) => call(ctx, c, input),
              can: (p) => perms.has(p),
              tx: async (fn) => {
                let emitted = 0;
                const r = await db.transaction().execute((trx) =>
                  fn(trx, (event, payload, key) => {
                    emitted++;
                    return addToOutbox(trx as Transaction<any>, event, payload, { key, requestId: ctx.meta.requestId });
                  }),
                );
                if (emitted) relay.kick();
                return r;
              },
            });
            const out = contract.output.safeParse(result);
            if (!out.success) {
              logger.error({ action: contract.action, issues: validationError(out.error, 'output').details }, 'handler returned a value that breaks its contract');
              throw new DomainError('INTERNAL', 'The service returned an invalid response');
            }
            return out.data;
          } catch (err) {
            outcome = 'error';
            if (err instanceof DomainError) throw toTransportError(err);
            if (err instanceof Errors.MoleculerError) throw err; // from a nested call: already public-safe
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
            return inSpan(contract.action, ctx.meta.trace, attributes, () => run(ctx));
          },
        };
      }
      // Readiness probe: the gateway's /health/ready asks every required service.
      actions.health = {
        visibility: 'public',
        async handler() {
          await runtime.db.ping();
          return { ok: true, service: def.name };
        },
      };

      // Operator actions for the event consumers (REPL, `lms events ...`); never exposed at the edge.
      if (subs.length) {
        const find = (name: string) => {
          const sub = runtime.subscriptions.get(name);
          if (!sub) throw new Errors.MoleculerClientError(`no consumer ${name}`, 404, 'NOT_FOUND');
          return sub;
        };
        actions['events.consumers'] = { visibility: 'public', handler: () => subs.map((s) => ({ consumer: s.consumer, events: s.events.map((e) => e.subject) })) };
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
          for (const s of subs) handles.push(await runtime.transport.subscribe(s));
          await def.started?.(repo);
        },
        async stopped() {
          await relay.stop();
          await Promise.all(handles.map((h) => h.stop()));
          await def.stopped?.(repo);
        },
      };
    },
  };
}
