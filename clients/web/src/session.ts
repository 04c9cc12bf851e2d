// The signed-in session: the access token (short-lived, sent as a bearer token), the single-use refresh token and
// the user, kept in localStorage so that a reload or a second tab stays signed in. Access tokens are refreshed
// before they expire (api.ts); a refresh token is used once, under a Web Lock shared by the tabs, so two tabs never
// spend the same one (reusing a refresh token revokes the session, contracts/src/auth.ts).
import type { Session } from '@lms/contracts';
import { useSyncExternalStore } from 'react';

export interface StoredSession {
  accessToken: string;
  /** Epoch ms when the access token expires. */
  accessExpiresAt: number;
  refreshToken: string;
  user: Session['user'];
  sessionId: string;
}

const KEY = 'lms.session';
const listeners = new Set<() => void>();
let current: StoredSession | null = read();

function read(): StoredSession | null {
  try {
    const raw = localStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as StoredSession) : null;
  } catch {
    return null;
  }
}

function emit() {
  for (const l of listeners) l();
}

// Another tab signed in, refreshed or signed out.
window.addEventListener('storage', (e) => {
  if (e.key !== KEY) return;
  current = read();
  emit();
});

export const sessionStore = {
  get: () => current,
  /** Re-reads what another tab may have written meanwhile. */
  reload: () => (current = read()),
  set: (s: Session) => {
    current = {
      accessToken: s.accessToken,
      accessExpiresAt: Date.now() + s.expiresIn * 1000,
      refreshToken: s.refreshToken,
      user: s.user,
      sessionId: s.sessionId,
    };
    localStorage.setItem(KEY, JSON.stringify(current));
    emit();
  },
  /** A change to the signed-in user seen elsewhere (the profile's new name), kept until the next sign-in. */
  patchUser: (user: Partial<Session['user']>) => {
    if (!current) return;
    current = { ...current, user: { ...current.user, ...user } };
    localStorage.setItem(KEY, JSON.stringify(current));
    emit();
  },
  clear: () => {
    current = null;
    localStorage.removeItem(KEY);
    emit();
  },
  subscribe: (l: () => void) => {
    listeners.add(l);
    return () => void listeners.delete(l);
  },
};

/** The signed-in user, or null; re-renders on sign-in, refresh and sign-out (in any tab). */
export function useSession(): StoredSession | null {
  return useSyncExternalStore(sessionStore.subscribe, sessionStore.get);
}
