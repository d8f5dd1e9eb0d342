import { ownEntry, withEntry, type DeciderState, type OutcomeStats } from "@vigil/events";
import { withHealth } from "../../core/health.js";
import type { SliceEvolve } from "../../core/policy.js";
import { CRASH_RESTART } from "../crash-restart/state.js";
import { OVERHEAT } from "../overheat/state.js";
import { DISK_PRESSURE } from "../disk-pressure/state.js";
import { outcomeKey } from "./remediate.js";

function count(s: DeciderState, key: string | undefined, field: keyof OutcomeStats): DeciderState {
  if (!key) return s;
  const o = ownEntry(s.outcomes, key) ?? { attempts: 0, succeeded: 0, failed: 0 };
  return { ...s, outcomes: withEntry(s.outcomes, key, { ...o, [field]: o[field] + 1 }) };
}

/** Forgets the incident's latest action (once credited or blamed) and its worker's remediation record. */
function settle(s: DeciderState, incident: string | undefined, field: "succeeded" | "failed", dropRemediation: boolean): DeciderState {
  const inc = ownEntry(s.incidents, incident);
  if (!inc || !incident) return s;
  let next = count(s, inc.lastAction, field);
  if (inc.lastAction) next = { ...next, incidents: withEntry(next.incidents, incident, { ...inc, ...ownEntry(next.incidents, incident), lastAction: undefined }) };
  if (!dropRemediation || !next.health) return next;
  const remediations = Object.fromEntries(Object.entries(next.health.remediations).filter(([, r]) => r.incident !== incident));
  return { ...next, health: { ...next.health, remediations } };
}

/** Policies whose incidents keep their own record instead of a remediation entry (the worker's crash incident, the device's overheat). */
const OWN_RECORD: readonly string[] = [CRASH_RESTART, OVERHEAT, DISK_PRESSURE];

/** Runs after the incidents slice (it reads the incident as opened or closed by this event). */
export const evolveEscalation: SliceEvolve = {
  "dec.incident.opened": (e, s) => {
    const id = e.incident;
    const policy = e.data.policy;
    if (!id || !policy || OWN_RECORD.includes(policy)) return s;
    return withHealth(s, (h) => ({ ...h, remediations: withEntry(h.remediations, e.data.worker, { incident: id, policy, attempts: 0 }) }));
  },
  "dec.remediation.decided": (e, s) => {
    const id = e.incident;
    const d = e.data;
    const inc = ownEntry(s.incidents, id);
    // Outcome tracking counts the remediations of the incident's own worker (not resumes, not the
    // extra pauses of an overheat incident). A new one in the same incident means the last did not work.
    if (!id || !inc || d.action === "resume" || inc.worker !== d.worker) return s;
    const key = outcomeKey(d.policy, d.action);
    let next = count(count(s, inc.lastAction, "failed"), key, "attempts");
    next = { ...next, incidents: withEntry(next.incidents, id, { ...inc, lastAction: key }) };
    const r = ownEntry(next.health?.remediations, d.worker);
    if (!r || r.incident !== id) return next;
    return withHealth(next, (h) => ({ ...h, remediations: withEntry(h.remediations, d.worker, { ...r, attempts: r.attempts + 1, lastAction: key }) }));
  },
  "dec.incident.resolved": (e, s) => settle(s, e.incident, "succeeded", true),
  "dec.incident.escalated": (e, s) => {
    // Escalation is sticky for the process it gave up on: the record stays, marked, with its pid.
    const r = ownEntry(s.health?.remediations, e.data.worker);
    const next = settle(s, e.incident, "failed", false);
    if (!r || r.incident !== e.incident) return next;
    const pid = ownEntry(next.workers, e.data.worker)?.pid;
    return withHealth(next, (h) => ({ ...h, remediations: withEntry(h.remediations, e.data.worker, { ...r, escalated: true, ...(pid ? { pid } : {}) }) }));
  },
  "out.command.failed": (e, s) => settle(s, e.incident, "failed", false),
  "out.command.rejected": (e, s) => settle(s, e.incident, "failed", false),
};
