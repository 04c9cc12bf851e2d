import type { AppRouter, LmsErrorData, LoginResult } from '@lms/contracts';
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
