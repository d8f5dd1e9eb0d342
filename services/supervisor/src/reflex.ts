import { countRestart, keepsRestartCount, resetWhenStable, restartsWithin, restartVerdict, REFLEX_REQUESTER, type RestartPolicy, type RestartVerdict } from "@vigil/events";

/**
 * Degraded mode, the pure part (docs/degraded-mode.md): when the supervisor is on its own, and what
 * its local restart reflex does about a crash. The arithmetic is the decider's (restartVerdict from
 * @vigil/events); the history it runs on mirrors the decider's view of the worker.
 */

/** A worker's restarts as the decider counts them: what backoff and breaker are computed from. */
export interface RestartHistory {
  attempt: number;
  restartTimes: number[];
  /**
   * The reflex found a crash loop: with restart.coolDownMs 0 no more local restarts until someone
   * restarts the worker; otherwise one slow retry every coolDownMs until a run is stable.
   */
  flapping: boolean;
}

export const FRESH_HISTORY: RestartHistory = { attempt: 0, restartTimes: [] as number[], flapping: false };

/** A restart happened at `at` (epoch ms of the crash it answers). The decider's and the reflex's own keep counting; anyone else's (an operator) starts afresh. */
export function afterRestart(h: RestartHistory, at: number, requestedBy: string): RestartHistory {
  if (!keepsRestartCount(requestedBy)) return FRESH_HISTORY;
  return { ...countRestart(h, at), flapping: false };
}

/** A run lasted stableMs: the backoff starts over (the crash-loop window still counts). */
export function afterStable(h: RestartHistory): RestartHistory {
  // A stable run also ends a crash loop's cool-down (a flapping worker with coolDownMs 0 never runs).
  return { ...resetWhenStable(h), flapping: false };
}

/**
 * The reflex's verdict on an unexpected exit at `now`, and the history after it, as the decider would
 * decide (restartVerdict): a crash loop escalates, with `retryInMs` when restart.coolDownMs is set
 * (degraded-mode.ts then plans that retry); a worker in cool-down is retried every coolDownMs; with
 * coolDownMs 0 a worker the reflex gave up on stays given up (a crash loop again, never restarted).
 */
export function reflexOnExit(h: RestartHistory, now: number, p: RestartPolicy): { verdict: RestartVerdict; next: RestartHistory } {
  if (h.flapping) {
    if (!p.coolDownMs) return { verdict: { action: "escalate", restarts: restartsWithin(h.restartTimes, now, p.windowMs), windowMs: p.windowMs }, next: h };
    return { verdict: restartVerdict({ ...h, coolingDown: true }, now, p), next: { ...afterRestart(h, now, REFLEX_REQUESTER), flapping: true } };
  }
  const verdict = restartVerdict(h, now, p);
  return { verdict, next: verdict.action === "restart" ? afterRestart(h, now, REFLEX_REQUESTER) : { ...h, flapping: true } };
}

export type Unreachable = "bus" | "decider";

export interface Liveness {
  now: number;
  afterMs: number;
  /** Since when the connection to the bus has been down; undefined while connected. */
  busDownSince?: number;
  /** When the decider last said it was alive (a heartbeat, or its start); the supervisor's boot before that. */
  deciderSeenAt: number;
}

export interface Degraded {
  unreachable: Unreachable[];
  since: number;
  reason: string;
}

/** Degraded: the bus or the decider unreachable for afterMs or more. undefined: the decider is in charge. */
export function degradedState(l: Liveness): Degraded | undefined {
  const unreachable: Unreachable[] = [];
  const since: number[] = [];
  const reasons: string[] = [];
  if (l.busDownSince !== undefined && l.now - l.busDownSince >= l.afterMs) {
    unreachable.push("bus");
    since.push(l.busDownSince);
    reasons.push(`bus unreachable for ${l.now - l.busDownSince} ms`);
  }
  // With the bus down no heartbeat can arrive: the decider's silence says nothing more then.
  if (l.busDownSince === undefined && l.now - l.deciderSeenAt >= l.afterMs) {
    unreachable.push("decider");
    since.push(l.deciderSeenAt);
    reasons.push(`no heartbeat from the decider for ${l.now - l.deciderSeenAt} ms`);
  }
  if (!unreachable.length) return undefined;
  return { unreachable, since: Math.min(...since), reason: `${reasons.join("; ")} (limit ${l.afterMs} ms): crashed workers are restarted locally` };
}
