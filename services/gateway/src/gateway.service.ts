import { randomUUID } from 'node:crypto';
import type { Server, ServerResponse } from 'node:http';
import { auth, credentials, idempotentByItself } from '@lms/contracts';
import {
  createRateLimiter,
  inSpan,
  MemoryRateLimiter,
  toPublicError,
  traceCarrier,
  type CallMeta,
  type RateLimiter,
  type Runtime,
  type RuntimeEnv,
  type ServiceModule,
} from '@lms/runtime';
import type { ServiceSchema } from 'moleculer';
import ApiGateway from 'moleculer-web';
import bodyParser from 'body-parser';
import { gatewayConfigOf, gatewayEnv, gatewaySettings } from './config.js';
import { docsAliases } from './docs.js';
import { httpDrain } from './drain.js';
import { clientOf, edgeErrorHandler, edgeMiddleware } from './edge.js';
import { EdgeAuth } from './edge-auth.js';
import { fileRoutes } from './files-http.js';
import { healthAliases } from './health.js';
import { answerClientErrors, sendError, sendJson, type GatewayRequest } from './http.js';
import { notificationStreams } from './notifications-stream.js';
import { restAliases } from './rest.js';
import { buildTrpcRouter, type Forward } from './trpc.js';
import { verifyPageAliases } from './verify-page.js';
import { trpcHandler } from './trpc-http.js';
import { serveUnrouted, webAliases } from './web.js';

export { gatewaySettings, type GatewaySettings } from './config.js';

/** moleculer-web's settings are untyped in Moleculer's ServiceSettingSchema. */
const webSettings = (s: Record<string, unknown>) => s as ServiceSchema['settings'];

/**
 * The gateway's moleculer-web service: the edge middleware (edge.ts) in front of the file routes (files-http.ts),
 * tRPC (trpc.ts, trpc-http.ts), REST (rest.ts) with the notification stream (notifications-stream.ts), and the
 * public documents: health (health.ts), OpenAPI and Swagger UI (docs.ts), the signing keys, certificate verification
 * (verify-page.ts).
 */
function gatewaySchema(runtime: Runtime): ServiceSchema {
  const settings = gatewaySettings(runtime);
  const { broker } = runtime;
  const log = runtime.logger('gateway');
  // Redis in mesh mode (shared by every gateway), set up when the service starts; memory until then.
  let limiter: RateLimiter = new MemoryRateLimiter();

  // One span per edge call, continuing the client's traceparent; its context rides in ctx.meta.trace.
  // The token (already checked here) travels, not the caller: each service verifies it again.
  // A mutation without the client's Idempotency-Key gets one of the gateway's: the broker's retries of this call (after a
  // timeout or a dead node) carry it, and so cannot apply the mutation twice.
  const forward: Forward = (contract, input, { requestId, token, trace, edge, client, idempotencyKey, replayed }) =>
    inSpan(`${edge} ${contract.action}`, trace, { 'lms.request_id': requestId, 'lms.edge': edge }, () => {
      // The call's context keeps this object (its retries too); the answering node's meta is merged back into it.
      const meta: CallMeta = {
        token,
        requestId,
        edge: true,
        trace: traceCarrier(),
        client,
        // Not for a call idempotent by itself (its contract's idempotentBy): a broker retry of it changes nothing.
        idempotencyKey: contract.kind === 'mutation' && !idempotentByItself(contract, input) ? (idempotencyKey ?? `gateway:${randomUUID()}`) : undefined,
      };
      return broker
        .call(contract.action, input as object, {
          meta,
          requestID: requestId,
        })
        .finally(() => {
          if (meta.idempotentReplay) replayed?.();
        });
    });
  const edgeAuth = new EdgeAuth(runtime.verifier);
  const onError = edgeErrorHandler(log);
  const sse = notificationStreams(edgeAuth);

  return {
    name: 'gateway',
    mixins: [ApiGateway],
    settings: webSettings({
      port: settings.port,
      ip: settings.host,
      server: true,
      logRequest: 'debug',
      logResponse: 'debug',
      log4XXResponses: false,
      use: [edgeMiddleware(settings, () => limiter)],
      onError,
      routes: [
        fileRoutes(runtime, gatewayConfigOf(runtime), edgeAuth, clientOf),
        {
          path: '/trpc',
          mappingPolicy: 'restrict',
          bodyParsers: false,
          use: [trpcHandler(buildTrpcRouter(forward), edgeAuth, settings.bodyLimitBytes, log)],
          aliases: {},
        },
        {
          path: '/api/v1',
          mappingPolicy: 'restrict',
          // The JSON parser runs after `edge` (route parsers would run before it): a malformed or oversized body is
          // rate-limited and answered with the request id and rate-limit headers like any other request. Any JSON
          // value parses; restHandler answers 422 for one that is not an object.
          bodyParsers: false,
          use: [bodyParser.json({ limit: settings.bodyLimitBytes, strict: false })],
          aliases: { ...sse.aliases, ...restAliases(forward, edgeAuth, log) },
          onError,
        },
        {
          path: '/',
          mappingPolicy: 'restrict',
          bodyParsers: false,
          aliases: {
            ...healthAliases(runtime, settings.requiredServices),
            // The public verification page a certificate's QR code points to (HTML; its JSON is /api/v1/verify/{code}).
            ...verifyPageAliases(runtime),
            // No /metrics here: the API port is public. Every node, this one too, serves it on METRICS_PORT.
            async 'GET /.well-known/jwks.json'(req: GatewayRequest, res: ServerResponse) {
              try {
                sendJson(res, 200, await broker.call(auth.jwks.action, {}, { meta: { edge: true } }), { 'Cache-Control': 'public, max-age=300' });
              } catch (err) {
                sendError(req, res, toPublicError(err));
              }
            },
            // did:web resolves an installation's DID (`did:web:<host>`) to this document: the key certificates are signed with.
            async 'GET /.well-known/did.json'(req: GatewayRequest, res: ServerResponse) {
              try {
                const doc = await broker.call(credentials.didDocument.action, {}, { meta: { edge: true } });
                sendJson(res, 200, doc, { 'Content-Type': 'application/did+json', 'Cache-Control': 'public, max-age=300' });
              } catch (err) {
                sendError(req, res, toPublicError(err));
              }
            },
            // The revocation list certificates point to (credentialStatus.statusListCredential), as the VC-JWT itself.
            async 'GET /credentials/status/1'(req: GatewayRequest, res: ServerResponse) {
              try {
                const list = credentials.statusList.output.parse(await broker.call(credentials.statusList.action, {}, { meta: { edge: true } }));
                res.writeHead(200, {
                  'Content-Type': 'application/vc+jwt',
                  'Cache-Control': 'public, max-age=60',
                  'Content-Length': Buffer.byteLength(list.jwt),
                });
                res.end(list.jwt);
              } catch (err) {
                sendError(req, res, toPublicError(err));
              }
            },
            ...docsAliases(),
            // The web app (clients/web): its shell at `/` and its hashed files; its other pages are client-side
            // routes, answered with the shell by send404 below.
            ...webAliases(),
          },
        },
      ],
    }),
    methods: {
      /** No route took it: a browser asking for one of the web app's pages gets the app's shell; anything else a 404. */
      send404(this: { [k: string]: unknown }, req: GatewayRequest, res: ServerResponse) {
        if (serveUnrouted(req, res)) return;
        const base = (ApiGateway as ServiceSchema).methods?.send404;
        return base?.call(this, req, res) as unknown;
      },
      /** A client's broken compressed body is a 400 (logged as such), not a server error with a stack in the log. */
      errorHandler(this: { [k: string]: unknown }, req: GatewayRequest, res: ServerResponse, err: { code?: unknown; type?: unknown }) {
        if (err && typeof err.code === 'string' && /^(Z_|ERR_)/.test(err.code)) Object.assign(err, { code: 400, type: 'encoding.broken' });
        const base = (ApiGateway as ServiceSchema).methods?.errorHandler;
        return base?.call(this, req, res, err) as unknown;
      },
    },
    events: sse.events,
    async started() {
      const server = this.server as Server; // moleculer-web's http.Server, made in created()
      answerClientErrors(server);
      // An idle keep-alive connection outlives a load balancer's idle pool (HAProxy reuses idle server connections for
      // 5 s by default, an AWS ALB for 60 s): with Node's default of 5 s, the gateway could close one just as the proxy
      // sent a request on it, which the proxy then had to retry (seen in the rolling-restart test's retry count).
      // The drain (drain.ts) closes idle connections itself, so a longer keep-alive does not slow a stop.
      server.keepAliveTimeout = 65_000;
      httpDrain(server, runtime.shutdown, {
        graceMs: settings.shutdownGraceMs,
        timeoutMs: (runtime.config.envValues as Partial<RuntimeEnv>).MOLECULER_SHUTDOWN_TIMEOUT ?? 5_000,
        endStreams: sse.endAll,
        log,
      });
      limiter = await createRateLimiter(runtime.config, (err) => log.warn({ err: String(err) }, 'rate limiter unavailable; letting requests through'));
    },
    async stopped() {
      await limiter.close();
    },
  };
}

/** The edge: tRPC, REST + OpenAPI, docs and health over moleculer-web (metrics: METRICS_PORT, not the API port). */
export const gatewayService: ServiceModule = {
  name: 'gateway',
  schema: '',
  env: gatewayEnv,
  migrations: {},
  consumers: [],
  build: gatewaySchema,
};

/** The port the gateway listens on (useful with PORT=0). */
export function gatewayPort(broker: Runtime['broker']): number {
  const svc = broker.getLocalService('gateway') as unknown as { server: import('node:http').Server } | undefined;
  const addr = svc?.server.address();
  return typeof addr === 'object' && addr ? addr.port : 0;
}
