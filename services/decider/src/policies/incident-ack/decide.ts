import { is, isOpenIncident, ownEntry, type VigilEvent } from "@vigil/events";
import { draft, type Draft, type Policy } from "../../core/policy.js";

export const INCIDENT_ACK = "incident-ack";

/**
 * An operator's `vigil ack <incident>` (cmd.incident.ack through the gateway) closes an open or
 * escalated incident as acknowledged. It changes nothing else: a worker in cool-down keeps being
 * retried, and a later stable run still resolves the incident. An unknown or closed incident: nothing.
 */
export const incidentAck: Policy = {
  name: INCIDENT_ACK,
  decide(state, e: VigilEvent): Draft[] {
    if (!is(e, "cmd.incident.ack")) return [];
    const inc = ownEntry(state.incidents, e.data.incident);
    if (!inc || !isOpenIncident(inc)) return [];
    const reason = `acknowledged by ${e.data.requestedBy}${e.data.reason ? `: ${e.data.reason}` : ""} (was ${inc.status}: ${inc.reason})`;
    return [draft("dec.incident.acknowledged", { worker: inc.worker, by: e.data.requestedBy, reason }, inc.id)];
  },
};
