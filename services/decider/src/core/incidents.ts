import { CLOSED_INCIDENTS_KEPT, ownEntry, withEntry, type DeciderState, type IncidentView } from "@vigil/events";
import type { SliceEvolve } from "./policy.js";

/**
 * The incidents slice (`state.incidents`), shared by every policy: an incident opens with the
 * decider's dec.incident.opened and ends (closedAt) when resolved or acknowledged by an operator.
 * An escalated incident stays open — it is the one that needs a human — until then. Open incidents
 * are kept, and the CLOSED_INCIDENTS_KEPT most recent closed ones.
 */
export type IncidentsState = DeciderState["incidents"];
export const initialIncidents: IncidentsState = {};

function setIncident(s: DeciderState, id: string | undefined, change: (inc: IncidentView) => IncidentView): DeciderState {
  const inc = ownEntry(s.incidents, id);
  if (!inc || !id) return s;
  const incidents = withEntry(s.incidents, id, change(inc));
  const closed = Object.values(incidents).filter((i) => i.closedAt !== undefined);
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
  "dec.incident.resolved": (e, s) => setIncident(s, e.incident, (inc) => ({ ...inc, status: "resolved", closedAt: e.time })),
  // Still open: escalated means an operator is needed (or, with restart.coolDownMs, a slow retry may still heal it).
  "dec.incident.escalated": (e, s) => setIncident(s, e.incident, (inc) => ({ ...inc, status: "escalated" })),
  "dec.incident.acknowledged": (e, s) => setIncident(s, e.incident, (inc) => ({ ...inc, closedAt: e.time, acknowledgedBy: e.data.by })),
};
