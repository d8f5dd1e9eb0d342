import { DEFAULT_POLICIES_CONFIG, eventName, REFLEX_REQUESTER, type VigilEvent } from "@vigil/events";
import { evolveHealth, type EvolveContext } from "./health-evolve.js";
import { evolveContainers } from "./container-evolve.js";
import { CLOSED_INCIDENTS_KEPT, ownEntry, withEntry, workerOf, type DeciderState, type IncidentView, type WorkerView } from "@vigil/events";

/** Restart times older than this many entries are never needed (maxRestarts is far below). */
const RESTART_TIMES_KEPT = 64;

function withWorker(s: DeciderState, name: string, f: (w: WorkerView) => WorkerView): DeciderState {
  return { ...s, workers: withEntry(s.workers, name, f(workerOf(s, name))) };
}

function closeIncident(s: DeciderState, id: string | undefined, status: IncidentView["status"], time: string): DeciderState {
  const inc = ownEntry(s.incidents, id);
  if (!inc || !id) return s;
  const incidents = withEntry(s.incidents, id, { ...inc, status, closedAt: time });
  const closed = Object.values(incidents).filter((i) => i.status !== "open");
  for (const old of closed.slice(0, Math.max(0, closed.length - CLOSED_INCIDENTS_KEPT))) delete incidents[old.id];
  return { ...s, incidents };
}

const DEFAULT_EVOLVE_CONTEXT: EvolveContext = { policies: DEFAULT_POLICIES_CONFIG };

/** Folds one event (an observation, an outcome, or one of the decider's own decisions) into the state. */
export function evolve(s: DeciderState, e: VigilEvent, ctx: EvolveContext = DEFAULT_EVOLVE_CONTEXT): DeciderState {
  return evolveContainers(evolveHealth(evolveWorkers(s, e), e, ctx), e);
}

/** Workers and incidents (what crash-restart needs). */
function evolveWorkers(s: DeciderState, e: VigilEvent): DeciderState {
  const name = eventName(e);
  const d = e.data as Record<string, any>;
  const t = Date.parse(e.time);
  switch (name) {
    case "obs.worker.started":
      // A fresh start by the supervisor: history of the previous run no longer applies.
      return withWorker(s, d.worker, (w) => ({ ...w, status: "running", pid: d.pid, startedAt: t, attempt: 0, restartTimes: [] }));
    case "out.worker.restarted":
    case "out.worker.started":
      return withWorker(s, d.worker, (w) => {
        const next: WorkerView = { ...w, status: "running", pid: d.pid, startedAt: t };
        // An operator's restart clears the crash-loop record; the decider's own (and the supervisor's
        // degraded-mode reflex, which restarts in its place) keep counting.
        return d.requestedBy === "decider" || d.requestedBy === REFLEX_REQUESTER ? next : { ...next, attempt: 0, restartTimes: [] };
      });
    case "obs.worker.exited":
      return withWorker(s, d.worker, (w) => ({
        ...w,
        status: w.status === "flapping" ? "flapping" : d.expected ? "stopped" : "exited",
        pid: undefined,
      }));
    case "obs.worker.stable":
      return withWorker(s, d.worker, (w) => (w.pid === d.pid ? { ...w, attempt: 0 } : w));
    case "out.worker.stopped":
    case "out.worker.killed":
      return withWorker(s, d.worker, (w) => ({ ...w, status: "stopped", pid: undefined }));
    case "out.worker.paused":
      return withWorker(s, d.worker, (w) => ({ ...w, status: "paused" }));
    case "out.worker.resumed":
      return withWorker(s, d.worker, (w) => ({ ...w, status: "running" }));
    case "dec.remediation.decided":
      if (d.action !== "restart") return s;
      return withWorker(s, d.worker, (w) => ({
        ...w,
        status: "restarting",
        attempt: w.attempt + 1,
        restarts: w.restarts + 1,
        restartTimes: [...w.restartTimes, t].slice(-RESTART_TIMES_KEPT),
      }));
    case "dec.incident.opened": {
      const id = e.incident!;
      // A health policy's incident ends when its condition clears, so it is not the worker's crash
      // incident (which a stable run resolves).
      const health = d.policy !== undefined && d.policy !== "crash-restart";
      const s2 = health ? s : withWorker(s, d.worker, (w) => ({ ...w, incident: id }));
      const known = ownEntry(s2.incidents, id);
      const policy = d.policy ?? known?.policy;
      const opened: IncidentView = { id, worker: d.worker, status: "open", reason: d.reason, openedAt: e.time, ...(policy ? { policy } : {}), ...(known?.lastAction ? { lastAction: known.lastAction } : {}) };
      return { ...s2, incidents: withEntry(s2.incidents, id, opened) };
    }
    case "dec.incident.resolved":
      // Only the worker's own (crash) incident is cleared: a health incident closing leaves it alone.
      return withWorker(closeIncident(s, e.incident, "resolved", e.time), d.worker, (w) => (w.incident === e.incident ? { ...w, incident: undefined } : w));
    case "dec.incident.escalated": {
      // A crash loop marks the worker flapping (no more restarts); a health escalation stops it with a
      // command instead, and an essential worker it leaves running must still be restarted if it crashes.
      const policy = ownEntry(s.incidents, e.incident)?.policy;
      if (policy && policy !== "crash-restart") return closeIncident(s, e.incident, "escalated", e.time);
      return withWorker(closeIncident(s, e.incident, "escalated", e.time), d.worker, (w) => ({ ...w, incident: undefined, status: "flapping" }));
    }
    default:
      return s;
  }
}
