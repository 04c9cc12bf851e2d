import { z } from 'zod';
import { domain, event, isoDate, mutation, query } from './core.js';
import { role } from './users.js';

const email = z.email().max(254).transform((e) => e.toLowerCase());
const password = z.string().min(10, 'must be at least 10 characters').max(200);

export const session = z
  .object({
    user: z.object({ id: z.uuid(), email: z.string(), displayName: z.string(), roles: z.array(role) }),
    accessToken: z.string(),
    tokenType: z.literal('Bearer'),
    expiresIn: z.number().int().meta({ description: 'Seconds until the access token expires' }),
    refreshToken: z.string().meta({ description: 'Opaque, single use: POST it to /auth/refresh for a new session' }),
    refreshExpiresIn: z.number().int().meta({ description: 'Seconds until the refresh token expires' }),
    sessionId: z.uuid(),
  })
  .meta({ id: 'Session' });
export type Session = z.infer<typeof session>;

export const sessionInfo = z
  .object({
    id: z.uuid(),
    userAgent: z.string().nullable(),
    ip: z.string().nullable(),
    createdAt: isoDate,
    lastUsedAt: isoDate,
    current: z.boolean(),
  })
  .meta({ id: 'SessionInfo' });

const refreshToken = z.string().min(20).max(200);

export const jwk = z.looseObject({ kty: z.string(), kid: z.string(), alg: z.string(), use: z.string(), crv: z.string(), x: z.string() });
export const jwks = z.object({ keys: z.array(jwk) }).meta({ id: 'JWKS' });

export const auth = domain('auth', {
  /** Create an account with email and password; the first account on an empty install becomes admin. */
  register: mutation({
    input: z.object({ email, password, displayName: z.string().trim().min(1).max(100) }),
    output: session,
    permission: 'public',
    rest: { method: 'POST', path: '/auth/register', status: 201 },
    summary: 'Register an account',
    errors: ['EMAIL_TAKEN'],
  }),
  /** Exchange email and password for an access token. */
  login: mutation({
    input: z.object({ email, password: z.string().min(1).max(200) }),
    output: session,
    permission: 'public',
    rest: { method: 'POST', path: '/auth/login' },
    summary: 'Log in',
    errors: ['INVALID_CREDENTIALS'],
  }),
  /** Change the caller's password; every other session of theirs is revoked. */
  changePassword: mutation({
    input: z.object({ currentPassword: z.string().min(1).max(200), newPassword: password }),
    output: z.object({ changed: z.literal(true), otherSessionsRevoked: z.number().int() }),
    permission: 'authenticated',
    rest: { method: 'POST', path: '/auth/password' },
    summary: 'Change my password',
    errors: ['INVALID_CREDENTIALS', 'RATE_LIMITED'],
  }),
  /** Exchange a refresh token for a new session; each token works once, and reusing one revokes its session. */
  refresh: mutation({
    input: z.object({ refreshToken }),
    output: session,
    permission: 'public',
    rest: { method: 'POST', path: '/auth/refresh' },
    summary: 'Refresh a session',
    errors: ['TOKEN_INVALID'],
  }),
  /** End the caller's current session: its refresh token stops working at once. */
  logout: mutation({
    input: z.object({}),
    output: z.object({ revoked: z.boolean() }),
    permission: 'authenticated',
    rest: { method: 'POST', path: '/auth/logout' },
    summary: 'Log out',
  }),
  /** The caller's active sessions, most recently used first. */
  sessions: query({
    input: z.object({}),
    output: z.object({ items: z.array(sessionInfo) }),
    permission: 'authenticated',
    rest: { method: 'GET', path: '/me/sessions' },
    summary: 'List my sessions',
  }),
  /** Revoke one of the caller's sessions. */
  revokeSession: mutation({
    input: z.object({ sessionId: z.uuid() }),
    output: z.object({ revoked: z.boolean() }),
    permission: 'authenticated',
    rest: { method: 'DELETE', path: '/me/sessions/{sessionId}' },
    summary: 'Revoke a session',
    errors: ['NOT_FOUND'],
  }),
  /** Revoke every session of the caller (log out everywhere). */
  revokeAllSessions: mutation({
    input: z.object({}),
    output: z.object({ revoked: z.number().int() }),
    permission: 'authenticated',
    rest: { method: 'DELETE', path: '/me/sessions' },
    summary: 'Revoke all my sessions',
  }),
  /** Start signing tokens with a new key (admins); tokens signed before keep working until they expire. */
  rotateKeys: mutation({
    input: z.object({}),
    output: z.object({ kid: z.string() }),
    permission: 'users:manage',
    rest: { method: 'POST', path: '/auth/keys/rotate' },
    summary: 'Rotate the token signing key',
  }),
  /** The public keys that verify access tokens (also served at /.well-known/jwks.json). */
  jwks: query({
    input: z.object({}),
    output: jwks,
    permission: 'public',
    rest: { method: 'GET', path: '/auth/jwks' },
    summary: 'Token verification keys (JWKS)',
  }),
});

const client = { ip: z.string().nullable(), userAgent: z.string().nullable() };
export const authEvents = {
  loginSucceeded: event({
    subject: 'lms.auth.login_succeeded.v1',
    stream: 'LMS_AUTH',
    version: 1,
    summary: 'A password login succeeded',
    payload: z.object({ userId: z.uuid(), sessionId: z.uuid(), ...client }),
  }),
  loginFailed: event({
    subject: 'lms.auth.login_failed.v1',
    stream: 'LMS_AUTH',
    version: 1,
    summary: 'A password login failed (wrong password, unknown email, throttled or deactivated)',
    payload: z.object({
      /** SHA-256 of the email: correlates attempts without storing addresses that have no account. */
      emailHash: z.string(),
      userId: z.uuid().nullable(),
      reason: z.enum(['bad_credentials', 'throttled', 'deactivated']),
      ...client,
    }),
  }),
  sessionsRevoked: event({
    subject: 'lms.auth.sessions_revoked.v1',
    stream: 'LMS_AUTH',
    version: 1,
    summary: 'Sessions of a user were revoked',
    payload: z.object({ userId: z.uuid(), count: z.number().int(), reason: z.string(), by: z.uuid().nullable() }),
  }),
  passwordChanged: event({
    subject: 'lms.auth.password_changed.v1',
    stream: 'LMS_AUTH',
    version: 1,
    summary: 'A user changed their password',
    payload: z.object({ userId: z.uuid(), ...client }),
  }),
};

/**
 * Broadcasts: fire-and-forget notices to every node (Moleculer events over NATS), for caches that
 * must hear at once. Not durable; what must not be lost goes through the outbox as a domain event.
 */
export const authBroadcasts = {
  /** Sessions ended: gateways refuse their access tokens from now on instead of at expiry. */
  sessionsRevoked: { name: 'auth.sessions.revoked', payload: z.object({ sessionIds: z.array(z.uuid()), until: z.number().int() }) },
};
