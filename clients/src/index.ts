import type { AppRouter, LmsErrorData, LoginResult } from '@lms/contracts';
import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client';

export type { AppRouter } from '@lms/contracts';

export interface LmsClientOptions {
  /** Gateway origin, e.g. http://localhost:3000 */
  url: string;
  /** Access token, or a function that returns the current one. */
  token?: string | (() => string | undefined);
  fetch?: typeof fetch;
}

/** The typed LMS client: `client.courses.get.query({ courseId })`. Imports only types from the server side. */
export function createLmsClient(opts: LmsClientOptions) {
  return createTRPCClient<AppRouter>({
    links: [
      httpBatchLink({
        url: `${opts.url.replace(/\/$/, '')}/trpc`,
        fetch: opts.fetch,
        headers() {
          const token = typeof opts.token === 'function' ? opts.token() : opts.token;
          return token ? { authorization: `Bearer ${token}` } : {};
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
