import type { AlertsConfig } from "@vigil/events";

/**
 * What the alerts service knows about each target: whether it is failing (reported once per outage),
 * and when to try it next. A failing target is probed once per backoff step, not once per pending
 * alert, so a target that hangs costs one timeout per step and the others are not held up.
 */
interface TargetState {
  failingSince?: number;
  failedAttempts: number;
  nextTryAt: number;
}

export type Transition = { kind: "failing"; attempts: number } | { kind: "recovered"; failingMs: number; attempts: number } | undefined;

export class TargetStates {
  private readonly states = new Map<string, TargetState>();
  constructor(private readonly cfg: Pick<AlertsConfig, "retryBaseMs" | "retryCapMs">, private readonly now: () => number = Date.now) {}

  private state(name: string): TargetState {
    let s = this.states.get(name);
    if (!s) this.states.set(name, (s = { failedAttempts: 0, nextTryAt: 0 }));
    return s;
  }

  /** Milliseconds until the target may be tried again (0: now). */
  waitMs(name: string): number {
    return Math.max(0, this.state(name).nextTryAt - this.now());
  }

  /** A delivery failed: the next try backs off; "failing" the first time only. */
  failed(name: string): Transition {
    const s = this.state(name);
    s.failedAttempts++;
    const delay = Math.min(this.cfg.retryCapMs, this.cfg.retryBaseMs * 2 ** Math.min(s.failedAttempts - 1, 30));
    s.nextTryAt = this.now() + delay;
    if (s.failingSince !== undefined) return undefined;
    s.failingSince = this.now();
    return { kind: "failing", attempts: s.failedAttempts };
  }

  /** A delivery succeeded: "recovered" when it had been failing. */
  succeeded(name: string): Transition {
    const s = this.state(name);
    const was = s.failingSince;
    const attempts = s.failedAttempts;
    s.failingSince = undefined;
    s.failedAttempts = 0;
    s.nextTryAt = 0;
    return was === undefined ? undefined : { kind: "recovered", failingMs: this.now() - was, attempts };
  }
}
