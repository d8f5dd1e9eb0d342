import type { RestartPolicy } from "@vigil/events";

/** Delay before restart number `attempt` (0-based): the first is immediate, then base·factor^(n-1), capped. */
export function backoffDelay(attempt: number, p: Pick<RestartPolicy, "backoffBaseMs" | "backoffFactor" | "backoffCapMs">): number {
  if (attempt <= 0) return 0;
  return Math.min(p.backoffCapMs, Math.round(p.backoffBaseMs * p.backoffFactor ** (attempt - 1)));
}
