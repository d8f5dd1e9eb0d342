/**
 * What one token may make the gateway read from the stream: a few reads at a time, a few replays at a
 * time, and so many events per minute. Slots are taken synchronously (before any await), so twenty
 * requests arriving together cannot all pass the check before the first one counts. Pure: time is passed in.
 */
export interface ReadLimits {
  /** Stream reads (HTTP history, incident timelines, a replay's read) running at once per token. */
  readsPerToken: number;
  /** Replays being played back at once per token. */
  replaysPerToken: number;
  /** Events one token's reads may take from the stream per minute (a bucket that refills continuously). */
  readEventsPerMinute: number;
}

export type Refusal = { ok: false; code: "limit" | "rate_limited"; message: string; retryAfterMs: number };
export type Slot = { ok: true; release(): void };

/** How long a client refused for "too many at once" is told to wait: until a running read is likely done. */
const BUSY_RETRY_MS = 1_000;

export function createReadBudget(limits: ReadLimits, clock: () => number = Date.now) {
  const reads = new Map<string, number>();
  const replays = new Map<string, number>();
  const buckets = new Map<string, { tokens: number; at: number }>();

  const bucketOf = (key: string) => {
    const now = clock();
    const b = buckets.get(key) ?? { tokens: limits.readEventsPerMinute, at: now };
    b.tokens = Math.min(limits.readEventsPerMinute, b.tokens + ((now - b.at) * limits.readEventsPerMinute) / 60_000);
    b.at = now;
    buckets.set(key, b);
    return b;
  };

  /** Takes one of `max` slots in `counts` for `key`, or says no; the slot is given back once. */
  const take = (counts: Map<string, number>, key: string, max: number): Slot | undefined => {
    const n = counts.get(key) ?? 0;
    if (n >= max) return undefined;
    counts.set(key, n + 1);
    let released = false;
    return {
      ok: true,
      release() {
        if (released) return;
        released = true;
        const left = (counts.get(key) ?? 1) - 1;
        if (left <= 0) counts.delete(key);
        else counts.set(key, left);
      },
    };
  };

  return {
    /** A read slot: refused when `readsPerToken` reads run or the events budget is spent. */
    reserveRead(key: string): Slot | Refusal {
      const b = bucketOf(key);
      if (b.tokens < 1) {
        const retryAfterMs = Math.ceil(((1 - b.tokens) * 60_000) / limits.readEventsPerMinute);
        return { ok: false, code: "rate_limited", message: `${key} has read its ${limits.readEventsPerMinute} events for this minute (gateway.readEventsPerMinute): try again in ${retryAfterMs} ms`, retryAfterMs };
      }
      return take(reads, key, limits.readsPerToken) ?? { ok: false, code: "rate_limited", message: `${key} has ${limits.readsPerToken} reads running (gateway.readsPerToken): try again when one ends`, retryAfterMs: BUSY_RETRY_MS };
    },
    /** A replay slot, held while the replay plays. */
    reserveReplay(key: string): Slot | Refusal {
      return take(replays, key, limits.replaysPerToken) ?? { ok: false, code: "limit", message: `${key} has ${limits.replaysPerToken} replays running (gateway.replaysPerToken): cancel one or wait until it ends`, retryAfterMs: BUSY_RETRY_MS };
    },
    /** Counts events a read took from the stream (the bucket may go below zero: the next read waits longer). */
    spend(key: string, events: number): void {
      bucketOf(key).tokens -= events;
    },
    running(key: string): { reads: number; replays: number } {
      return { reads: reads.get(key) ?? 0, replays: replays.get(key) ?? 0 };
    },
  };
}
export type ReadBudget = ReturnType<typeof createReadBudget>;
