import { CLOSED_INCIDENTS_KEPT, ownEntry, withEntry, type DeciderState, type IncidentView } from "@vigil/events";
import type { SliceEvolve } from "./policy.js";

/**
 * The incidents slice (`state.incidents`), shared by every policy: an incident opens with the
 * decider's dec.incident.opened and closes with resolved or escalated. Open incidents are kept, and
 * the CLOSED_INCIDENTS_KEPT most recent closed ones.
 */
export type IncidentsState = DeciderState["incidents"];
export const initialIncidents: IncidentsState = {};

function closeIncident(s: DeciderState, id: string | undefined, status: IncidentView["status"], time: string): DeciderState {
  const inc = ownEntry(s.incidents, id);
  if (!inc || !id) return s;
  const incidents = withEntry(s.incidents, id, { ...inc, status, closedAt: time });
  const closed = Object.values(incidents).filter((i) => i.status !== "open");
  for (const old of closed.slice(0, Math.max(0, closed.length - CLOSED_INCIDENTS_KEPT))) delete incidents[old.id];
  return { ...s, incidents };
}

export const evolveIncidents: SliceEvolve = {
  "dec.incident.opened": (e, s) => {
    const id = e.incident!;
    const known = ownEntry(s.incidents, id);
    const policy = e.data.policy ?? known?.policy;
    const opened: IncidentView = { id, worker: e.data.worker, status: "open", reason: e.data.reason, openedAt: e.time, ...(policy ? { policy } : {}), ...(known?.lastAction ? { lastAction: known.lastAction } : {}) };
    return { ...s, incidents: withEntry(s.incidents, id, opened) };
  },
  "dec.incident.resolved": (e, s) => closeIncident(s, e.incident, "resolved", e.time),
  "dec.incident.escalated": (e, s) => closeIncident(s, e.incident, "escalated", e.time),
};
