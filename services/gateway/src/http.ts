import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PublicError } from '@lms/runtime';

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

export function sendError(req: GatewayRequest, res: ServerResponse, e: PublicError, headers: Record<string, string> = {}): void {
  sendJson(res, e.status, { error: { code: e.code, message: e.message, details: e.details, requestId: req.$requestId } }, headers);
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
    res.setHeader('Access-Control-Expose-Headers', 'X-Request-Id, Retry-After, RateLimit-Limit, RateLimit-Remaining');
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST, PUT, PATCH, DELETE, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, X-Request-Id, trpc-accept');
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
