import { createHash } from 'node:crypto';
import { DomainError } from '@lms/contracts';
import type { RateLimiter } from '@lms/runtime';


/**
 * Brute-force throttling of password logins: per account and per client IP, in Redis in mesh mode.
 * Unknown emails count exactly like known ones, so the answers reveal nothing about who has an account.
 */
export class LoginThrottle {
  private readonly windowMs = Number(process.env.AUTH_LOGIN_WINDOW_S ?? 900) * 1000;
  /** Failed logins allowed per account per window; then the account refuses logins until the window ends. */
  private readonly accountLimit = Number(process.env.AUTH_LOGIN_MAX_FAILURES_PER_ACCOUNT ?? 5);
  /** Failed logins allowed per client IP per window, across accounts (credential stuffing). */
  private readonly ipLimit = Number(process.env.AUTH_LOGIN_MAX_FAILURES_PER_IP ?? 50);

  constructor(private readonly limiter: Promise<RateLimiter>) {}

  private keys(email: string, ip: string | undefined): Array<[string, number]> {
    const account = createHash('sha256').update(email).digest('base64url');
    const keys: Array<[string, number]> = [[`login:acct:${account}`, this.accountLimit]];
    if (ip) keys.push([`login:ip:${ip}`, this.ipLimit]);
    return keys;
  }

  /** Throws RATE_LIMITED (429) while the account or the IP is locked out. */
  async check(email: string, ip: string | undefined): Promise<void> {
    const limiter = await this.limiter;
    for (const [key, limit] of this.keys(email, ip)) {
      const d = await limiter.peek(key, limit);
      if (!d.allowed) {
        const retryAfterSeconds = Math.max(1, Math.ceil(d.resetMs / 1000));
        throw new DomainError('RATE_LIMITED', 'Too many failed logins; try again later', { retryAfterSeconds });
      }
    }
  }

  async failed(email: string, ip: string | undefined): Promise<void> {
    const limiter = await this.limiter;
    for (const [key, limit] of this.keys(email, ip)) await limiter.hit(key, limit, this.windowMs);
  }

  /** A good password clears the account's count (not the IP's). */
  async succeeded(email: string): Promise<void> {
    await (await this.limiter).reset(this.keys(email, undefined)[0]![0]);
  }

  async close(): Promise<void> {
    await (await this.limiter).close();
  }
}
