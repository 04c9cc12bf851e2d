import type { ServerResponse } from 'node:http';
import { allProcedures, type AnyProcedure, type RestBinding } from '@lms/contracts';
import { carrierFromHeaders, DomainError, parseIdempotencyKey, toPublicError, type Logger } from '@lms/runtime';
import type { EdgeAuth } from './edge-auth.js';
import { clientOf, headerOf } from './edge.js';
import { sendError, sendJson, type GatewayRequest } from './http.js';
import { pathParams } from './openapi.js';
import type { Forward } from './trpc.js';

/** One REST operation: path params, then query (GET/DELETE) or JSON body, then the action. */
function restHandler(c: AnyProcedure, rest: RestBinding, forward: Forward, edgeAuth: EdgeAuth, log: Logger) {
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
        throw new DomainError('VALIDATION_FAILED', 'Invalid input: (root): expected a JSON object', {
          issues: [{ path: '(root)', message: 'expected a JSON object', code: 'invalid_type' }],
        });
      }
      const input: Record<string, unknown> = readsBody && !form ? { ...(req.body ?? {}) } : { ...(req.query ?? {}) };
      for (const p of inPath) input[p] = req.$params?.[p];
      // Mutations only (a query is safe to repeat); validated before anything runs.
      const idempotencyKey = c.kind === 'mutation' ? parseIdempotencyKey(headerOf(req, 'idempotency-key')) : undefined;
      const caller = await edgeAuth.callerOf(req);
      const token = caller ? edgeAuth.tokenOf(req) : undefined;
      const out = await forward(c, input, {
        requestId: req.$requestId,
        caller,
        token,
        trace: carrierFromHeaders(req.headers),
        edge: 'rest',
        client: clientOf(req),
        idempotencyKey,
        // A repeat answered with the first response (success or error) says so, as Stripe's API does.
        replayed: () => res.setHeader('Idempotent-Replayed', 'true'),
      });
      const status = rest.status ?? 200;
      // A redirecting operation (OIDC start) answers its target in Location, and in the body for API clients.
      const location = status >= 300 && status < 400 ? (out as { location?: unknown }).location : undefined;
      sendJson(res, status, out, typeof location === 'string' ? { Location: location } : {});
    } catch (err) {
      const pub = toPublicError(err);
      // An outage (503) is expected and already logged once by the service that met it: a warning, not an error per request.
      if (pub.status === 503) log.warn({ requestId: req.$requestId, action: c.action, code: pub.code }, 'request refused: unavailable');
      else if (pub.status >= 500) log.error({ requestId: req.$requestId, action: c.action, err: String(err) }, 'request failed');
      const retry = pub.details?.retryAfterSeconds;
      sendError(req, res, pub, typeof retry === 'number' ? { 'Retry-After': String(retry) } : {});
    }
  };
}

/** `/api/v1`: one moleculer-web alias per procedure that has a REST binding in its contract. */
export function restAliases(forward: Forward, edgeAuth: EdgeAuth, log: Logger): Record<string, (req: GatewayRequest, res: ServerResponse) => Promise<void>> {
  const aliases: Record<string, (req: GatewayRequest, res: ServerResponse) => Promise<void>> = {};
  for (const c of allProcedures()) {
    if (c.rest) aliases[`${c.rest.method} ${c.rest.path.replace(/\{(\w+)\}/g, ':$1')}`] = restHandler(c, c.rest, forward, edgeAuth, log);
  }
  return aliases;
}
