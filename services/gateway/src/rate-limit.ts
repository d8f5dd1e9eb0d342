/** A token bucket: `burst` commands at once, refilled at `perMinute`. Pure: time is passed in. */
export interface Bucket {
  tokens: number;
  at: number;
}

export interface RateLimit {
  perMinute: number;
  burst: number;
}

export function take(bucket: Bucket | undefined, now: number, limit: RateLimit): { ok: boolean; bucket: Bucket; retryAfterMs: number } {
  const b = bucket ?? { tokens: limit.burst, at: now };
  const refilled = Math.min(limit.burst, b.tokens + ((now - b.at) * limit.perMinute) / 60_000);
  if (refilled >= 1) return { ok: true, bucket: { tokens: refilled - 1, at: now }, retryAfterMs: 0 };
  return { ok: false, bucket: { tokens: refilled, at: now }, retryAfterMs: Math.ceil(((1 - refilled) * 60_000) / limit.perMinute) };
}

/** Buckets per key (token name), so one operator's script cannot starve another. */
export function createRateLimiter(limit: RateLimit, clock: () => number = Date.now) {
  const buckets = new Map<string, Bucket>();
  return {
    take(key: string): { ok: boolean; retryAfterMs: number } {
      const r = take(buckets.get(key), clock(), limit);
      buckets.set(key, r.bucket);
      return { ok: r.ok, retryAfterMs: r.retryAfterMs };
    },
  };
}
export type RateLimiter = ReturnType<typeof createRateLimiter>;
