import { derivedId, is, workerOf, type DeciderState, type VigilEvent } from "@vigil/events";
import { draft, type Draft, type Policy } from "../../core/policy.js";
import { DEPLOYMENT, deploymentOf, inWindow } from "./state.js";

/**
 * The health gate of a deployment from the cloud (docs/fleet.md). From out.deployment.applied, for
 * healthWindowSeconds (event time), the deployment's workers must run: an unexpected exit of one (the
 * first crash of a crash loop), a failing probe, or a step that failed → cmd.deployment.rollback,
 * under the worker's crash incident (the one crash-restart opens for the same exit, so one incident);
 * the first input event at or after the window's end with every worker running → dec.deployment.healthy,
 * else (a worker that never came up) a rollback. The rollback's own apply resolves the incident.
 */
export const deploymentGate: Policy = {
  name: DEPLOYMENT,
  decide(state, e: VigilEvent): Draft[] {
    const w = deploymentOf(state);
    const at = Date.parse(e.time);
    if (is(e, "out.deployment.applied")) {
      if (e.data.rollback) return w?.failed && e.incident === w.failed.incident ? [draft("dec.incident.resolved", { worker: w.failed.worker, reason: `deployment ${e.data.from} rolled back to ${e.data.version === 0 ? "the local config" : `version ${e.data.version}`}` }, e.incident)] : [];
      if (e.data.failed > 0) return rollback(state, e, e.data.version, e.data.workers[0], `${e.data.failed} step(s) of deployment ${e.data.version} failed`);
      return [];
    }
    if (!w || w.done) return [];
    if (inWindow(w, at)) {
      if (is(e, "obs.worker.exited") && !e.data.expected && w.workers.includes(e.data.worker)) {
        const how = e.data.error ? `could not start: ${e.data.error}` : e.data.signal ? `was killed by ${e.data.signal}` : `exited with code ${e.data.code}`;
        return rollback(state, e, w.version, e.data.worker, `${e.data.worker} ${how} ${Math.round((at - w.since) / 100) / 10} s into the ${w.windowMs / 1000} s health window of deployment ${w.version}`);
      }
      if (is(e, "obs.probe.failed") && w.workers.includes(e.data.worker)) {
        return rollback(state, e, w.version, e.data.worker, `${e.data.probe} probe of ${e.data.worker} failed in the health window of deployment ${w.version}: ${e.data.error}`);
      }
      return [];
    }
    // The window is over: decided on the first event after its end (heartbeats come every few seconds).
    const notRunning = w.workers.filter((n) => workerOf(state, n).status !== "running");
    if (notRunning.length) return rollback(state, e, w.version, notRunning[0], `${notRunning.join(", ")} not running at the end of the ${w.windowMs / 1000} s health window of deployment ${w.version}`);
    return [draft("dec.deployment.healthy", { version: w.version, workers: w.workers, windowMs: w.windowMs })];
  },
};

/** The rollback command, under the worker's open incident or a new one (opened here when crash-restart does not). */
function rollback(state: DeciderState, e: VigilEvent, version: number, worker: string | undefined, reason: string): Draft[] {
  const name = worker ?? "deployment";
  const open = workerOf(state, name).incident;
  // crash-restart opens `derivedId(e.id, "incident")` for this same exit: reuse it, so there is one incident.
  const crash = is(e, "obs.worker.exited") && !e.data.expected;
  const incident = open ?? e.incident ?? derivedId(e.id, "incident");
  const out: Draft[] = [];
  if (!open && !crash) out.push(draft("dec.incident.opened", { worker: name, reason, policy: DEPLOYMENT }, incident));
  out.push(draft("cmd.deployment.rollback", { version, worker: name, reason, requestedBy: "decider" }, incident));
  return out;
}
