import { z } from 'zod';
import { domain, isoDate, mutation, query } from './core.js';

export const role = z.enum(['admin', 'instructor', 'student']);

export const profile = z
  .object({
    id: z.uuid(),
    email: z.string(),
    displayName: z.string(),
    bio: z.string(),
    roles: z.array(role),
    createdAt: isoDate,
    updatedAt: isoDate,
  })
  .meta({ id: 'Profile' });
export type Profile = z.infer<typeof profile>;

export const users = domain('users', {
  /** The caller's own profile. */
  me: query({
    input: z.object({}),
    output: profile,
    permission: 'authenticated',
    rest: { method: 'GET', path: '/me' },
    summary: 'Get my profile',
  }),
  /** Change the caller's display name or bio. */
  updateMe: mutation({
    input: z.object({ displayName: z.string().trim().min(1).max(100).optional(), bio: z.string().max(2000).optional() }),
    output: profile,
    permission: 'authenticated',
    rest: { method: 'PATCH', path: '/me' },
    summary: 'Update my profile',
  }),
  /** A user's profile: the user themself or an admin. */
  get: query({
    input: z.object({ userId: z.uuid() }),
    output: profile,
    permission: 'authenticated',
    rest: { method: 'GET', path: '/users/{userId}' },
    summary: 'Get a user',
    errors: ['USER_NOT_FOUND'],
  }),
  /** Grant a role to a user (admin only). Takes effect at the user's next login. */
  grantRole: mutation({
    input: z.object({ userId: z.uuid(), role }),
    output: profile,
    permission: 'users:manage',
    rest: { method: 'POST', path: '/users/{userId}/roles' },
    summary: 'Grant a role',
    errors: ['USER_NOT_FOUND'],
  }),
});

/** Service-to-service only: never exposed at the gateway. */
export const usersInternal = domain('users', {
  /** Create the profile for a new account; the first one on an empty install is admin. */
  create: mutation({
    input: z.object({ id: z.uuid(), email: z.string(), displayName: z.string() }),
    output: profile,
    permission: 'internal',
    summary: 'Create a profile',
    errors: ['EMAIL_TAKEN'],
  }),
  /** Remove a profile whose account could not be completed (compensation). */
  remove: mutation({
    input: z.object({ id: z.uuid() }),
    output: z.object({ removed: z.boolean() }),
    permission: 'internal',
    summary: 'Remove a profile',
  }),
  /** Look a profile up by id for another service (no caller checks). */
  byId: query({
    input: z.object({ id: z.uuid() }),
    output: profile,
    permission: 'internal',
    summary: 'Profile by id',
    errors: ['USER_NOT_FOUND'],
  }),
});
