/**
 * Pure rules of store-and-forward: what an HTTP answer means, how long to wait, what to forward,
 * and what a jump in stream sequences says about lost events. No I/O, no clock.
 */

/** What to do after an upload attempt. */
export type Verdict =
  | { kind: "delivered" }
  /** The cloud is up but asks us to slow down: wait, then resend; not a breaker failure. */
  | { kind: "throttled"; waitMs: number }
  /** The cloud refused this batch's content: bisect to find the bad event(s). */
  | { kind: "blamed"; reason: string }
  /** The cloud (or the way to it) failed: retry with backoff; counts against the breaker. */
  | { kind: "failed"; reason: string };

/** Statuses that blame the batch itself (its content), not the cloud or our credentials. */
const BLAMING = new Set([400, 409, 413, 415, 422]);

export function judgeResponse(status: number, retryAfter: string | undefined, body: string, nowMs: number, fallbackWaitMs: number): Verdict {
  if (status >= 200 && status < 300) return { kind: "delivered" };
  const detail = summarize(body);
  if (status === 429) return { kind: "throttled", waitMs: retryAfterMs(retryAfter, nowMs) ?? fallbackWaitMs };
  if (BLAMING.has(status)) return { kind: "blamed", reason: `${status}${detail ? `: ${detail}` : ""}` };
  if (status === 401 || status === 403) {
    return { kind: "failed", reason: `the cloud refused our credentials (${status}${detail ? `: ${detail}` : ""}); check telemetry.secret (and the client certificate)` };
  }
  // 5xx, 408, other 4xx (404: wrong URL) — nothing the batch can fix; a 503 may also say when to come back.
  const wait = status === 503 ? retryAfterMs(retryAfter, nowMs) : undefined;
  return { kind: "failed", reason: `HTTP ${status}${detail ? `: ${detail}` : ""}${wait !== undefined ? ` (retry after ${wait} ms)` : ""}` };
}

function summarize(body: string): string {
  const t = body.trim();
  if (!t) return "";
  try {
    const j = JSON.parse(t) as { error?: unknown };
    if (typeof j.error === "string") return j.error.slice(0, 500);
  } catch {
    /* not JSON: show the start */
  }
  return t.slice(0, 200);
}

/** `Retry-After` as delay-seconds or an HTTP date; undefined when absent or unreadable. Capped at 10 min. */
export function retryAfterMs(header: string | undefined, nowMs: number): number | undefined {
  if (!header) return undefined;
  const h = header.trim();
  if (/^\d+$/.test(h)) return Math.min(600_000, Number(h) * 1000);
  const at = Date.parse(h);
  if (Number.isNaN(at)) return undefined;
  return Math.min(600_000, Math.max(0, at - nowMs));
}

/** Exponential backoff with full jitter: attempt 0 → up to base, then doubling, capped. */
export function backoffMs(attempt: number, baseMs: number, capMs: number, random: number): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (ceiling / 2) * random);
}

/**
 * Downsampling: `rules` maps a subject suffix (after `vigil.<device>.`) to "forward one in N".
 * Returns whether to forward and the updated counter for that suffix.
 */
export function shouldForward(suffix: string, rules: Record<string, number>, seen: number): boolean {
  const n = rules[suffix];
  if (n === undefined || n === 1) return true;
  if (n === 0) return false;
  return seen % n === 0;
}

/** `vigil.edge-001.obs.health.sample` → `obs.health.sample`. */
export function subjectSuffix(subject: string): string {
  const i = subject.indexOf(".", subject.indexOf(".") + 1);
  return i < 0 ? subject : subject.slice(i + 1);
}

export interface Gap {
  count: number;
  fromSeq: number;
  toSeq: number;
}

/**
 * The consumer delivered `nextSeq` after `lastSeq`. Sequences in between that are below the stream's
 * current first sequence no longer exist: the stream discarded them (limits) before we forwarded them.
 * Sequences in between that still exist are other subjects (not ours): no loss.
 */
export function lostBetween(lastSeq: number, nextSeq: number, streamFirstSeq: number): Gap | undefined {
  const from = lastSeq + 1;
  const to = Math.min(nextSeq, streamFirstSeq) - 1;
  if (to < from) return undefined;
  return { count: to - from + 1, fromSeq: from, toSeq: to };
}

/** Splits a refused batch in two for bisection (the first half is never empty). */
export function bisect<T>(items: T[]): [T[], T[]] {
  const mid = Math.ceil(items.length / 2);
  return [items.slice(0, mid), items.slice(mid)];
}

/** Cuts a list of payload sizes into consecutive runs whose sum stays within maxBytes (each run ≥ 1 item). */
export function chunkBySize(sizes: number[], maxBytes: number): Array<[start: number, end: number]> {
  const out: Array<[number, number]> = [];
  let start = 0;
  let sum = 0;
  sizes.forEach((s, i) => {
    if (i > start && sum + s + 1 > maxBytes) {
      out.push([start, i]);
      start = i;
      sum = 0;
    }
    sum += s + 1;
  });
  if (start < sizes.length) out.push([start, sizes.length]);
  return out;
}
