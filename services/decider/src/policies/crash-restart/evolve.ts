import { countRestart, forgetRestarts, keepsRestartCount, ownEntry, resetWhenStable, type DeciderState, type EventOf, type WorkerView } from "@vigil/events";
import type { SliceEvolve } from "../../core/policy.js";
import { CRASH_RESTART, withWorker } from "./state.js";

function restartedOrStarted(e: EventOf<"out.worker.restarted" | "out.worker.started">, s: DeciderState): DeciderState {
  return withWorker(s, e.data.worker, (w) => {
    const next: WorkerView = { ...w, status: "running", pid: e.data.pid, startedAt: Date.parse(e.time) };
    // An operator's restart clears the crash-loop record; the decider's own (and the supervisor's
    // degraded-mode reflex, which restarts in its place) keep counting (restart-backoff.ts, shared with the reflex).
    return keepsRestartCount(e.data.requestedBy) ? next : { ...forgetRestarts(next), coolingDown: undefined };
  });
}

const stopped = (e: EventOf<"out.worker.stopped" | "out.worker.killed">, s: DeciderState) => withWorker(s, e.data.worker, (w) => ({ ...w, status: "stopped", pid: undefined }));

/** Runs first in the fold, before the incidents slice (an escalation reads the incident's policy before it is closed). */
export const evolveWorkers: SliceEvolve = {
  // A fresh start by the supervisor: history of the previous run no longer applies.
  "obs.worker.started": (e, s) => withWorker(s, e.data.worker, (w) => ({ ...forgetRestarts(w), coolingDown: undefined, status: "running", pid: e.data.pid, startedAt: Date.parse(e.time) })),
  "out.worker.restarted": restartedOrStarted,
  "out.worker.started": restartedOrStarted,
  "obs.worker.exited": (e, s) =>
    withWorker(s, e.data.worker, (w) => ({ ...w, status: w.status === "flapping" ? "flapping" : e.data.expected ? "stopped" : "exited", pid: undefined })),
  // A stable run also ends the cool-down retries of an escalated worker.
  "obs.worker.stable": (e, s) => withWorker(s, e.data.worker, (w) => (w.pid === e.data.pid ? { ...resetWhenStable(w), coolingDown: undefined } : w)),
  "out.worker.stopped": stopped,
  "out.worker.killed": stopped,
  "out.worker.paused": (e, s) => withWorker(s, e.data.worker, (w) => ({ ...w, status: "paused" })),
  "out.worker.resumed": (e, s) => withWorker(s, e.data.worker, (w) => ({ ...w, status: "running" })),
  // A restart of a flapping worker is a cool-down retry (restart.coolDownMs): it keeps the escalated
  // incident, which stays the worker's until a run is stable or an operator acknowledges it.
  "dec.remediation.decided": (e, s) =>
    e.data.action !== "restart"
      ? s
      : withWorker(s, e.data.worker, (w) => ({
          ...countRestart(w, Date.parse(e.time)),
          status: "restarting",
          restarts: w.restarts + 1,
          ...(w.status === "flapping" && e.data.policy === CRASH_RESTART && e.incident ? { coolingDown: true, incident: e.incident } : {}),
        })),
  // A health policy's incident ends when its condition clears, so it is not the worker's crash
  // incident (which a stable run resolves).
  "dec.incident.opened": (e, s) => {
    const policy = e.data.policy;
    const health = policy !== undefined && policy !== CRASH_RESTART;
    return health ? s : withWorker(s, e.data.worker, (w) => ({ ...w, incident: e.incident! }));
  },
  // Only the worker's own (crash) incident is cleared: a health incident closing leaves it alone.
  // (A device-level incident, e.g. disk pressure, names no known worker: no entry is made for it.)
  "dec.incident.resolved": (e, s) => (!ownEntry(s.workers, e.data.worker) ? s : withWorker(s, e.data.worker, (w) => (w.incident === e.incident ? { ...w, incident: undefined } : w))),
  // A crash loop marks the worker flapping (no more restarts); a health escalation stops it with a
  // command instead, and an essential worker it leaves running must still be restarted if it crashes.
  "dec.incident.escalated": (e, s) => {
    const policy = ownEntry(s.incidents, e.incident)?.policy;
    if (policy && policy !== CRASH_RESTART) return s;
    return withWorker(s, e.data.worker, (w) => ({ ...w, incident: undefined, status: "flapping" }));
  },
};
