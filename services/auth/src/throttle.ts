import { createHash } from 'node:crypto';
import { DomainError } from '@lms/contracts';
import type { RateLimiter } from '@lms/runtime';
import type { AuthConfig } from './config.js';

export interface ThrottleRule {
  /** Key prefix, e.g. `login`. */
  name: string;
  windowMs: number;
  /** Counted events allowed per account per window; then the account is refused until the window ends. */
  accountLimit: number;
  /** Counted events allowed per client IP per window, across accounts (credential stuffing). */
  ipLimit: number;
  message: string;
}

/** The throttles of the auth service: what counts, how many, for how long (from its configuration, read at start). */
export const throttleRules = (c: AuthConfig) =>
  ({
    /** Failed password logins. */
    login: {
      name: 'login',
      windowMs: c.AUTH_LOGIN_WINDOW_S * 1000,
      accountLimit: c.AUTH_LOGIN_MAX_FAILURES_PER_ACCOUNT,
      ipLimit: c.AUTH_LOGIN_MAX_FAILURES_PER_IP,
      message: 'Too many failed logins; try again later',
    },
    /** Every reset or verification message asked for, found account or not. */
    email: {
      name: 'email',
      windowMs: c.AUTH_EMAIL_WINDOW_S * 1000,
      accountLimit: c.AUTH_EMAIL_MAX_PER_ACCOUNT,
      ipLimit: c.AUTH_EMAIL_MAX_PER_IP,
      message: 'Too many messages asked for; try again later',
    },
    /** Wrong second-factor codes. */
    mfa: {
      name: 'mfa',
      windowMs: c.AUTH_MFA_WINDOW_S * 1000,
      accountLimit: c.AUTH_MFA_MAX_FAILURES_PER_ACCOUNT,
      ipLimit: c.AUTH_MFA_MAX_FAILURES_PER_IP,
      message: 'Too many wrong codes; try again later',
    },
  }) satisfies Record<string, ThrottleRule>;

/**
 * Brute-force throttling per account and per client IP (Redis in mesh mode, memory embedded).
 * Accounts are keyed by a hash of what identifies them (an email, a user id), and unknown emails
 * count exactly like known ones, so answers reveal nothing about who has an account.
 */
export class Throttle {
  constructor(
    private readonly limiter: Promise<RateLimiter>,
    private readonly rule: ThrottleRule,
  ) {}

  private accountKey(account: string): string {
    return `${this.rule.name}:acct:${createHash('sha256').update(account).digest('base64url')}`;
  }

  private keys(account: string, ip: string | undefined): Array<[string, number]> {
    const keys: Array<[string, number]> = [[this.accountKey(account), this.rule.accountLimit]];
    if (ip) keys.push([`${this.rule.name}:ip:${ip}`, this.rule.ipLimit]);
    return keys;
  }

  /** Throws RATE_LIMITED (429, with retryAfterSeconds) while the account or the IP is locked out. */
  async check(account: string, ip: string | undefined): Promise<void> {
    const limiter = await this.limiter;
    for (const [key, limit] of this.keys(account, ip)) {
      const d = await limiter.peek(key, limit);
      if (!d.allowed) {
        const retryAfterSeconds = Math.max(1, Math.ceil(d.resetMs / 1000));
        throw new DomainError('RATE_LIMITED', this.rule.message, { retryAfterSeconds });
      }
    }
  }

  /** Counts one event against the account and the IP. */
  async failed(account: string, ip: string | undefined): Promise<void> {
    const limiter = await this.limiter;
    for (const [key, limit] of this.keys(account, ip)) await limiter.hit(key, limit, this.rule.windowMs);
  }

  /** Check, then count: for throttles where every attempt counts, not only failures. */
  async take(account: string, ip: string | undefined): Promise<void> {
    await this.check(account, ip);
    await this.failed(account, ip);
  }

  /** A success clears the account's count (not the IP's). */
  async succeeded(account: string): Promise<void> {
    await (await this.limiter).reset(this.accountKey(account));
  }
}
