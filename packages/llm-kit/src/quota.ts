/** A quota refusal: which limit, and when the caller may try again. */
export interface QuotaRefusal {
  code: 'LLM_RATE_LIMITED' | 'LLM_DAILY_TOKENS_EXHAUSTED';
  retryAfterS: number;
}

export interface QuotaLimits {
  requestsPerMinute: number;
  tokensPerDay: number;
}

/**
 * Whether one more request fits: `recentRequests` is the caller's count in the current minute window (started at
 * `windowStartMs`), `tokensToday` what they used since midnight UTC. Pure, so the service may count in Postgres
 * (survives restarts, shared by every gateway node) and the rule is tested without one.
 */
export function checkQuota(
  limits: QuotaLimits,
  used: { recentRequests: number; windowStartMs: number; tokensToday: number },
  nowMs: number,
): QuotaRefusal | undefined {
  if (used.tokensToday >= limits.tokensPerDay) {
    const midnight = Date.UTC(new Date(nowMs).getUTCFullYear(), new Date(nowMs).getUTCMonth(), new Date(nowMs).getUTCDate() + 1);
    return { code: 'LLM_DAILY_TOKENS_EXHAUSTED', retryAfterS: Math.max(1, Math.ceil((midnight - nowMs) / 1000)) };
  }
  if (used.recentRequests >= limits.requestsPerMinute) {
    return { code: 'LLM_RATE_LIMITED', retryAfterS: Math.max(1, Math.ceil((used.windowStartMs + 60_000 - nowMs) / 1000)) };
  }
  return undefined;
}
