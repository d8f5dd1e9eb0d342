import type { RestartPolicy } from "./config.js";

/**
 * The crash-restart arithmetic, pure and shared: the decider's crash-restart policy and the
 * supervisor's degraded-mode reflex both decide with it, so a restart has the same backoff and the
 * same crash-loop breaker whoever takes it.
 */

/** Delay before restart number `attempt` (0-based): the first is immediate, then base·factor^(n-1), capped. */
export function backoffDelay(attempt: number, p: Pick<RestartPolicy, "backoffBaseMs" | "backoffFactor" | "backoffCapMs">): number {
  if (attempt <= 0) return 0;
  return Math.min(p.backoffCapMs, Math.round(p.backoffBaseMs * p.backoffFactor ** (attempt - 1)));
}

/** Restarts (epoch ms) inside the window that ends at `now`. */
export function restartsWithin(restartTimes: readonly number[], now: number, windowMs: number): number {
  return restartTimes.filter((t) => t > now - windowMs).length;
}

/** What to do about an unexpected exit at `now`, given the worker's restart history. */
export type RestartVerdict =
  /** `coolDown`: a slow retry of a worker already escalated (delayMs is restart.coolDownMs). */
  | { action: "restart"; attempt: number; delayMs: number; coolDown?: boolean }
  /**
   * A crash loop: more than maxRestarts inside windowMs. `retryInMs` (restart.coolDownMs > 0): one
   * more try after that long, and every coolDownMs after each failed try, until a run is stable;
   * without it, no more restarts.
   */
  | { action: "escalate"; restarts: number; windowMs: number; retryInMs?: number };

export function restartVerdict(
  history: { attempt: number; restartTimes: readonly number[]; coolingDown?: boolean },
  now: number,
  p: Pick<RestartPolicy, "backoffBaseMs" | "backoffFactor" | "backoffCapMs" | "maxRestarts" | "windowMs"> & Partial<Pick<RestartPolicy, "coolDownMs">>,
): RestartVerdict {
  const coolDownMs = p.coolDownMs ?? 0;
  // Escalated and retrying slowly: each failed try waits coolDownMs again, the breaker is not re-counted.
  if (history.coolingDown && coolDownMs > 0) return { action: "restart", attempt: history.attempt, delayMs: coolDownMs, coolDown: true };
  const recent = restartsWithin(history.restartTimes, now, p.windowMs);
  if (recent >= p.maxRestarts) return { action: "escalate", restarts: recent, windowMs: p.windowMs, ...(coolDownMs > 0 ? { retryInMs: coolDownMs } : {}) };
  return { action: "restart", attempt: history.attempt, delayMs: backoffDelay(history.attempt, p) };
}

/** `requestedBy` of the restarts the supervisor's degraded-mode reflex takes on its own. */
export const REFLEX_REQUESTER = "supervisor-reflex";

/**
 * A worker's restart count as both the decider and the supervisor's reflex keep it: the attempt
 * number (what the backoff grows with) and the restart times (what the crash-loop window counts).
 */
export interface RestartCount {
  attempt: number;
  restartTimes: readonly number[];
}

/** Restart times older than this many entries are never needed (maxRestarts is far below). */
export const RESTART_TIMES_KEPT = 64;

/** One more restart, at `at` (epoch ms): the attempt grows and the window gets one more entry. */
export function countRestart<H extends RestartCount>(h: H, at: number): H {
  return { ...h, attempt: h.attempt + 1, restartTimes: [...h.restartTimes, at].slice(-RESTART_TIMES_KEPT) };
}

/** The run lasted stableMs: the backoff starts over; the crash-loop window still counts. */
export function resetWhenStable<H extends RestartCount>(h: H): H {
  return { ...h, attempt: 0 };
}

/** Someone other than the decider or the reflex (an operator, a fresh start) restarted it: the whole record starts over. */
export function forgetRestarts<H extends RestartCount>(h: H): H {
  return { ...h, attempt: 0, restartTimes: [] };
}

/** Whose restarts keep the count going: the decider's and the reflex's (which restarts in its place); anyone else's start afresh. */
export function keepsRestartCount(requestedBy: string | undefined): boolean {
  return requestedBy === "decider" || requestedBy === REFLEX_REQUESTER;
}
