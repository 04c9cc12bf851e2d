import type { Redis } from 'ioredis';

export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  resetMs: number;
}

export interface RateLimiter {
  hit(key: string, limit: number, windowMs: number): Promise<RateDecision>;
  close(): Promise<void>;
}

/** Fixed window in process memory: embedded mode, or a single gateway. */
export class MemoryRateLimiter implements RateLimiter {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();
  private readonly sweeper = setInterval(() => {
    const now = Date.now();
    for (const [k, w] of this.windows) if (w.resetAt <= now) this.windows.delete(k);
  }, 30_000).unref();

  async hit(key: string, limit: number, windowMs: number): Promise<RateDecision> {
    const now = Date.now();
    let w = this.windows.get(key);
    if (!w || w.resetAt <= now) {
      w = { count: 0, resetAt: now + windowMs };
      this.windows.set(key, w);
    }
    w.count++;
    return { allowed: w.count <= limit, limit, remaining: Math.max(0, limit - w.count), resetMs: w.resetAt - now };
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }
}

const SCRIPT = `local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}`;

/** Fixed window in Redis, shared by every gateway of the mesh. Fails open if Redis is down. */
export class RedisRateLimiter implements RateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly onError: (err: unknown) => void,
  ) {}

  async hit(key: string, limit: number, windowMs: number): Promise<RateDecision> {
    try {
      const [n, ttl] = (await this.redis.eval(SCRIPT, 1, `${this.prefix}:rl:${key}`, windowMs)) as [number, number];
      return { allowed: n <= limit, limit, remaining: Math.max(0, limit - n), resetMs: Math.max(0, ttl) };
    } catch (err) {
      this.onError(err);
      return { allowed: true, limit, remaining: limit, resetMs: windowMs };
    }
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
