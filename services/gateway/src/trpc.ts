import { catalogue, type AnyProcedure, type AppRouter, type LmsErrorData } from '@lms/contracts';
import { toPublicError, type Caller, type PublicError, type TraceCarrier } from '@lms/runtime';
import { initTRPC, TRPCError } from '@trpc/server';
import type { TRPC_ERROR_CODE_KEY } from '@trpc/server';

export interface TrpcContext {
  requestId: string;
  /** Resolved lazily so that a bad token fails the procedure, not the whole batch. */
  caller: () => Promise<Caller | undefined>;
  /** The bearer token the caller was verified from, forwarded to the services. */
  token: () => string | undefined;
  /** Incoming W3C trace context, if the client sent one. */
  trace?: TraceCarrier;
  client: { ip: string; userAgent?: string };
}

export type Forward = (
  contract: AnyProcedure,
  input: unknown,
  ctx: { requestId: string; caller: Caller | undefined; token: string | undefined; trace?: TraceCarrier; edge: 'trpc' | 'rest'; client: { ip: string; userAgent?: string } },
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
  constructor(readonly pub: PublicError) {
    super({ code: TRPC_CODE[pub.status] ?? 'INTERNAL_SERVER_ERROR', message: pub.message });
  }
}

/**
 * The tRPC router, built from the contracts: every procedure only forwards to its action.
 * Input is validated once, by the service, so both edges report the same VALIDATION_FAILED.
 */
export function buildTrpcRouter(forward: Forward): AppRouter {
  const t = initTRPC.context<TrpcContext>().create({
    errorFormatter({ shape, error, ctx }) {
      const pub: PublicError =
        error instanceof ForwardedError
          ? error.pub
          : error.code === 'NOT_FOUND'
            ? { code: 'ROUTE_NOT_FOUND', status: 404, message: error.message }
            : error.code === 'PARSE_ERROR' || error.code === 'BAD_REQUEST'
              ? { code: 'BAD_REQUEST', status: 400, message: error.message }
              : error.code === 'PAYLOAD_TOO_LARGE'
                ? { code: 'PAYLOAD_TOO_LARGE', status: 413, message: 'Body too large' }
                : error.code === 'METHOD_NOT_SUPPORTED'
                  ? { code: 'METHOD_NOT_ALLOWED', status: 405, message: error.message }
                  : toPublicError(error.cause ?? error);
      const data: LmsErrorData = {
        code: pub.code,
        httpStatus: pub.status,
        details: pub.details,
        requestId: ctx?.requestId ?? '',
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
      const resolve = async ({ input, ctx }: { input: unknown; ctx: TrpcContext }) => {
        try {
          const caller = await ctx.caller();
          return await forward(contract, input, { requestId: ctx.requestId, caller, token: caller ? ctx.token() : undefined, trace: ctx.trace, edge: 'trpc', client: ctx.client });
        } catch (err) {
          throw new ForwardedError(toPublicError(err));
        }
      };
      record[name] = contract.kind === 'query' ? proc.query(resolve) : proc.mutation(resolve);
    }
    domains[domain] = record;
  }
  // The runtime router is built by loop; its type is the one derived from the contracts.
  return t.router(domains as never) as unknown as AppRouter;
}
