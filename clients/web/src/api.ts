// The typed tRPC client (@lms/client) with the session's token. Every request first makes sure the access token has
// more than REFRESH_MARGIN_MS left (refreshing it with the refresh token if not), and a 401 answer gets one refresh
// and one retry; when the refresh token is refused the session ends and `onSessionExpired` sends the person to sign in.
import { createLmsClient, errorCode } from '@lms/client';
import { sessionStore } from './session.ts';

const REFRESH_MARGIN_MS = 30_000;
const origin = window.location.origin;

/** Unauthenticated calls only: the refresh itself. */
const bare = createLmsClient({ url: origin });

let expiredHandler: () => void = () => {};
/** What to do when the session cannot be refreshed (set by the router: go to sign-in, then back). */
export function onSessionExpired(fn: () => void) {
  expiredHandler = fn;
}

let inFlight: Promise<boolean> | null = null;

/** Swaps the refresh token for a new session; false when the server refused it (the session is over). */
export function refreshSession(): Promise<boolean> {
  inFlight ??= (async () => {
    const run = async () => {
      const before = sessionStore.get()?.refreshToken;
      const now = sessionStore.reload();
      if (!now) return false;
      // Another tab refreshed while this one waited for the lock: its tokens are ours too.
      if (now.refreshToken !== before && now.accessExpiresAt - Date.now() > REFRESH_MARGIN_MS) return true;
      try {
        sessionStore.set(await bare.auth.refresh.mutate({ refreshToken: now.refreshToken }));
        return true;
      } catch (err) {
        if (errorCode(err) === 'TOKEN_INVALID' || errorCode(err) === 'UNAUTHENTICATED') {
          sessionStore.clear();
          return false;
        }
        throw err; // offline or a server error: the session may still be good
      }
    };
    return navigator.locks ? navigator.locks.request('lms.refresh', run) : run();
  })().finally(() => (inFlight = null));
  return inFlight;
}

export async function authFetch(input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> {
  const send = () => {
    const headers = new Headers(init.headers);
    const token = sessionStore.get()?.accessToken;
    if (token) headers.set('authorization', `Bearer ${token}`);
    else headers.delete('authorization');
    return fetch(input, { ...init, headers });
  };
  const s = sessionStore.get();
  if (s && s.accessExpiresAt - Date.now() < REFRESH_MARGIN_MS && !(await refreshSession())) expiredHandler();
  const res = await send();
  if (res.status !== 401 || !sessionStore.get()) return res;
  if (await refreshSession()) return send();
  expiredHandler();
  return res;
}

export const api = createLmsClient({ url: origin, token: () => sessionStore.get()?.accessToken, fetch: authFetch });
