import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Server, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { allProcedures, auth, authBroadcasts, isErrorCode, notificationBroadcasts, type AnyProcedure, type RestBinding } from '@lms/contracts';
import {
  carrierFromHeaders,
  createRateLimiter,
  MemoryRateLimiter,
  type RateLimiter,
  DomainError,
  httpDuration,
  inSpan,
  toPublicError,
  traceCarrier,
  type CallMeta,
  type PublicError,
  type Runtime,
  type ServiceModule,
} from '@lms/runtime';
import { nodeHTTPRequestHandler } from '@trpc/server/adapters/node-http';
import type { ServiceSchema } from 'moleculer';
import ApiGateway from 'moleculer-web';
import bodyParser from 'body-parser';
import { decodeJwt } from 'jose';
import { EdgeAuth } from './edge-auth.js';
import { fileRoutes } from './files-http.js';
import { answerClientErrors, cors, pathParam, requestIdOf, securityHeaders, sendError, sendJson, type GatewayRequest } from './http.js';
import { buildOpenApi, pathParams } from './openapi.js';
import { buildTrpcRouter, sendTrpcError, trpcCallsOf, trpcRequest, type Forward, type TrpcContext } from './trpc.js';

type Next = (err?: unknown) => void;

export interface GatewaySettings {
  port: number;
  host: string;
  corsOrigins: '*' | string[];
  /** Requests per client IP per minute, across the API. */
  rateLimit: number;
  /** Requests per client IP per minute to /auth/* (password guessing). */
  authRateLimit: number;
  bodyLimitBytes: number;
  trustProxy: boolean;
  requiredServices: string[];
}

export function gatewaySettings(runtime: Runtime): GatewaySettings {
  const env = process.env;
  return {
    port: runtime.config.port,
    host: env.HOST ?? '0.0.0.0',
    corsOrigins: !env.CORS_ORIGINS || env.CORS_ORIGINS === '*' ? '*' : env.CORS_ORIGINS.split(',').map((s) => s.trim()),
    rateLimit: Number(env.RATE_LIMIT_PER_MINUTE ?? 1200),
    authRateLimit: Number(env.RATE_LIMIT_AUTH_PER_MINUTE ?? 60),
    bodyLimitBytes: Number(env.BODY_LIMIT_BYTES ?? 1_048_576),
    trustProxy: env.TRUST_PROXY === 'true',
    requiredServices: (env.LMS_REQUIRED_SERVICES ?? 'auth,users,courses,enrollments,files,analytics,audit,notifications').split(',').map((s) => s.trim()).filter(Boolean),
  };
}

const swaggerDir = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
const DOCS_FILES: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'application/javascript; charset=utf-8',
};
const DOCS_HTML = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>LMS API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css"></head><body><div id="ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script><script src="/docs/init.js"></script></body></html>`;
const DOCS_INIT = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#ui', deepLinking: true, persistAuthorization: true });`;

/** Maps what moleculer-web and its body parser throw onto the public error model. */
function edgeError(err: unknown): PublicError {
  const e = err as { code?: number | string; status?: number; type?: string; name?: string };
  if (e?.name === 'NotFoundError' || (e?.code === 404 && e?.type === 'NOT_FOUND')) return { code: 'ROUTE_NOT_FOUND', status: 404, message: 'No such route' };
  if (e?.status === 413 || e?.type === 'entity.too.large') return { code: 'PAYLOAD_TOO_LARGE', status: 413, message: 'Body too large' };
  if (e?.type === 'entity.parse.failed' || e?.type === 'charset.unsupported') return { code: 'BAD_REQUEST', status: 400, message: 'Body is not valid JSON' };
  if (e?.status === 415) return { code: 'UNSUPPORTED_MEDIA_TYPE', status: 415, message: 'Send application/json' };
  // moleculer-web wraps its body parser's errors as MoleculerError(message, err.code || err.status, err.type).
  if (e?.type === 'encoding.unsupported' || (e?.code === 415 && !isErrorCode(e?.type))) return { code: 'UNSUPPORTED_MEDIA_TYPE', status: 415, message: 'Unsupported Content-Encoding' };
  if (e?.type === 'encoding.broken' || (typeof e?.code === 'string' && /^(Z_|ERR_)/.test(e.code))) return { code: 'BAD_REQUEST', status: 400, message: 'The body does not match its Content-Encoding' };
  if (err instanceof URIError || e?.type === 'UNABLE_DECODE_PARAM') return { code: 'BAD_REQUEST', status: 400, message: 'The URL is not valid percent-encoding' };
  if (e?.code === 400 && !isErrorCode(e?.type)) return { code: 'BAD_REQUEST', status: 400, message: 'The request body could not be read' };
  return toPublicError(err);
}

/** Content codings a request body may use (RFC 9110 §8.4), on REST and tRPC alike. */
const BODY_ENCODINGS = new Set(['gzip', 'deflate', 'br']);

/** The body's Content-Encoding, lower case; '' for none or identity. */
function contentEncodingOf(req: GatewayRequest): string {
  const v = String(req.headers['content-encoding'] ?? '').trim().toLowerCase();
  return v === 'identity' ? '' : v;
}

function hasBody(req: GatewayRequest): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/** A compressed body, inflated and read whole up to `limit` bytes (tRPC reads bodies itself, uncompressed). */
async function inflate(req: GatewayRequest, encoding: string, limit: number): Promise<string> {
  const z = encoding === 'br' ? createBrotliDecompress() : encoding === 'deflate' ? createInflate() : createGunzip();
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    await pipeline(req, z, async function (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        size += chunk.length;
        if (size > limit) throw new DomainError('PAYLOAD_TOO_LARGE', 'Body too large');
        chunks.push(chunk);
      }
    });
  } catch (err) {
    if (err instanceof DomainError) throw err;
    throw new DomainError('BAD_REQUEST', 'The body does not match its Content-Encoding');
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** What services learn of the HTTP client: for session lists and audit, never for decisions. */
function clientOf(req: GatewayRequest): { ip: string; userAgent?: string } {
  const ua = req.headers['user-agent'];
  return { ip: req.$ip ?? req.socket.remoteAddress ?? 'unknown', userAgent: typeof ua === 'string' ? ua.slice(0, 256) : undefined };
}

/** When a verified bearer token expires (its `exp`, in ms); now when it has none. */
function tokenExpiryMs(authorization: string | undefined): number {
  try {
    const exp = decodeJwt(String(authorization ?? '').replace(/^Bearer /, '')).exp;
    return typeof exp === 'number' ? exp * 1000 : Date.now();
  } catch {
    return Date.now();
  }
}

/** Most procedures one tRPC batch request may carry. */
const MAX_BATCH = 50;

/** moleculer-web's settings are untyped in Moleculer's ServiceSettingSchema. */
const webSettings = (s: Record<string, unknown>) => s as ServiceSchema['settings'];

function gatewaySchema(runtime: Runtime): ServiceSchema {
  const settings = gatewaySettings(runtime);
  const { broker } = runtime;
  const log = runtime.logger('gateway');
  // Redis in mesh mode (shared by every gateway), set up when the service starts; memory until then.
  let limiter: RateLimiter = new MemoryRateLimiter();

  // One span per edge call, continuing the client's traceparent; its context rides in ctx.meta.trace.
  // The token (already checked here) travels, not the caller: each service verifies it again.
  const forward: Forward = (contract, input, { requestId, token, trace, edge, client }) =>
    inSpan(`${edge} ${contract.action}`, trace, { 'lms.request_id': requestId, 'lms.edge': edge }, () =>
      broker.call(contract.action, input as object, {
        meta: { token, requestId, edge: true, trace: traceCarrier(), client } satisfies CallMeta,
        requestID: requestId,
      }),
    );
  const edgeAuth = new EdgeAuth(runtime.verifier);
  const router = buildTrpcRouter(forward);
  const openapi = JSON.stringify(buildOpenApi());

  /** Request id, security headers, CORS, metrics and rate limits, for every route. */
  function edge(req: GatewayRequest, res: ServerResponse, next: Next) {
    req.$requestId = requestIdOf(req);
    req.$startedAt = performance.now();
    res.setHeader('X-Request-Id', req.$requestId);
    const url = req.originalUrl ?? req.url ?? '/';
    securityHeaders(res, url);
    const edgeName = url.startsWith('/trpc') ? 'trpc' : url.startsWith('/api/') ? 'rest' : 'other';
    res.once('finish', () => httpDuration.observe({ edge: edgeName, status: String(res.statusCode) }, (performance.now() - req.$startedAt) / 1000));
    if (cors(req, res, { origins: settings.corsOrigins })) return;
    const refuse = (pub: PublicError, headers: Record<string, string> = {}) => (edgeName === 'trpc' ? sendTrpcError : sendError)(req, res, pub, headers);
    // A path that is not valid percent-encoding names no route: 400 here, before a router trips on it.
    try {
      decodeURIComponent(url.split('?')[0] ?? '');
    } catch {
      return refuse({ code: 'BAD_REQUEST', status: 400, message: 'The URL path is not valid percent-encoding' });
    }
    if (edgeName === 'other') return next();
    // Bodies arrive as they are or compressed with one of these; anything else is refused on both edges alike.
    const encoding = contentEncodingOf(req);
    if (encoding && !BODY_ENCODINGS.has(encoding) && hasBody(req)) {
      return refuse({ code: 'UNSUPPORTED_MEDIA_TYPE', status: 415, message: `Content-Encoding ${encoding.slice(0, 40)} is not supported; send identity, gzip, deflate or br` });
    }
    const forwarded = settings.trustProxy ? String(req.headers['x-forwarded-for'] ?? '').split(',')[0]?.trim() : '';
    const ip = forwarded || req.socket.remoteAddress || 'unknown';
    req.$ip = ip;
    // A tRPC batch (`/trpc/a.b,c.d`) costs one per procedure, and counts as auth if any procedure is.
    const procedures = edgeName === 'trpc' ? decodeURIComponent(url.slice('/trpc/'.length).split('?')[0] ?? '').split(',') : [];
    if (procedures.length > MAX_BATCH) {
      return refuse({ code: 'BAD_REQUEST', status: 400, message: `At most ${MAX_BATCH} calls per batch` });
    }
    const isAuth = url.startsWith('/api/v1/auth/') || procedures.some((p) => p.startsWith('auth.'));
    const [bucket, limit] = isAuth ? [`auth:${ip}`, settings.authRateLimit] : [`api:${ip}`, settings.rateLimit];
    limiter
      .hit(bucket, limit, 60_000, Math.max(1, procedures.length))
      .then((d) => {
        res.setHeader('RateLimit-Limit', String(d.limit));
        res.setHeader('RateLimit-Remaining', String(d.remaining));
        if (d.allowed) return next();
        refuse({ code: 'RATE_LIMITED', status: 429, message: 'Too many requests; slow down' }, { 'Retry-After': String(Math.ceil(d.resetMs / 1000)) });
      })
      .catch(next);
  }

  async function trpc(req: GatewayRequest, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://local');
    const encoding = contentEncodingOf(req);
    if (encoding && hasBody(req)) {
      // tRPC reads the body as it comes: a compressed one is inflated here, within the same size limit.
      try {
        req.body = await inflate(req, encoding, settings.bodyLimitBytes);
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
        maxBodySize: settings.bodyLimitBytes,
        createContext: ({ info }): TrpcContext => {
          let caller: ReturnType<EdgeAuth['callerOf']> | undefined;
          return {
            requestId: req.$requestId,
            batch: info.isBatchCall ? info.calls.map((c) => c.path) : undefined,
            caller: () => (caller ??= edgeAuth.callerOf(req)),
            token: () => edgeAuth.tokenOf(req),
            trace: carrierFromHeaders(req.headers),
            client: clientOf(req),
          };
        },
        onError: ({ error }) => {
          if (error.code === 'INTERNAL_SERVER_ERROR') log.error({ requestId: req.$requestId, err: String(error.cause ?? error) }, 'tRPC error');
        },
      }),
    );
  }

  /** One REST operation: path params, then query (GET/DELETE) or JSON body, then the action. */
  function restHandler(c: AnyProcedure, rest: RestBinding) {
    const inPath = pathParams(rest.path);
    const readsBody = rest.method !== 'GET' && rest.method !== 'DELETE';
    return async function (req: GatewayRequest, res: ServerResponse) {
      try {
        const json = String(req.headers['content-type'] ?? '').includes('application/json');
        // One-click links (RFC 8058) post a form and carry their input in the query string.
        const form = readsBody && rest.acceptsForm === true && !json;
        if (readsBody && !form && (Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined) && !json) {
          throw new DomainError('UNSUPPORTED_MEDIA_TYPE', 'Send the body as application/json');
        }
        // No body is an empty input; a JSON body must be an object (`[]`, `"x"`, `1`, `null` are not).
        if (readsBody && !form && req.body !== undefined && (typeof req.body !== 'object' || req.body === null || Array.isArray(req.body))) {
          throw new DomainError('VALIDATION_FAILED', 'Invalid input: (root): expected a JSON object', { issues: [{ path: '(root)', message: 'expected a JSON object', code: 'invalid_type' }] });
        }
        const input: Record<string, unknown> = readsBody && !form ? { ...(req.body ?? {}) } : { ...(req.query ?? {}) };
        for (const p of inPath) input[p] = req.$params?.[p];
        const caller = await edgeAuth.callerOf(req);
        const token = caller ? edgeAuth.tokenOf(req) : undefined;
        const out = await forward(c, input, { requestId: req.$requestId, caller, token, trace: carrierFromHeaders(req.headers), edge: 'rest', client: clientOf(req) });
        const status = rest.status ?? 200;
        // A redirecting operation (OIDC start) answers its target in Location, and in the body for API clients.
        const location = status >= 300 && status < 400 ? (out as { location?: unknown }).location : undefined;
        sendJson(res, status, out, typeof location === 'string' ? { Location: location } : {});
      } catch (err) {
        const pub = toPublicError(err);
        if (pub.status >= 500) log.error({ requestId: req.$requestId, action: c.action, err: String(err) }, 'request failed');
        const retry = pub.details?.retryAfterSeconds;
        sendError(req, res, pub, typeof retry === 'number' ? { 'Retry-After': String(retry) } : {});
      }
    };
  }

  const restAliases: Record<string, unknown> = {};
  // Live in-app notifications as Server-Sent Events: one stream per tab, fed by the notifications broadcast.
  const streams = new Map<string, Set<ServerResponse>>();
  // A stream lives no longer than its session (logout, revocation, password change, deactivation, erasure all
  // broadcast auth.sessions.revoked) or its access token: the client reconnects with a fresh token.
  const streamsBySession = new Map<string, Set<() => void>>();
  restAliases['GET /me/notifications/stream'] = async (req: GatewayRequest, res: ServerResponse) => {
    try {
      const caller = await edgeAuth.callerOf(req);
      if (!caller) throw new DomainError('UNAUTHENTICATED', 'Sign in to do this');
      const expMs = tokenExpiryMs(req.headers.authorization);
      res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache, no-transform', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
      res.write(': connected\n\n');
      const set = streams.get(caller.userId) ?? new Set();
      set.add(res);
      streams.set(caller.userId, set);
      const ping = setInterval(() => !res.writableEnded && res.write(': ping\n\n'), 25_000);
      const end = (reason: 'session_ended' | 'token_expired') => {
        if (res.writableEnded) return;
        res.end(`event: end\ndata: ${JSON.stringify({ reason })}\n\n`);
      };
      const endSession = () => end('session_ended');
      // setTimeout holds at most 2^31-1 ms; a token without exp gets no stream time.
      const expiry = setTimeout(() => end('token_expired'), Math.min(Math.max(0, expMs - Date.now()), 2 ** 31 - 1));
      const sid = caller.sessionId;
      if (sid) streamsBySession.set(sid, (streamsBySession.get(sid) ?? new Set()).add(endSession));
      res.once('close', () => {
        clearInterval(ping);
        clearTimeout(expiry);
        set.delete(res);
        if (set.size === 0) streams.delete(caller.userId);
        const byS = sid ? streamsBySession.get(sid) : undefined;
        byS?.delete(endSession);
        if (sid && byS?.size === 0) streamsBySession.delete(sid);
      });
    } catch (err) {
      sendError(req, res, toPublicError(err));
    }
  };
  for (const c of allProcedures()) {
    if (c.rest) restAliases[`${c.rest.method} ${c.rest.path.replace(/\{(\w+)\}/g, ':$1')}`] = restHandler(c, c.rest);
  }

  async function ready(req: GatewayRequest, res: ServerResponse) {
    const checks: Record<string, string> = {};
    if (runtime.config.mode === 'mesh') checks.broker = broker.transit?.connected ? 'up' : 'down';
    const available = new Set((broker.registry.getServiceList({ onlyAvailable: true }) as Array<{ name: string }>).map((s) => s.name));
    await Promise.all(
      settings.requiredServices.map(async (s) => {
        if (!available.has(s)) return void (checks[s] = 'down'); // not registered: no call, no warning per probe
        try {
          await broker.call(`${s}.health`, {}, { timeout: 2_000, retries: 0 });
          checks[s] = 'up';
        } catch {
          checks[s] = 'down';
        }
      }),
    );
    const ok = Object.values(checks).every((v) => v === 'up');
    sendJson(res, ok ? 200 : 503, { status: ok ? 'ready' : 'not_ready', checks });
  }

  const onError = (req: GatewayRequest, res: ServerResponse, err: unknown) => {
    req.$requestId ??= requestIdOf(req);
    if (!res.headersSent) {
      res.setHeader('X-Request-Id', req.$requestId);
      securityHeaders(res, '/');
    }
    const pub = edgeError(err);
    if (pub.status >= 500) log.error({ requestId: req.$requestId, err: String(err) }, 'request failed');
    sendError(req, res, pub);
  };

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
      use: [edge],
      onError,
      routes: [
        fileRoutes(runtime, edgeAuth, clientOf),
        { path: '/trpc', mappingPolicy: 'restrict', bodyParsers: false, use: [trpc], aliases: {} },
        {
          path: '/api/v1',
          mappingPolicy: 'restrict',
          // The JSON parser runs after `edge` (route parsers would run before it): a malformed or oversized body is
          // rate-limited and answered with the request id and rate-limit headers like any other request. Any JSON
          // value parses; restHandler answers 422 for one that is not an object.
          bodyParsers: false,
          use: [bodyParser.json({ limit: settings.bodyLimitBytes, strict: false })],
          aliases: restAliases,
          onError,
        },
        {
          path: '/',
          mappingPolicy: 'restrict',
          bodyParsers: false,
          aliases: {
            'GET /health/live': (_req: GatewayRequest, res: ServerResponse) => sendJson(res, 200, { status: 'live' }),
            'GET /health/ready': ready,
            // No /metrics here: the API port is public. Every node, this one too, serves it on METRICS_PORT.
            'GET /openapi.json': (_req: GatewayRequest, res: ServerResponse) => {
              res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-cache' });
              res.end(openapi);
            },
            async 'GET /.well-known/jwks.json'(req: GatewayRequest, res: ServerResponse) {
              try {
                sendJson(res, 200, await broker.call(auth.jwks.action, {}, { meta: { edge: true } }), { 'Cache-Control': 'public, max-age=300' });
              } catch (err) {
                sendError(req, res, toPublicError(err));
              }
            },
            'GET /docs': (_req: GatewayRequest, res: ServerResponse) => {
              res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
              res.end(DOCS_HTML);
            },
            'GET /docs/:file': (req: GatewayRequest, res: ServerResponse) => {
              const file = pathParam(req, 'file');
              if (file === 'init.js') {
                res.writeHead(200, { 'Content-Type': 'application/javascript; charset=utf-8' });
                return res.end(DOCS_INIT);
              }
              const type = DOCS_FILES[file]; // a fixed list: no path from the URL reaches the disk
              if (!type) return sendError(req, res, { code: 'ROUTE_NOT_FOUND', status: 404, message: 'No such file' });
              res.writeHead(200, { 'Content-Type': type, 'Cache-Control': 'public, max-age=86400' });
              res.end(readFileSync(path.join(swaggerDir, file)));
            },
          },
        },
      ],
    }),
    methods: {
      /** A client's broken compressed body is a 400 (logged as such), not a server error with a stack in the log. */
      errorHandler(this: { [k: string]: unknown }, req: GatewayRequest, res: ServerResponse, err: { code?: unknown; type?: unknown }) {
        if (err && typeof err.code === 'string' && /^(Z_|ERR_)/.test(err.code)) Object.assign(err, { code: 400, type: 'encoding.broken' });
        const base = (ApiGateway as unknown as ServiceSchema).methods?.errorHandler;
        return base?.call(this, req, res, err) as unknown;
      },
    },
    events: {
      [notificationBroadcasts.created.name]: {
        handler(ctx: { params: unknown }) {
          const p = notificationBroadcasts.created.payload.safeParse(ctx.params);
          if (!p.success) return;
          for (const res of streams.get(p.data.userId) ?? []) if (!res.writableEnded) res.write(`event: notification\ndata: ${JSON.stringify(p.data.item)}\n\n`);
        },
      },
      // A session that ends ends its live streams (the node's verifier, in the runtime, refuses its tokens).
      [authBroadcasts.sessionsRevoked.name]: {
        handler(ctx: { params: unknown }) {
          const p = authBroadcasts.sessionsRevoked.payload.safeParse(ctx.params);
          if (!p.success) return;
          for (const sid of p.data.sessionIds) for (const end of streamsBySession.get(sid) ?? []) end();
        },
      },
    },
    async started() {
      answerClientErrors(this.server as Server); // moleculer-web's http.Server, made in created()
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
