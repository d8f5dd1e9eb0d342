import { healthOf, ownEntry, type DeciderState, type EventOf, type OutcomeStats, type RemediationView } from "@vigil/events";

/**
 * The escalation slice: `state.health.remediations` (each worker's open health incident and how
 * often Vigil has tried to fix it: remediateWorker escalates after maxAttempts) and
 * `state.outcomes` (the success rate per "policy/action", credited when an incident resolves and
 * blamed when the next attempt, an escalation or a failed command follows).
 */
export type RemediationsState = Record<string, RemediationView>;
export type OutcomesState = Record<string, OutcomeStats>;
export const initialRemediations: RemediationsState = {};
export const initialOutcomes: OutcomesState = {};

/**
 * Whether a decided remediation counts as an attempt in its worker's incident: the incident's own
 * worker (not the extra pauses of an overheat incident), not a resume, and that worker's open
 * remediation record is this incident. Such an attempt starts the CPU and memory streaks over.
 */
export function isCountedRemediation(s: DeciderState, e: EventOf<"dec.remediation.decided">): boolean {
  const inc = ownEntry(s.incidents, e.incident);
  if (!e.incident || !inc || e.data.action === "resume" || inc.worker !== e.data.worker) return false;
  return ownEntry(healthOf(s).remediations, e.data.worker)?.incident === e.incident;
}
