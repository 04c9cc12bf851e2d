import { AsyncLocalStorage } from 'node:async_hooks';
import type { ServerResponse } from 'node:http';
import { catalogue, type AnyProcedure, type AppRouter, type LmsErrorData } from '@lms/contracts';
import { errorHeaders, parseIdempotencyKey, toPublicError, type Caller, type PublicError, type TraceCarrier } from '@lms/runtime';
import { initTRPC, TRPCError } from '@trpc/server';
import type { TRPC_ERROR_CODE_KEY } from '@trpc/server';
import { TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc';
import { sendJson, type GatewayRequest } from './http.js';

export interface TrpcContext {
  requestId: string;
  /** The procedures of a batch, in order; undefined for a single call. Each call of a batch has its own request id. */
  batch?: string[];
  /** Resolved lazily so that a bad token fails the procedure, not the whole batch. */
  caller: () => Promise<Caller | undefined>;
  /** The bearer token the caller was verified from, forwarded to the services. */
  token: () => string | undefined;
  /** Incoming W3C trace context, if the client sent one. */
  trace?: TraceCarrier;
  client: { ip: string; userAgent?: string };
  /** The `Idempotency-Key` header: one key per call of the batch, comma-separated, in order (empty for none). */
  idempotencyKeys: string | undefined;
}

/** The key a tRPC call carries: its item of the header's list (the whole header for a single call). */
export function trpcIdempotencyKey(header: string | undefined, index: number): string | undefined {
  if (header === undefined) return undefined;
  const item = header.split(',')[index]?.trim();
  return item ? parseIdempotencyKey(item) : undefined;
}

export type Forward = (
  contract: AnyProcedure,
  input: unknown,
  ctx: {
    requestId: string;
    caller: Caller | undefined;
    token: string | undefined;
    trace?: TraceCarrier;
    edge: 'trpc' | 'rest';
    client: { ip: string; userAgent?: string };
    /** The client's Idempotency-Key for this call, validated; a mutation without one gets one of the gateway's. */
    idempotencyKey?: string;
    /** Told when the service answered with the stored response of an earlier request with the same key. */
    replayed?: () => void;
  },
) => Promise<unknown>;

const TRPC_CODE: Record<number, TRPC_ERROR_CODE_KEY> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_SUPPORTED',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  422: 'UNPROCESSABLE_CONTENT',
  429: 'TOO_MANY_REQUESTS',
  500: 'INTERNAL_SERVER_ERROR',
  503: 'SERVICE_UNAVAILABLE',
  504: 'GATEWAY_TIMEOUT',
};

class ForwardedError extends TRPCError {
  constructor(
    readonly pub: PublicError,
    readonly requestId: string,
  ) {
    super({ code: TRPC_CODE[pub.status] ?? 'INTERNAL_SERVER_ERROR', message: pub.message });
  }
}

/** The request id of one call: the HTTP request's, and `<id>-<index>` for the calls of a batch. */
export function callRequestId(requestId: string, batch: boolean, index: number): string {
  return batch ? `${requestId}-${index}` : requestId;
}

/** The HTTP request being answered, for errors tRPC raises before any context exists (content type, body). */
export const trpcRequest = new AsyncLocalStorage<{ requestId: string; batch?: string[] }>();

/** What tRPC itself refuses (route, body, method, content type), in the public error model. */
function publicOfTrpc(error: TRPCError): PublicError {
  switch (error.code) {
    case 'NOT_FOUND':
      return { code: 'ROUTE_NOT_FOUND', status: 404, message: error.message };
    case 'PARSE_ERROR':
    case 'BAD_REQUEST':
    case 'CLIENT_CLOSED_REQUEST':
      return { code: 'BAD_REQUEST', status: 400, message: error.message };
    case 'PAYLOAD_TOO_LARGE':
      return { code: 'PAYLOAD_TOO_LARGE', status: 413, message: 'Body too large' };
    case 'METHOD_NOT_SUPPORTED':
      return { code: 'METHOD_NOT_ALLOWED', status: 405, message: error.message };
    case 'UNSUPPORTED_MEDIA_TYPE':
      return { code: 'UNSUPPORTED_MEDIA_TYPE', status: 415, message: 'Send the body as application/json' };
    default:
      return toPublicError(error.cause ?? error);
  }
}

/** The procedures a `/trpc/...` URL names (`a.b,c.d`), and whether it is a batch. */
export function trpcCallsOf(url: string): { paths: string[]; batch: boolean } {
  const u = new URL(url, 'http://local');
  let names = u.pathname.replace(/^\/trpc\/?/, '');
  try {
    names = decodeURIComponent(names);
  } catch {
    /* reported as sent */
  }
  const batch = u.searchParams.get('batch') === '1';
  const paths = names.split(',');
  return { paths: batch ? paths : paths.slice(0, 1), batch };
}

/** An error the edge answers before tRPC runs (rate limit, batch cap, bad URL), in the tRPC envelope. */
export function sendTrpcError(req: GatewayRequest, res: ServerResponse, pub: PublicError, headers: Record<string, string> = {}): void {
  const { paths, batch } = trpcCallsOf(req.originalUrl ?? req.url ?? '/');
  const entry = (path: string | undefined, i: number) => {
    const data: LmsErrorData = { code: pub.code, httpStatus: pub.status, details: pub.details, requestId: callRequestId(req.$requestId, batch, i), path };
    return { error: { message: pub.message, code: TRPC_ERROR_CODES_BY_KEY[TRPC_CODE[pub.status] ?? 'INTERNAL_SERVER_ERROR'], data } };
  };
  sendJson(res, pub.status, batch ? paths.map(entry) : entry(paths[0], 0), { ...errorHeaders(pub), ...headers });
}

/**
 * The tRPC router, built from the contracts: every procedure only forwards to its action.
 * Input is validated once, by the service, so both edges report the same VALIDATION_FAILED.
 */
export function buildTrpcRouter(forward: Forward): AppRouter {
  const t = initTRPC.context<TrpcContext>().create({
    errorFormatter({ shape, error, ctx, path }) {
      const pub: PublicError = error instanceof ForwardedError ? error.pub : publicOfTrpc(error);
      const scope = ctx ?? trpcRequest.getStore();
      const index = scope?.batch && path !== undefined ? Math.max(0, scope.batch.indexOf(path)) : 0;
      const requestId = error instanceof ForwardedError ? error.requestId : scope ? callRequestId(scope.requestId, scope.batch !== undefined, index) : '';
      const data: LmsErrorData = {
        code: pub.code,
        httpStatus: pub.status,
        details: pub.details,
        requestId,
        path: shape.data.path,
      };
      return { message: pub.message, code: shape.code, data };
    },
  });
  const domains: Record<string, Record<string, unknown>> = {};
  for (const [domain, procedures] of Object.entries(catalogue)) {
    const record: Record<string, unknown> = {};
    for (const [name, contract] of Object.entries(procedures as Record<string, AnyProcedure>)) {
      const proc = t.procedure.input((raw: unknown) => raw ?? {});
      const resolve = async ({ input, ctx, batchIndex }: { input: unknown; ctx: TrpcContext; batchIndex?: number }) => {
        const requestId = callRequestId(ctx.requestId, ctx.batch !== undefined, batchIndex ?? 0);
        try {
          const idempotencyKey = contract.kind === 'mutation' ? trpcIdempotencyKey(ctx.idempotencyKeys, batchIndex ?? 0) : undefined;
          const caller = await ctx.caller();
          return await forward(contract, input, {
            requestId,
            caller,
            token: caller ? ctx.token() : undefined,
            trace: ctx.trace,
            edge: 'trpc',
            client: ctx.client,
            idempotencyKey,
          });
        } catch (err) {
          throw new ForwardedError(toPublicError(err), requestId);
        }
      };
      record[name] = contract.kind === 'query' ? proc.query(resolve) : proc.mutation(resolve);
    }
    domains[domain] = record;
  }
  // The runtime router is built by loop; its type is the one derived from the contracts.
  return t.router(domains as never);
}
