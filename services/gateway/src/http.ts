import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { errorHeaders, type PublicError } from '@lms/runtime';

export interface GatewayRequest extends IncomingMessage {
  $requestId: string;
  /** Client IP (X-Forwarded-For only with TRUST_PROXY). */
  $ip?: string;
  $startedAt: number;
  $params?: Record<string, unknown>;
  parsedUrl?: string;
  originalUrl?: string;
  query?: Record<string, unknown>;
  body?: unknown;
}

/** A path parameter moleculer-web matched (`/:fileId`), or '' when the route has none by that name. */
export function pathParam(req: GatewayRequest, name: string): string {
  const v = req.$params?.[name];
  return typeof v === 'string' ? v : '';
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const data = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(data), ...headers });
  res.end(data);
}

/** An error in the public model; a 503 carries `Retry-After` (the caller's own headers, a rate limit's, win). */
export function sendError(req: GatewayRequest, res: ServerResponse, e: PublicError, headers: Record<string, string> = {}): void {
  sendJson(res, e.status, { error: { code: e.code, message: e.message, details: e.details, requestId: req.$requestId } }, { ...errorHeaders(e), ...headers });
}

/** Headers for API responses; the docs page relaxes the CSP for its own assets. */
export function securityHeaders(res: ServerResponse, path: string): void {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-site');
  res.setHeader(
    'Content-Security-Policy',
    path.startsWith('/docs')
      ? "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
      : "default-src 'none'; frame-ancestors 'none'",
  );
}

export interface CorsOptions {
  /** `*` or a list of exact origins. */
  origins: '*' | string[];
}

/** Answers preflights; returns true when the request is fully handled. */
export function cors(req: IncomingMessage, res: ServerResponse, opts: CorsOptions): boolean {
  const origin = req.headers.origin;
  if (origin && (opts.origins === '*' || opts.origins.includes(origin))) {
    res.setHeader('Access-Control-Allow-Origin', opts.origins === '*' ? '*' : origin);
    res.setHeader('Vary', 'Origin');
    res.setHeader('Access-Control-Expose-Headers', 'X-Request-Id, Retry-After, RateLimit-Limit, RateLimit-Remaining, Idempotent-Replayed');
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST, PUT, PATCH, DELETE, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, X-Request-Id, trpc-accept, Idempotency-Key');
      res.setHeader('Access-Control-Max-Age', '600');
      res.writeHead(204).end();
      return true;
    }
  } else if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
    res.writeHead(204).end();
    return true;
  }
  return false;
}

/**
 * What Node's HTTP parser refuses before a request exists (headers over maxHeaderSize, a malformed request line)
 * is answered in the error model too: 431 HEADERS_TOO_LARGE or 400 BAD_REQUEST, with a request id, then the
 * connection closes. (Node's own answer is a bare status line with no body.)
 */
export function answerClientErrors(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || !socket.writable) return void socket.destroy();
    const requestId = randomUUID();
    const [status, reason, code, message] =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large', 'HEADERS_TOO_LARGE', 'The request headers are too large']
        : [400, 'Bad Request', 'BAD_REQUEST', 'The request is not valid HTTP'];
    const body = JSON.stringify({ error: { code, message, requestId } });
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-Id: ${requestId}\r\nX-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}
