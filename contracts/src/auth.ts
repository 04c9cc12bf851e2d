import { z } from 'zod';
import { domain, mutation, query } from './core.js';
import { role } from './users.js';

const email = z.email().max(254).transform((e) => e.toLowerCase());
const password = z.string().min(10, 'must be at least 10 characters').max(200);

export const session = z
  .object({
    user: z.object({ id: z.uuid(), email: z.string(), displayName: z.string(), roles: z.array(role) }),
    accessToken: z.string(),
    tokenType: z.literal('Bearer'),
    expiresIn: z.number().int().meta({ description: 'Seconds until the access token expires' }),
  })
  .meta({ id: 'Session' });
export type Session = z.infer<typeof session>;

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
  /** The public keys that verify access tokens (also served at /.well-known/jwks.json). */
  jwks: query({
    input: z.object({}),
    output: jwks,
    permission: 'public',
    rest: { method: 'GET', path: '/auth/jwks' },
    summary: 'Token verification keys (JWKS)',
  }),
});
