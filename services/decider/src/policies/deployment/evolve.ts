import type { SliceEvolve } from "../../core/policy.js";

/** A new deployment opens its window; the policy's own healthy / rollback decision closes it. A rollback's apply opens none. */
export const evolveDeployment: SliceEvolve = {
  "out.deployment.applied": (e, s) =>
    e.data.rollback ? (s.deployment ? { ...s, deployment: { ...s.deployment, done: s.deployment.done ?? "rollback" } } : s) : { ...s, deployment: { version: e.data.version, workers: e.data.workers, since: Date.parse(e.time), windowMs: e.data.healthWindowSeconds * 1000 } },
  "dec.deployment.healthy": (e, s) => (s.deployment?.version === e.data.version ? { ...s, deployment: { ...s.deployment, done: "healthy" } } : s),
  "cmd.deployment.rollback": (e, s) =>
    s.deployment?.version === e.data.version ? { ...s, deployment: { ...s.deployment, done: "rollback", ...(e.data.worker && e.incident ? { failed: { worker: e.data.worker, incident: e.incident } } : {}) } } : s,
};
