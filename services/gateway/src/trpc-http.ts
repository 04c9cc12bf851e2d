import type { ServerResponse } from 'node:http';
import type { AppRouter } from '@lms/contracts';
import { carrierFromHeaders, RETRY_AFTER_S, toPublicError, type Logger } from '@lms/runtime';
import { nodeHTTPRequestHandler } from '@trpc/server/adapters/node-http';
import type { EdgeAuth } from './edge-auth.js';
import { clientOf, contentEncodingOf, hasBody, headerOf, inflate } from './edge.js';
import type { GatewayRequest } from './http.js';
import { sendTrpcError, trpcCallsOf, trpcRequest, type TrpcContext } from './trpc.js';

/** `/trpc`: a compressed body is inflated within the body limit, then tRPC's node adapter runs the router. */
export function trpcHandler(router: AppRouter, edgeAuth: EdgeAuth, bodyLimitBytes: number, log: Logger) {
  return async function trpc(req: GatewayRequest, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://local');
    const encoding = contentEncodingOf(req);
    if (encoding && hasBody(req)) {
      // tRPC reads the body as it comes: a compressed one is inflated here, within the same size limit.
      try {
        req.body = await inflate(req, encoding, bodyLimitBytes);
      } catch (err) {
        return sendTrpcError(req, res, toPublicError(err));
      }
    }
    const { paths, batch } = trpcCallsOf(req.originalUrl ?? req.url ?? '/');
    await trpcRequest.run({ requestId: req.$requestId, batch: batch ? paths : undefined }, () =>
      nodeHTTPRequestHandler({
        router,
        req,
        res,
        path: url.pathname.slice(1),
        maxBodySize: bodyLimitBytes,
        createContext: ({ info }): TrpcContext => {
          let caller: ReturnType<EdgeAuth['callerOf']> | undefined;
          return {
            requestId: req.$requestId,
            batch: info.isBatchCall ? info.calls.map((c) => c.path) : undefined,
            caller: () => (caller ??= edgeAuth.callerOf(req)),
            token: () => edgeAuth.tokenOf(req),
            trace: carrierFromHeaders(req.headers),
            client: clientOf(req),
            idempotencyKeys: headerOf(req, 'idempotency-key'),
          };
        },
        // A call that failed for an outage (503) tells the client when to come back, as REST does.
        responseMeta: ({ errors }) => (errors.some((e) => e.code === 'SERVICE_UNAVAILABLE') ? { headers: { 'Retry-After': String(RETRY_AFTER_S) } } : {}),
        onError: ({ error }) => {
          if (error.code === 'INTERNAL_SERVER_ERROR') log.error({ requestId: req.$requestId, err: String(error.cause ?? error) }, 'tRPC error');
        },
      }),
    );
  };
}
