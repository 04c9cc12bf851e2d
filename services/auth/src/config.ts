import { dataKeyVariable, declareEnv, env } from '@lms/runtime';
import { z } from 'zod';

const seconds = (fallback: number, description: string) => env.int().min(1).default(fallback).meta({ description });
const count = (fallback: number, description: string) => env.int().min(1).default(fallback).meta({ description });

/**
 * The auth service's environment (parsed once when the node starts). `AUTH_ACCESS_TTL_S` is the runtime's (every
 * node's token verifier reads it too): auth reads it from the runtime's settings.
 */
export const authEnv = declareEnv('auth', {
  AUTH_REFRESH_TTL_S: seconds(30 * 24 * 3600, 'Refresh token (session) lifetime in seconds'),
  AUTH_KEY_ROTATE_DAYS: env.number().positive('must be positive').default(30).meta({ description: 'Days after which the signing key rotates by itself' }),
  AUTH_KEY_OVERLAP_S: env.int().default(300).meta({ description: 'Seconds a retired signing key stays in the JWKS beyond the access-token lifetime' }),
  AUTH_VERIFY_TOKEN_TTL_S: seconds(24 * 3600, 'Lifetime of an email-verification link in seconds'),
  AUTH_RESET_TOKEN_TTL_S: seconds(30 * 60, 'Lifetime of a password-reset link in seconds'),
  AUTH_LOGIN_WINDOW_S: seconds(900, 'Window of the failed-login throttle in seconds'),
  AUTH_LOGIN_MAX_FAILURES_PER_ACCOUNT: count(5, 'Failed logins per account per window before logins are refused'),
  AUTH_LOGIN_MAX_FAILURES_PER_IP: count(50, 'Failed logins per client IP per window (across accounts)'),
  AUTH_EMAIL_WINDOW_S: seconds(3600, 'Window of the verification/reset email throttle in seconds'),
  AUTH_EMAIL_MAX_PER_ACCOUNT: count(5, 'Verification/reset emails per account per window'),
  AUTH_EMAIL_MAX_PER_IP: count(30, 'Verification/reset emails per client IP per window'),
  AUTH_MFA_WINDOW_S: seconds(900, 'Window of the wrong-second-factor throttle in seconds'),
  AUTH_MFA_MAX_FAILURES_PER_ACCOUNT: count(5, 'Wrong second-factor codes per account per window'),
  AUTH_MFA_MAX_FAILURES_PER_IP: count(50, 'Wrong second-factor codes per client IP per window'),
  AUTH_DATA_KEY: dataKeyVariable().meta({
    description: 'Key sealing TOTP seeds: 32 bytes, base64 or hex; unset: a key generated once and kept in the auth schema',
    secret: true,
  }),
  LMS_NAME: z.string().default('LMS').meta({ description: 'Name of the installation (issuer shown in authenticator apps)' }),
  PUBLIC_URL: z
    .string()
    .optional()
    .meta({ description: 'Public base URL (links in messages, the OIDC redirect URI)', defaultText: '`http://localhost:<PORT>`' }),
  OIDC_PROVIDERS: env.list().default([]).meta({
    description:
      'Identity providers, comma-separated; each configured by `OIDC_<NAME>_ISSUER`, `_CLIENT_ID`, `_CLIENT_SECRET`, `_NAME`, `_SCOPES`, `_LINK_BY_EMAIL`, `_CREATE_ACCOUNTS`',
  }),
  OIDC_ALLOW_INSECURE_HTTP: env.bool().default(false).meta({ description: 'Allow identity providers over plain http (development and tests only)' }),
});
export type AuthConfig = z.output<typeof authEnv>;

/** What each provider named in OIDC_PROVIDERS reads, as `OIDC_<NAME>_<KEY>`. */
export const OIDC_PROVIDER_KEYS = ['ISSUER', 'CLIENT_ID', 'CLIENT_SECRET', 'NAME', 'SCOPES', 'LINK_BY_EMAIL', 'CREATE_ACCOUNTS'] as const;
export type OidcProviderKey = (typeof OIDC_PROVIDER_KEYS)[number];

/**
 * The per-provider variables `OIDC_<NAME>_<KEY>` of the providers in OIDC_PROVIDERS, read once when the service
 * starts. Their names depend on another variable's value, so no static declaration can list them, and the runtime
 * hands a service only the values it declared: this is the one place in the service that reads `process.env`
 * (empty values count as unset, as everywhere else). Parsed and checked by `oidcProvidersFrom` (oidc.ts).
 */
export function oidcProviderVariables(
  names: readonly string[],
  source: NodeJS.ProcessEnv = process.env,
): Record<string, Partial<Record<OidcProviderKey, string>>> {
  const out: Record<string, Partial<Record<OidcProviderKey, string>>> = {};
  for (const name of names) {
    const vars: Partial<Record<OidcProviderKey, string>> = {};
    for (const key of OIDC_PROVIDER_KEYS) {
      const v = source[`OIDC_${name.toUpperCase()}_${key}`];
      if (v !== undefined && v !== '') vars[key] = v;
    }
    out[name] = vars;
  }
  return out;
}
