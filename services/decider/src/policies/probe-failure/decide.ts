import { is, workerOf, type VigilEvent } from "@vigil/events";
import type { Draft, Policy } from "../../core/policy.js";
import { remediateWorker, resolveRemediation } from "../escalation/remediate.js";

export const PROBE = "probe";

/**
 * A liveness probe that reached its failureThreshold → restart the worker (the health service
 * reports again every failureThreshold further failures, which counts as the restart not working and
 * leads to escalation after maxAttempts). `obs.probe.recovered` resolves the incident. A report about
 * a process other than the one running now (already restarted) or a paused worker is ignored.
 */
export const probeFailure: Policy = {
  name: PROBE,
  decide(state, e: VigilEvent, ctx): Draft[] {
    if (!ctx.policies.probe.enabled) return [];
    if (is(e, "obs.probe.failed")) {
      const w = workerOf(state, e.data.worker);
      if (e.data.pid !== undefined && e.data.pid !== w.pid) return [];
      const reason = `${e.data.probe} probe of ${e.data.worker} failed ${e.data.failures} times (threshold ${e.data.failureThreshold}): ${e.data.error}`;
      return remediateWorker(state, e, ctx, { worker: e.data.worker, policy: PROBE, action: "restart", reason });
    }
    // A container's Docker HEALTHCHECK is its probe: Docker reports `unhealthy` once its --retries
    // (the HEALTHCHECK's own failure threshold) consecutive checks failed, so one report is a probe at
    // failureThreshold. Only while the workload runs (not restarting, paused or stopped).
    if (is(e, "obs.container.health")) {
      const w = workerOf(state, e.data.worker);
      if (w.status !== "running") return [];
      if (e.data.status === "unhealthy") {
        const reason = `Docker HEALTHCHECK of container ${e.data.worker} (${e.data.containerId.slice(0, 12)}) reports unhealthy (its retries reached)`;
        return remediateWorker(state, e, ctx, { worker: e.data.worker, policy: PROBE, action: "restart", reason });
      }
      if (e.data.status === "healthy") return resolveRemediation(state, e.data.worker, [PROBE], `Docker HEALTHCHECK of container ${e.data.worker} passes again`);
      return [];
    }
    if (is(e, "obs.probe.recovered")) {
      return resolveRemediation(state, e.data.worker, [PROBE], `${e.data.probe} probe of ${e.data.worker} passes again (${e.data.successes} in a row)`);
    }
    return [];
  },
};
