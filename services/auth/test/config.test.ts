import { ConfigError, parseEnv } from '@lms/runtime';
import { describe, expect, it } from 'vitest';
import { authEnv, oidcProviderVariables, type AuthConfig } from '../src/config.js';
import { oidcProvidersFrom } from '../src/oidc.js';
import { throttleRules } from '../src/throttle.js';

const parse = (source: NodeJS.ProcessEnv) => parseEnv([authEnv], source) as AuthConfig;

describe('auth configuration', () => {
  it('keeps the documented defaults', () => {
    const c = parse({});
    expect(c.AUTH_REFRESH_TTL_S).toBe(30 * 24 * 3600);
    expect(c.AUTH_VERIFY_TOKEN_TTL_S).toBe(86_400);
    expect(c.AUTH_RESET_TOKEN_TTL_S).toBe(1800);
    expect(c.LMS_NAME).toBe('LMS');
    expect(c.OIDC_PROVIDERS).toEqual([]);
    expect(c.OIDC_ALLOW_INSECURE_HTTP).toBe(false);
    expect(throttleRules(c).login).toMatchObject({ windowMs: 900_000, accountLimit: 5, ipLimit: 50 });
    expect(throttleRules(c).email).toMatchObject({ windowMs: 3_600_000, accountLimit: 5, ipLimit: 30 });
  });

  it('refuses a bad data key and bad numbers at start, without showing the key', () => {
    let err: unknown;
    try {
      parse({ AUTH_DATA_KEY: 'too-short-secret', AUTH_LOGIN_WINDOW_S: 'soon' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems.map((p) => p.split(':')[0]).sort()).toEqual(['AUTH_DATA_KEY', 'AUTH_LOGIN_WINDOW_S']);
    expect((err as Error).message).not.toContain('too-short-secret');
    expect(parse({ AUTH_DATA_KEY: 'ab'.repeat(32) }).AUTH_DATA_KEY).toBe('ab'.repeat(32));
  });

  it('reads each named provider from its OIDC_<NAME>_* variables; one without issuer or client id is left out', () => {
    const source = {
      OIDC_PROVIDERS: 'School, bad name!,other',
      OIDC_SCHOOL_ISSUER: 'https://idp.example',
      OIDC_SCHOOL_CLIENT_ID: 'lms',
      OIDC_SCHOOL_LINK_BY_EMAIL: 'false',
      OIDC_OTHER_ISSUER: 'https://other.example',
    };
    const c = parse(source);
    const providers = oidcProvidersFrom(c.OIDC_PROVIDERS, (names) => oidcProviderVariables(names, source));
    expect(providers).toEqual([
      {
        name: 'school',
        displayName: 'school',
        issuer: 'https://idp.example',
        clientId: 'lms',
        clientSecret: '',
        scopes: 'openid email profile',
        linkByEmail: false,
        createAccounts: true,
      },
    ]);
  });
});
