import { z } from 'zod';
import { domain, event, isoDate, mutation, page, pageInput, query } from './core.js';
import { deliveryMode, notificationChannels, notificationPreferences, notificationPreferencesInput, notificationTypes } from './notifications.js';
import { privacyRequest } from './privacy.js';

export const role = z.enum(['admin', 'instructor', 'auditor', 'student']);

export const profile = z
  .object({
    id: z.uuid(),
    email: z.string(),
    displayName: z.string(),
    bio: z.string(),
    avatarFileId: z.uuid().nullable().meta({ description: 'An image in the files service' }),
    emailVerified: z.boolean(),
    roles: z.array(role),
    locale: z.string(),
    timezone: z.string(),
    status: z.enum(['active', 'deactivated', 'erased']),
    createdAt: isoDate,
    updatedAt: isoDate,
  })
  .meta({ id: 'Profile' });
export type Profile = z.infer<typeof profile>;

const locale = z
  .string()
  .regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, { message: 'a BCP 47 language tag such as en or pt-BR', abort: true })
  .refine((l) => {
    try {
      return Intl.getCanonicalLocales(l).length === 1;
    } catch {
      return false; // a refinement must answer, never throw: zod runs it even after the regex failed
    }
  }, 'not a valid language tag');
const timezone = z
  .string()
  .max(64)
  .refine((tz) => Intl.supportedValuesOf('timeZone').includes(tz) || tz === 'UTC', 'not an IANA time zone');

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
    input: z.object({
      displayName: z.string().trim().min(1).max(100).optional(),
      bio: z.string().max(2000).optional(),
      avatarFileId: z.uuid().nullable().optional(),
      locale: locale.optional(),
      timezone: timezone.optional(),
    }),
    output: profile,
    permission: 'authenticated',
    rest: { method: 'PATCH', path: '/me' },
    summary: 'Update my profile',
  }),
  /** How each kind of message reaches the caller: per type and channel, immediately, in a digest or never; quiet hours. */
  notificationPreferences: query({
    input: z.object({}),
    output: notificationPreferences,
    permission: 'authenticated',
    rest: { method: 'GET', path: '/me/notification-preferences' },
    summary: 'Get my notification preferences',
  }),
  /**
   * Replace the caller's notification preferences; types and channels left out take their defaults.
   * Mandatory types (security) cannot have their email turned off or delayed: 422.
   */
  setNotificationPreferences: mutation({
    input: notificationPreferencesInput,
    output: notificationPreferences,
    permission: 'authenticated',
    rest: { method: 'PUT', path: '/me/notification-preferences' },
    summary: 'Replace my notification preferences',
    errors: ['VALIDATION_FAILED'],
  }),
  /** Ask for everything the LMS holds about the caller, as one JSON bundle (tracked until complete). */
  requestExport: mutation({
    input: z.object({}),
    output: privacyRequest,
    permission: 'authenticated',
    rest: { method: 'POST', path: '/me/export', status: 202 },
    summary: 'Export my data',
    errors: ['CONFLICT'],
  }),
  /** Erase the caller's account and personal data in every service. Cannot be undone. */
  requestErasure: mutation({
    input: z.object({ confirm: z.literal('ERASE').meta({ description: 'Type ERASE to confirm' }) }),
    output: privacyRequest,
    permission: 'authenticated',
    rest: { method: 'POST', path: '/me/erasure', status: 202 },
    summary: 'Erase my account',
    errors: ['CONFLICT'],
  }),
  /** Export a user's data on their behalf (admins). */
  requestExportFor: mutation({
    input: z.object({ userId: z.uuid() }),
    output: privacyRequest,
    permission: 'users:manage',
    rest: { method: 'POST', path: '/users/{userId}/export', status: 202 },
    summary: "Export a user's data",
    errors: ['USER_NOT_FOUND', 'CONFLICT'],
  }),
  /** Erase a user on their behalf (admins); admins cannot erase themselves this way. */
  requestErasureFor: mutation({
    input: z.object({ userId: z.uuid(), confirm: z.literal('ERASE') }),
    output: privacyRequest,
    permission: 'users:manage',
    rest: { method: 'POST', path: '/users/{userId}/erasure', status: 202 },
    summary: 'Erase a user',
    errors: ['USER_NOT_FOUND', 'CONFLICT'],
  }),
  /** A privacy request's progress: its requester, its subject or an admin. */
  privacyRequest: query({
    input: z.object({ requestId: z.uuid() }),
    output: privacyRequest,
    permission: 'authenticated',
    rest: { method: 'GET', path: '/privacy/requests/{requestId}' },
    summary: 'Get a privacy request',
    errors: ['NOT_FOUND'],
  }),
  /** The bundle of a completed export: its subject or an admin. */
  downloadExport: query({
    input: z.object({ requestId: z.uuid() }),
    output: z.object({ request: privacyRequest, data: z.record(z.string(), z.unknown()) }).meta({ id: 'DataExport' }),
    permission: 'authenticated',
    rest: { method: 'GET', path: '/privacy/requests/{requestId}/download' },
    summary: 'Download a data export',
    errors: ['NOT_FOUND', 'CONFLICT'],
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
  /** Take a role away (admin only); admins cannot take admin from themselves. */
  revokeRole: mutation({
    input: z.object({ userId: z.uuid(), role }),
    output: profile,
    permission: 'users:manage',
    rest: { method: 'DELETE', path: '/users/{userId}/roles/{role}' },
    summary: 'Revoke a role',
    errors: ['USER_NOT_FOUND', 'CONFLICT'],
  }),
  /** Users for administration: search by email or name, filter by role or status, cursor pages. */
  list: query({
    input: pageInput.extend({
      q: z.string().trim().min(1).max(100).optional().meta({ description: 'Email prefix or part of the name' }),
      role: role.optional(),
      status: z.enum(['active', 'deactivated', 'erased']).optional(),
    }),
    output: page(profile),
    permission: 'users:manage',
    rest: { method: 'GET', path: '/users' },
    summary: 'List users',
  }),
  /** Stop a user from signing in; their sessions are revoked (admin only). */
  deactivate: mutation({
    input: z.object({ userId: z.uuid() }),
    output: profile,
    permission: 'users:manage',
    rest: { method: 'POST', path: '/users/{userId}/deactivate' },
    summary: 'Deactivate a user',
    errors: ['USER_NOT_FOUND', 'CONFLICT'],
  }),
  /** Let a deactivated user sign in again (admin only). */
  reactivate: mutation({
    input: z.object({ userId: z.uuid() }),
    output: profile,
    permission: 'users:manage',
    rest: { method: 'POST', path: '/users/{userId}/reactivate' },
    summary: 'Reactivate a user',
    errors: ['USER_NOT_FOUND'],
  }),
});

const userRef = { userId: z.uuid() };
export const userEvents = {
  created: event({
    subject: 'lms.user.created.v1',
    stream: 'LMS_USER',
    version: 1,
    summary: 'An account was created',
    payload: z.object({ ...userRef, email: z.string(), displayName: z.string(), roles: z.array(role) }),
  }),
  updated: event({
    subject: 'lms.user.updated.v1',
    stream: 'LMS_USER',
    version: 1,
    summary: 'A profile or its roles changed',
    payload: z.object({ ...userRef, changed: z.array(z.string()), roles: z.array(role), by: z.uuid().nullable() }),
  }),
  deactivated: event({
    subject: 'lms.user.deactivated.v1',
    stream: 'LMS_USER',
    version: 1,
    summary: 'A user may no longer sign in',
    payload: z.object({ ...userRef, by: z.uuid() }),
  }),
  /** Every service erases or anonymises what it holds about the user, then says so (privacy.erased). */
  deleted: event({
    subject: 'lms.user.deleted.v1',
    stream: 'LMS_USER',
    version: 1,
    summary: 'A user was erased: every service removes or anonymises their data',
    payload: z.object({ ...userRef, requestId: z.uuid(), by: z.uuid() }),
  }),
};

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
  /** What the notifications service needs to address users: address, name, language, time zone, channel choices (a routing batch); unknown ids are left out. */
  notificationSettingsMany: query({
    input: z.object({ ids: z.array(z.uuid()).min(1).max(500) }),
    output: z.object({
      items: z.array(
        z.object({
          id: z.uuid(),
          email: z.string(),
          displayName: z.string(),
          locale: z.string(),
          timezone: z.string(),
          status: z.string(),
          preferences: notificationPreferences,
        }),
      ),
    }),
    permission: 'internal',
    summary: "Many users' notification settings",
  }),
  /** Set the mode of one channel of one message type for a user (one-click unsubscribe: never). Mandatory email stays on. */
  setChannelPreference: mutation({
    input: z.object({ id: z.uuid(), type: z.enum(notificationTypes), channel: z.enum(notificationChannels), mode: deliveryMode }),
    output: notificationPreferences,
    permission: 'internal',
    summary: 'Set one notification preference',
    errors: ['USER_NOT_FOUND'],
  }),
  /** Look a profile up by email for another service (bulk enrolment). */
  byEmail: query({
    input: z.object({ email: z.string().max(254) }),
    output: profile,
    permission: 'internal',
    summary: 'Profile by email',
    errors: ['USER_NOT_FOUND'],
  }),
  /**
   * Names (and emails) of many users at once, for lists that show people (rosters, course members): one call per
   * page. Unknown ids are left out; an erased user keeps the pseudonym and has no email.
   */
  summaries: query({
    input: z.object({ ids: z.array(z.uuid()).min(1).max(500) }),
    output: z.object({
      items: z.array(z.object({ id: z.uuid(), displayName: z.string(), email: z.string().nullable(), status: z.enum(['active', 'deactivated', 'erased']) })),
    }),
    permission: 'internal',
    summary: "Many users' names and emails",
  }),
  /** Look a profile up by id for another service (no caller checks). */
  byId: query({
    input: z.object({ id: z.uuid() }),
    output: profile,
    permission: 'internal',
    summary: 'Profile by id',
    errors: ['USER_NOT_FOUND'],
  }),
  /**
   * Current roles of the users whose roles changed since `since` (epoch ms), or of the named users: what
   * every node's token verifier uses instead of the roles inside access tokens issued before the change.
   */
  roleChanges: query({
    input: z.object({ since: z.number().int().optional(), userIds: z.array(z.uuid()).max(500).optional() }),
    output: z.object({ items: z.array(z.object({ userId: z.uuid(), roles: z.array(role), at: z.number().int() })) }),
    permission: 'internal',
    summary: 'Recent role changes',
  }),
});

/**
 * Broadcasts: fire-and-forget notices to every node. A notice carries no authority: the verifier asks
 * the users service for the roles it names, so a forged notice cannot grant anything.
 */
export const usersBroadcasts = {
  /** A user's roles changed: every node's token verifier looks up their roles again. */
  rolesChanged: { name: 'users.roles.changed', payload: z.object({ userId: z.uuid(), at: z.number().int() }) },
};
