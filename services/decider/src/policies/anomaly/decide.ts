import { is, type VigilEvent } from "@vigil/events";
import type { Draft, Policy } from "../../core/policy.js";
import { remediateWorker } from "../escalation/remediate.js";

export const ANOMALY = "anomaly";

/**
 * An Isolation Forest anomaly attributed with enough confidence — a score of at least `minScore` and
 * a managed worker using at least `minWorkerCpuPct` of a core — is treated like the CPU fail-safe:
 * restart (or kill) that worker. Anomalies without a managed culprit are recorded, not acted on.
 * The incident resolves the way a CPU incident does (cpu-failsafe's cool samples, or the kill).
 */
export const anomalyRemediation: Policy = {
  name: ANOMALY,
  decide(state, e: VigilEvent, ctx): Draft[] {
    const p = ctx.policies.anomaly;
    if (!p.enabled || !is(e, "obs.health.anomaly")) return [];
    const { worker, workerCpuPct, score, feature } = e.data;
    if (!worker || workerCpuPct === undefined) return [];
    if (score < p.minScore || workerCpuPct < p.minWorkerCpuPct) return [];
    const reason = `anomaly score ${score.toFixed(2)} (≥ ${p.minScore}, most deviating: ${feature}) attributed to ${worker} at ${workerCpuPct.toFixed(0)} % CPU: ${p.action}`;
    return remediateWorker(state, e, ctx, { worker, policy: ANOMALY, action: p.action, reason });
  },
};
