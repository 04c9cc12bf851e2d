import { z } from 'zod';
import { domain, event, isoDate, mutation, query } from './core.js';
import { role } from './users.js';

const email = z
  .email()
  .max(254)
  .transform((e) => e.toLowerCase());
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

/** The password was right but the account uses two-step sign-in: finish with POST /auth/mfa/verify. */
export const mfaChallenge = z
  .object({
    mfaRequired: z.literal(true),
    mfaToken: z.string().meta({ description: 'Single use, short-lived: send it with a code to /auth/mfa/verify' }),
    expiresIn: z.number().int(),
    methods: z.array(z.enum(['totp', 'recovery_code'])),
  })
  .meta({ id: 'MfaChallenge' });
export const loginResult = z.union([session, mfaChallenge]).meta({ id: 'LoginResult' });
export type LoginResult = z.infer<typeof loginResult>;
/** Narrows a login answer: a session, or a challenge to finish with a second factor. */
export const needsSecondFactor = (r: LoginResult): r is z.infer<typeof mfaChallenge> => 'mfaRequired' in r;

const otp = z
  .string()
  .trim()
  .regex(/^\d{6}$/, 'a 6-digit code from the authenticator app');
const recoveryCode = z
  .string()
  .trim()
  .regex(/^[a-z0-9]{5}-?[a-z0-9]{5}$/i, 'a recovery code such as abcde-12345');
const emailToken = z.string().min(20).max(200);

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
    output: loginResult,
    permission: 'public',
    rest: { method: 'POST', path: '/auth/login' },
    summary: 'Log in',
    errors: ['INVALID_CREDENTIALS', 'RATE_LIMITED'],
  }),
  /** Confirm an email address with the token from the verification message. */
  verifyEmail: mutation({
    input: z.object({ token: emailToken }),
    output: z.object({ verified: z.literal(true), userId: z.uuid() }),
    permission: 'public',
    rest: { method: 'POST', path: '/auth/email/verify' },
    summary: 'Verify my email address',
    errors: ['TOKEN_INVALID'],
  }),
  /** Send the verification message again (earlier links stop working). */
  resendVerification: mutation({
    input: z.object({}),
    output: z.object({ sent: z.boolean() }),
    permission: 'authenticated',
    rest: { method: 'POST', path: '/auth/email/verify/resend', status: 202 },
    summary: 'Resend the verification email',
    errors: ['RATE_LIMITED'],
  }),
  /**
   * Ask for a password-reset message. The answer is the same whether or not an account has this
   * email, so it reveals nothing; the message goes only to an existing account.
   */
  forgotPassword: mutation({
    input: z.object({ email }),
    output: z.object({ accepted: z.literal(true) }),
    permission: 'public',
    rest: { method: 'POST', path: '/auth/password/forgot', status: 202 },
    summary: 'Forgot my password',
    errors: ['RATE_LIMITED'],
  }),
  /** Set a new password with the emailed single-use token; every session of the account ends. */
  resetPassword: mutation({
    input: z.object({ token: emailToken, newPassword: password }),
    output: z.object({ reset: z.literal(true), sessionsRevoked: z.number().int() }),
    permission: 'public',
    rest: { method: 'POST', path: '/auth/password/reset' },
    summary: 'Reset my password',
    errors: ['TOKEN_INVALID', 'RATE_LIMITED'],
  }),
  /** Finish a login that asked for a second factor: the TOTP code or one recovery code. */
  mfaVerify: mutation({
    input: z.object({ mfaToken: z.string().min(20).max(200), code: otp.optional(), recoveryCode: recoveryCode.optional() }),
    output: session,
    permission: 'public',
    rest: { method: 'POST', path: '/auth/mfa/verify' },
    summary: 'Complete a two-step login',
    errors: ['INVALID_CREDENTIALS', 'TOKEN_INVALID', 'RATE_LIMITED'],
  }),
  /** Whether the caller uses two-step sign-in, and whether their roles require it. */
  mfaStatus: query({
    input: z.object({}),
    output: z.object({ totp: z.boolean(), recoveryCodesLeft: z.number().int(), required: z.boolean(), thisSessionUsedMfa: z.boolean() }),
    permission: 'authenticated',
    rest: { method: 'GET', path: '/auth/mfa' },
    summary: 'My two-step sign-in status',
  }),
  /** Start TOTP enrolment (needs the password again): a secret and its otpauth URI / QR code to scan. */
  mfaEnrol: mutation({
    input: z.object({ password: z.string().min(1).max(200) }),
    output: z.object({ secret: z.string(), otpauthUri: z.string(), qrCodeSvg: z.string() }),
    permission: 'authenticated',
    rest: { method: 'POST', path: '/auth/mfa/totp' },
    summary: 'Start TOTP enrolment',
    errors: ['INVALID_CREDENTIALS', 'CONFLICT', 'RATE_LIMITED'],
  }),
  /** Finish enrolment with a code from the app; answers the recovery codes, shown this once. */
  mfaConfirm: mutation({
    input: z.object({ code: otp }),
    output: z.object({ enabled: z.literal(true), recoveryCodes: z.array(z.string()) }),
    permission: 'authenticated',
    rest: { method: 'POST', path: '/auth/mfa/totp/confirm' },
    summary: 'Confirm TOTP enrolment',
    errors: ['INVALID_CREDENTIALS', 'CONFLICT', 'RATE_LIMITED'],
  }),
  /** Turn TOTP off: the password and a current code (or a recovery code). */
  mfaDisable: mutation({
    input: z.object({ password: z.string().min(1).max(200), code: otp.optional(), recoveryCode: recoveryCode.optional() }),
    output: z.object({ disabled: z.literal(true) }),
    permission: 'authenticated',
    rest: { method: 'POST', path: '/auth/mfa/totp/disable' },
    summary: 'Turn TOTP off',
    errors: ['INVALID_CREDENTIALS', 'CONFLICT', 'RATE_LIMITED'],
  }),
  /** Replace the recovery codes (a current TOTP code needed); the old ones stop working. */
  mfaRecoveryCodes: mutation({
    input: z.object({ code: otp }),
    output: z.object({ recoveryCodes: z.array(z.string()) }),
    permission: 'authenticated',
    rest: { method: 'POST', path: '/auth/mfa/recovery-codes' },
    summary: 'New recovery codes',
    errors: ['INVALID_CREDENTIALS', 'CONFLICT', 'RATE_LIMITED'],
  }),
  /** The external identity providers users can sign in with. */
  oidcProviders: query({
    input: z.object({}),
    output: z.object({ providers: z.array(z.object({ name: z.string(), displayName: z.string(), startUrl: z.string() })) }),
    permission: 'public',
    rest: { method: 'GET', path: '/auth/oidc' },
    summary: 'List identity providers',
  }),
  /** Start signing in with an identity provider: redirects the browser to it (authorization code + PKCE). */
  oidcStart: query({
    input: z.object({ provider: z.string().max(40) }),
    output: z.object({ location: z.url().meta({ description: 'The provider’s authorization URL (also in the Location header)' }) }),
    permission: 'public',
    rest: { method: 'GET', path: '/auth/oidc/{provider}/start', status: 302 },
    summary: 'Sign in with an identity provider',
    errors: ['NOT_FOUND', 'SERVICE_UNAVAILABLE'],
  }),
  /**
   * Where the provider sends the browser back. Checks state, PKCE, nonce and the ID token; signs in
   * the linked account, links an existing account with the same provider-verified email, or creates one.
   */
  oidcCallback: query({
    input: z.object({
      provider: z.string().max(40),
      state: z.string().min(1).max(200),
      code: z.string().max(2000).optional(),
      iss: z.string().max(500).optional(),
      session_state: z.string().max(500).optional(),
      error: z.string().max(200).optional(),
      error_description: z.string().max(1000).optional(),
    }),
    output: loginResult,
    permission: 'public',
    rest: { method: 'GET', path: '/auth/oidc/{provider}/callback' },
    summary: 'Identity provider callback',
    errors: ['NOT_FOUND', 'TOKEN_INVALID', 'OIDC_FAILED', 'EMAIL_NOT_VERIFIED', 'CONFLICT', 'ACCOUNT_DEACTIVATED'],
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
  /** A user's active sessions (admins; the access is audited). */
  userSessions: query({
    input: z.object({ userId: z.uuid() }),
    output: z.object({ items: z.array(sessionInfo) }),
    permission: 'users:manage',
    rest: { method: 'GET', path: '/users/{userId}/sessions' },
    summary: "List a user's sessions",
  }),
  /** End every session of a user (admins): refresh stops at once, access tokens at the gateways at once. */
  revokeUserSessions: mutation({
    input: z.object({ userId: z.uuid() }),
    output: z.object({ revoked: z.number().int() }),
    permission: 'users:manage',
    rest: { method: 'DELETE', path: '/users/{userId}/sessions' },
    summary: "Revoke a user's sessions",
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
      reason: z.enum(['bad_credentials', 'throttled', 'deactivated', 'bad_second_factor']),
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
  emailVerified: event({
    subject: 'lms.auth.email_verified.v1',
    stream: 'LMS_AUTH',
    version: 1,
    summary: 'A user proved they own their email address',
    payload: z.object({ userId: z.uuid(), email: z.string() }),
  }),
  passwordResetRequested: event({
    subject: 'lms.auth.password_reset_requested.v1',
    stream: 'LMS_AUTH',
    version: 1,
    summary: 'A reset message was sent to an account',
    payload: z.object({ userId: z.uuid(), ...client }),
  }),
  mfaChanged: event({
    subject: 'lms.auth.mfa_changed.v1',
    stream: 'LMS_AUTH',
    version: 1,
    summary: 'Two-step sign-in was turned on or off, or recovery codes were replaced or used',
    payload: z.object({ userId: z.uuid(), change: z.enum(['enabled', 'disabled', 'recovery_codes_replaced', 'recovery_code_used']), ...client }),
  }),
  identityLinked: event({
    subject: 'lms.auth.identity_linked.v1',
    stream: 'LMS_AUTH',
    version: 1,
    summary: 'An external identity (OIDC) was linked to an account, or an account was created from one',
    payload: z.object({ userId: z.uuid(), provider: z.string(), created: z.boolean() }),
  }),
  passwordChanged: event({
    subject: 'lms.auth.password_changed.v1',
    stream: 'LMS_AUTH',
    version: 1,
    summary: 'A user changed their password, or reset it with an emailed token',
    payload: z.object({ userId: z.uuid(), via: z.enum(['change', 'reset']).default('change'), ...client }),
  }),
};

/**
 * Broadcasts: fire-and-forget notices to every node (Moleculer events over NATS), for caches that
 * must hear at once. Not durable; what must not be lost goes through the outbox as a domain event.
 */
export const authBroadcasts = {
  /** Sessions ended: gateways refuse their access tokens from now on instead of at expiry. */
  sessionsRevoked: { name: 'auth.sessions.revoked', payload: z.object({ sessionIds: z.array(z.uuid()), until: z.number().int() }) },
  /** A new signing key: every node's token verifier fetches the JWKS again at the next token. */
  keysRotated: { name: 'auth.keys.rotated', payload: z.object({ kid: z.string() }) },
};
