/**
 * The one retry policy of the runtime: exponential backoff, capped. Event redeliveries, notification deliveries,
 * saga steps, file jobs and privacy jobs all wait `retryDelay(attempt, policy)` before their next try, and give up
 * (dead-letter, fail) after `maxAttempts`.
 */
export interface RetryPolicy {
  /** Wait before the second attempt. */
  baseMs: number;
  /** No wait is longer than this. */
  maxMs: number;
  /** Tries in all, the first included; the last failure is final. */
  maxAttempts: number;
}

/**
 * The wait after `failures` failed attempts (1 after the first failure): baseMs, 2×baseMs, 4×baseMs… up to maxMs.
 * No jitter: every runner reschedules through the database or the broker, which already spreads retries.
 */
export function retryDelay(failures: number, policy: Pick<RetryPolicy, 'baseMs' | 'maxMs'>): number {
  const n = Math.max(1, Math.floor(failures));
  return Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(n - 1, 40));
}

/** Whether another attempt is allowed after `failures` failed ones. */
export function mayRetry(failures: number, policy: Pick<RetryPolicy, 'maxAttempts'>): boolean {
  return failures < policy.maxAttempts;
}

/** Policies named by what they retry; services override them through their configuration. */
export const retryPolicies = {
  /** Event consumers: redeliveries of a failed event, then the dead-letter queue. */
  events: { baseMs: 200, maxMs: 30_000, maxAttempts: 5 },
  /** Saga steps: a step that keeps failing fails the saga (with compensations). */
  sagas: { baseMs: 400, maxMs: 30_000, maxAttempts: 5 },
  /** Outgoing deliveries (mail, push, SMS): providers can be down for minutes. */
  deliveries: { baseMs: 1_000, maxMs: 600_000, maxAttempts: 6 },
  /** Background jobs (file processing, privacy export/erasure). */
  jobs: { baseMs: 1_000, maxMs: 300_000, maxAttempts: 5 },
} as const satisfies Record<string, RetryPolicy>;
