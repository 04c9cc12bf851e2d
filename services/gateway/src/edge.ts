import type { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { isErrorCode } from '@lms/contracts';
import { DomainError, httpDuration, toPublicError, type Logger, type PublicError, type RateLimiter } from '@lms/runtime';
import type { GatewaySettings } from './config.js';
import { cors, requestIdOf, securityHeaders, sendError, type GatewayRequest } from './http.js';
import { sendTrpcError } from './trpc.js';
import { sendPageError } from './verify-page.js';

export type Next = (err?: unknown) => void;

/** Most procedures one tRPC batch request may carry. */
export const MAX_BATCH = 50;

/** Content codings a request body may use (RFC 9110 §8.4), on REST and tRPC alike. */
const BODY_ENCODINGS = new Set(['gzip', 'deflate', 'br']);

/** The body's Content-Encoding, lower case; '' for none or identity. */
export function contentEncodingOf(req: GatewayRequest): string {
  const v = String(req.headers['content-encoding'] ?? '')
    .trim()
    .toLowerCase();
  return v === 'identity' ? '' : v;
}

export function hasBody(req: GatewayRequest): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/** A compressed body, inflated and read whole up to `limit` bytes (tRPC reads bodies itself, uncompressed). */
export async function inflate(req: GatewayRequest, encoding: string, limit: number): Promise<string> {
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

/** A request header as one string (repeated headers joined with commas, as HTTP defines), or undefined. */
export function headerOf(req: GatewayRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/** What services learn of the HTTP client: for session lists and audit, never for decisions. */
export function clientOf(req: GatewayRequest): { ip: string; userAgent?: string } {
  const ua = req.headers['user-agent'];
  return { ip: req.$ip ?? req.socket.remoteAddress ?? 'unknown', userAgent: typeof ua === 'string' ? ua.slice(0, 256) : undefined };
}

/** Maps what moleculer-web and its body parser throw onto the public error model. */
function edgeError(err: unknown): PublicError {
  const e = err as { code?: number | string; status?: number; type?: string; name?: string };
  if (e?.name === 'NotFoundError' || (e?.code === 404 && e?.type === 'NOT_FOUND')) return { code: 'ROUTE_NOT_FOUND', status: 404, message: 'No such route' };
  if (e?.status === 413 || e?.type === 'entity.too.large') return { code: 'PAYLOAD_TOO_LARGE', status: 413, message: 'Body too large' };
  if (e?.type === 'entity.parse.failed' || e?.type === 'charset.unsupported') return { code: 'BAD_REQUEST', status: 400, message: 'Body is not valid JSON' };
  if (e?.status === 415) return { code: 'UNSUPPORTED_MEDIA_TYPE', status: 415, message: 'Send application/json' };
  // moleculer-web wraps its body parser's errors as MoleculerError(message, err.code || err.status, err.type).
  if (e?.type === 'encoding.unsupported' || (e?.code === 415 && !isErrorCode(e?.type)))
    return { code: 'UNSUPPORTED_MEDIA_TYPE', status: 415, message: 'Unsupported Content-Encoding' };
  if (e?.type === 'encoding.broken' || (typeof e?.code === 'string' && /^(Z_|ERR_)/.test(e.code)))
    return { code: 'BAD_REQUEST', status: 400, message: 'The body does not match its Content-Encoding' };
  if (err instanceof URIError || e?.type === 'UNABLE_DECODE_PARAM')
    return { code: 'BAD_REQUEST', status: 400, message: 'The URL is not valid percent-encoding' };
  if (e?.code === 400 && !isErrorCode(e?.type)) return { code: 'BAD_REQUEST', status: 400, message: 'The request body could not be read' };
  return toPublicError(err);
}

/** moleculer-web's error hook: whatever a route or its parsers threw, answered in the error model. */
export function edgeErrorHandler(log: Logger) {
  return (req: GatewayRequest, res: ServerResponse, err: unknown) => {
    req.$requestId ??= requestIdOf(req);
    if (!res.headersSent) {
      res.setHeader('X-Request-Id', req.$requestId);
      securityHeaders(res, '/');
    }
    const pub = edgeError(err);
    if (pub.status >= 500) log.error({ requestId: req.$requestId, err: String(err) }, 'request failed');
    sendError(req, res, pub);
  };
}

/**
 * What every request meets first: request id, security headers, CORS, metrics, percent-encoding and
 * Content-Encoding checks, and the per-IP rate limits (`limiter()`: Redis in mesh mode once the service started).
 */
export function edgeMiddleware(settings: GatewaySettings, limiter: () => RateLimiter) {
  return function edge(req: GatewayRequest, res: ServerResponse, next: Next) {
    req.$requestId = requestIdOf(req);
    req.$startedAt = performance.now();
    res.setHeader('X-Request-Id', req.$requestId);
    const url = req.originalUrl ?? req.url ?? '/';
    securityHeaders(res, url);
    const edgeName = url.startsWith('/trpc') ? 'trpc' : url.startsWith('/api/') ? 'rest' : 'other';
    // The certificate verification page does the work of a REST call (a signature, the signed status list): it is
    // rate-limited like one, and refused with a page, not JSON.
    const isPage = url.startsWith('/verify/');
    res.once('finish', () => httpDuration.observe({ edge: edgeName, status: String(res.statusCode) }, (performance.now() - req.$startedAt) / 1000));
    if (cors(req, res, { origins: settings.corsOrigins })) return;
    const refuse = (pub: PublicError, headers: Record<string, string> = {}) =>
      (edgeName === 'trpc' ? sendTrpcError : isPage ? sendPageError : sendError)(req, res, pub, headers);
    // A path that is not valid percent-encoding names no route: 400 here, before a router trips on it.
    try {
      decodeURIComponent(url.split('?')[0] ?? '');
    } catch {
      return refuse({ code: 'BAD_REQUEST', status: 400, message: 'The URL path is not valid percent-encoding' });
    }
    if (edgeName === 'other' && !isPage) return next();
    // Bodies arrive as they are or compressed with one of these; anything else is refused on both edges alike.
    const encoding = contentEncodingOf(req);
    if (encoding && !BODY_ENCODINGS.has(encoding) && hasBody(req)) {
      return refuse({
        code: 'UNSUPPORTED_MEDIA_TYPE',
        status: 415,
        message: `Content-Encoding ${encoding.slice(0, 40)} is not supported; send identity, gzip, deflate or br`,
      });
    }
    const forwarded = settings.trustProxy
      ? String(req.headers['x-forwarded-for'] ?? '')
          .split(',')[0]
          ?.trim()
      : '';
    const ip = forwarded || req.socket.remoteAddress || 'unknown';
    req.$ip = ip;
    // A tRPC batch (`/trpc/a.b,c.d`) costs one per procedure, and counts as auth if any procedure is.
    const procedures = edgeName === 'trpc' ? decodeURIComponent(url.slice('/trpc/'.length).split('?')[0] ?? '').split(',') : [];
    if (procedures.length > MAX_BATCH) {
      return refuse({ code: 'BAD_REQUEST', status: 400, message: `At most ${MAX_BATCH} calls per batch` });
    }
    const isAuth = url.startsWith('/api/v1/auth/') || procedures.some((p) => p.startsWith('auth.'));
    const [bucket, limit] = isAuth ? [`auth:${ip}`, settings.authRateLimit] : [`api:${ip}`, settings.rateLimit];
    limiter()
      .hit(bucket, limit, 60_000, Math.max(1, procedures.length))
      .then((d) => {
        res.setHeader('RateLimit-Limit', String(d.limit));
        res.setHeader('RateLimit-Remaining', String(d.remaining));
        if (d.allowed) return next();
        refuse({ code: 'RATE_LIMITED', status: 429, message: 'Too many requests; slow down' }, { 'Retry-After': String(Math.ceil(d.resetMs / 1000)) });
      })
      .catch(next);
  };
}
