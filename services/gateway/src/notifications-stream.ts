import type { ServerResponse } from 'node:http';
import { authBroadcasts, notificationBroadcasts } from '@lms/contracts';
import { DomainError, toPublicError } from '@lms/runtime';
import { decodeJwt } from 'jose';
import type { EdgeAuth } from './edge-auth.js';
import { sendError, type GatewayRequest } from './http.js';

/** When a verified bearer token expires (its `exp`, in ms); now when it has none. */
function tokenExpiryMs(authorization: string | undefined): number {
  try {
    const exp = decodeJwt(String(authorization ?? '').replace(/^Bearer /, '')).exp;
    return typeof exp === 'number' ? exp * 1000 : Date.now();
  } catch {
    return Date.now();
  }
}

/**
 * Live in-app notifications as Server-Sent Events (`GET /api/v1/me/notifications/stream`): one stream per tab, fed
 * by the notifications broadcast. A stream lives no longer than its session (logout, revocation, password change,
 * deactivation, erasure all broadcast auth.sessions.revoked) or its access token: the client reconnects with a
 * fresh token. Returns the REST alias and the broker event handlers that feed and end the streams.
 */
export function notificationStreams(edgeAuth: EdgeAuth) {
  const streams = new Map<string, Set<ServerResponse>>();
  const streamsBySession = new Map<string, Set<() => void>>();
  /** Every open stream's end, for a gateway that stops. */
  const enders = new Set<() => void>();

  async function stream(req: GatewayRequest, res: ServerResponse) {
    try {
      const caller = await edgeAuth.callerOf(req);
      if (!caller) throw new DomainError('UNAUTHENTICATED', 'Sign in to do this');
      const expMs = tokenExpiryMs(req.headers.authorization);
      res.writeHead(200, {
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-cache, no-transform',
        Connection: 'keep-alive',
        'X-Accel-Buffering': 'no',
      });
      res.write(': connected\n\n');
      const set = streams.get(caller.userId) ?? new Set();
      set.add(res);
      streams.set(caller.userId, set);
      const ping = setInterval(() => !res.writableEnded && res.write(': ping\n\n'), 25_000);
      const end = (reason: 'session_ended' | 'token_expired' | 'server_stopping') => {
        if (res.writableEnded) return;
        res.end(`event: end\ndata: ${JSON.stringify({ reason })}\n\n`);
      };
      const endSession = () => end('session_ended');
      // setTimeout holds at most 2^31-1 ms; a token without exp gets no stream time.
      const expiry = setTimeout(() => end('token_expired'), Math.min(Math.max(0, expMs - Date.now()), 2 ** 31 - 1));
      const sid = caller.sessionId;
      if (sid) streamsBySession.set(sid, (streamsBySession.get(sid) ?? new Set()).add(endSession));
      const endStopping = () => end('server_stopping');
      enders.add(endStopping);
      res.once('close', () => {
        enders.delete(endStopping);
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
  }

  const events = {
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
  };

  /** Ends every open stream (a gateway that stops): the client reconnects at once, to another gateway. */
  const endAll = () => {
    for (const end of [...enders]) end();
  };

  return { aliases: { 'GET /me/notifications/stream': stream }, events, endAll };
}
