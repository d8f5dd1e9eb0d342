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
    if (is(e, "obs.probe.recovered")) {
      return resolveRemediation(state, e.data.worker, [PROBE], `${e.data.probe} probe of ${e.data.worker} passes again (${e.data.successes} in a row)`);
    }
    return [];
  },
};
