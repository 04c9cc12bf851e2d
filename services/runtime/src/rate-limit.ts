import type { Redis } from 'ioredis';

export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  resetMs: number;
}

export interface RateLimiter {
  /** Counts `cost` events (1 by default) against `key` and says whether it is within `limit` per window. */
  hit(key: string, limit: number, windowMs: number, cost?: number): Promise<RateDecision>;
  /** The count so far, without adding to it. */
  peek(key: string, limit: number): Promise<RateDecision>;
  reset(key: string): Promise<void>;
  close(): Promise<void>;
}

/** Fixed window in process memory: embedded mode, or a single gateway. */
export class MemoryRateLimiter implements RateLimiter {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();
  private readonly sweeper = setInterval(() => {
    const now = Date.now();
    for (const [k, w] of this.windows) if (w.resetAt <= now) this.windows.delete(k);
  }, 30_000).unref();

  async hit(key: string, limit: number, windowMs: number, cost = 1): Promise<RateDecision> {
    const now = Date.now();
    let w = this.windows.get(key);
    if (!w || w.resetAt <= now) {
      w = { count: 0, resetAt: now + windowMs };
      this.windows.set(key, w);
    }
    w.count += cost;
    return { allowed: w.count <= limit, limit, remaining: Math.max(0, limit - w.count), resetMs: w.resetAt - now };
  }

  async peek(key: string, limit: number): Promise<RateDecision> {
    const now = Date.now();
    const w = this.windows.get(key);
    const count = w && w.resetAt > now ? w.count : 0;
    return { allowed: count < limit, limit, remaining: Math.max(0, limit - count), resetMs: w && w.resetAt > now ? w.resetAt - now : 0 };
  }

  async reset(key: string): Promise<void> {
    this.windows.delete(key);
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }
}

const SCRIPT = `local n = redis.call('INCRBY', KEYS[1], ARGV[2])
if n == tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}`;

/** Fixed window in Redis, shared by every node of the mesh. Fails open if Redis is down. */
export class RedisRateLimiter implements RateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly onError: (err: unknown) => void,
  ) {}

  async hit(key: string, limit: number, windowMs: number, cost = 1): Promise<RateDecision> {
    try {
      const [n, ttl] = (await this.redis.eval(SCRIPT, 1, `${this.prefix}:rl:${key}`, windowMs, cost)) as [number, number];
      return { allowed: n <= limit, limit, remaining: Math.max(0, limit - n), resetMs: Math.max(0, ttl) };
    } catch (err) {
      this.onError(err);
      return { allowed: true, limit, remaining: limit, resetMs: windowMs };
    }
  }

  async peek(key: string, limit: number): Promise<RateDecision> {
    try {
      const k = `${this.prefix}:rl:${key}`;
      const [[, n], [, ttl]] = (await this.redis.multi().get(k).pttl(k).exec()) as [[null, string | null], [null, number]];
      const count = Number(n ?? 0);
      return { allowed: count < limit, limit, remaining: Math.max(0, limit - count), resetMs: Math.max(0, ttl) };
    } catch (err) {
      this.onError(err);
      return { allowed: true, limit, remaining: limit, resetMs: 0 };
    }
  }

  async reset(key: string): Promise<void> {
    await this.redis.del(`${this.prefix}:rl:${key}`).catch(this.onError);
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}

/** Redis when the node has REDIS_URL in mesh mode, process memory otherwise. */
export async function createRateLimiter(
  cfg: { mode: 'embedded' | 'mesh'; redisUrl?: string; namespace: string },
  onError: (err: unknown) => void,
): Promise<RateLimiter> {
  if (cfg.mode !== 'mesh' || !cfg.redisUrl) return new MemoryRateLimiter();
  const { Redis } = await import('ioredis');
  return new RedisRateLimiter(new Redis(cfg.redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false }), cfg.namespace, onError);
}
