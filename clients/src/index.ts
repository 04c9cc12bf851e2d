import type { AppRouter, InboxItem, LmsErrorData, LoginResult } from '@lms/contracts';
import { createTRPCClient, httpBatchLink, TRPCClientError, type Operation, type TRPCLink } from '@trpc/client';

export type { AppRouter } from '@lms/contracts';

export interface LmsClientOptions {
  /** Gateway origin, e.g. http://localhost:3000 */
  url: string;
  /** Access token, or a function that returns the current one. */
  token?: string | (() => string | undefined);
  fetch?: typeof fetch;
}

/**
 * Gives every mutation an Idempotency-Key, once: stored in the operation's context, so a retry of the operation (a
 * retry link, or the caller passing the same context) sends the same key and the server answers the first response
 * instead of doing it twice. A key of the caller's own wins: `mutate(input, { context: { idempotencyKey } })` (e.g. one
 * kept across a page reload).
 */
export function idempotencyKeyLink(): TRPCLink<AppRouter> {
  return () =>
    ({ op, next }) => {
      if (op.type === 'mutation' && typeof op.context.idempotencyKey !== 'string') op.context.idempotencyKey = crypto.randomUUID();
      return next(op);
    };
}

/** The `Idempotency-Key` header of one HTTP request: one key per call of the batch, comma-separated, in order. */
export function idempotencyKeyHeader(opList: readonly Operation[]): Record<string, string> {
  const keys = opList.map((op) => (op.type === 'mutation' && typeof op.context.idempotencyKey === 'string' ? op.context.idempotencyKey : ''));
  return keys.some(Boolean) ? { 'idempotency-key': keys.join(',') } : {};
}

/** The typed LMS client: `client.courses.get.query({ courseId })`. Imports only types from the server side. */
export function createLmsClient(opts: LmsClientOptions) {
  return createTRPCClient<AppRouter>({
    links: [
      idempotencyKeyLink(),
      httpBatchLink({
        url: `${opts.url.replace(/\/$/, '')}/trpc`,
        fetch: opts.fetch,
        headers({ opList }) {
          const token = typeof opts.token === 'function' ? opts.token() : opts.token;
          return { ...(token ? { authorization: `Bearer ${token}` } : {}), ...idempotencyKeyHeader(opList) };
        },
      }),
    ],
  });
}
export type LmsClient = ReturnType<typeof createLmsClient>;

/** The stable error code of a failed call (e.g. COURSE_NOT_FOUND), if it came from the LMS. */
export function errorCode(err: unknown): string | undefined {
  return err instanceof TRPCClientError ? (err.data as LmsErrorData | undefined)?.code : undefined;
}
export function errorData(err: unknown): LmsErrorData | undefined {
  return err instanceof TRPCClientError ? (err.data as LmsErrorData | undefined) : undefined;
}

/** A login (or OIDC callback) answer that asks for a second factor: finish with `auth.mfaVerify`. */
export function needsSecondFactor(r: LoginResult): r is Extract<LoginResult, { mfaRequired: true }> {
  return 'mfaRequired' in r;
}

/** Why a notification stream ended: the server's `end` event, or `closed` when the connection dropped. */
export type NotificationStreamEnd = 'session_ended' | 'token_expired' | 'server_stopping' | 'closed';

export interface NotificationStreamOptions {
  /** Gateway origin, e.g. http://localhost:3000 */
  url: string;
  token?: string | (() => string | undefined);
  /** A fetch that adds the session's token (and refreshes it) instead of `token`. */
  fetch?: typeof fetch;
  signal?: AbortSignal;
  /** The server accepted the stream: what arrives from now on is live. */
  onOpen?: () => void;
  onNotification: (item: InboxItem) => void;
}

/**
 * The caller's live in-app notifications (`GET /api/v1/me/notifications/stream`, Server-Sent Events; the tRPC router
 * has no subscriptions). Resolves when the stream ends, with the reason: the caller reconnects (a fresh token after
 * `token_expired`, another gateway after `server_stopping`). Rejects with the HTTP status when the server refused it
 * (401: the session is over), or when aborted. Each item has the `notifications.inbox` item's type.
 */
export async function streamNotifications(opts: NotificationStreamOptions): Promise<NotificationStreamEnd> {
  const token = typeof opts.token === 'function' ? opts.token() : opts.token;
  const res = await (opts.fetch ?? fetch)(`${opts.url.replace(/\/$/, '')}/api/v1/me/notifications/stream`, {
    headers: { accept: 'text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    signal: opts.signal,
    cache: 'no-store',
  });
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    throw Object.assign(new Error(`notification stream refused: HTTP ${res.status}`), { status: res.status });
  }
  opts.onOpen?.();
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return 'closed';
    buffer += value.replace(/\r\n?/g, '\n');
    let cut: number;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of frame.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length === 0) continue; // a comment (": ping")
      if (event === 'notification') opts.onNotification(JSON.parse(data.join('\n')) as InboxItem);
      else if (event === 'end') {
        await reader.cancel();
        const reason = (JSON.parse(data.join('\n')) as { reason?: NotificationStreamEnd }).reason;
        return reason ?? 'closed';
      }
    }
  }
}
