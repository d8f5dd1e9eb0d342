import { derivedId, healthOf, ownEntry, workerOf, type DeciderState, type VigilEvent } from "@vigil/events";
import { draft, type Draft, type PolicyContext } from "../../core/policy.js";

export type RemedialAction = "restart" | "kill";

export function outcomeKey(policy: string, action: string): string {
  return `${policy}/${action}`;
}

/** "restart has fixed cpu-failsafe 2 of 3 times", or "" before any history. */
export function learnedRate(state: DeciderState, key: string): string {
  const s = ownEntry(state.outcomes, key);
  if (!s || s.succeeded + s.failed === 0) return "";
  return `; learned: ${key} fixed it ${s.succeeded} of ${s.succeeded + s.failed} times`;
}

/**
 * The shared step of the worker-level health policies (CPU fail-safe, anomaly, probe, memory):
 * open (or join) the worker's health incident and restart or kill it — or, when earlier attempts in
 * this incident kept failing (maxAttempts), or the learned success rate of this (policy, action) is
 * too low, stop it and escalate. Only declared workers, only a running current process.
 */
export function remediateWorker(
  state: DeciderState,
  e: VigilEvent,
  ctx: PolicyContext,
  o: { worker: string; policy: string; action: RemedialAction; reason: string },
): Draft[] {
  // A declared worker, or a declared container workload (its Docker HEALTHCHECK feeds the probe policy).
  const cfg = ctx.worker(o.worker) ?? ctx.containers?.find((c) => c.name === o.worker);
  if (!cfg) return []; // never act on a process Vigil does not manage
  const w = workerOf(state, o.worker);
  if (w.status !== "running") return []; // restarting, paused, stopped: not the process that was measured
  const known = ownEntry(healthOf(state).remediations, o.worker);
  if (known?.escalated && known.pid === w.pid) return []; // given up on this process: an operator's turn
  const r = known?.escalated ? undefined : known;
  const incident = r?.incident ?? derivedId(e.id, o.policy, o.worker, "incident");
  const out: Draft[] = [];
  if (!r) out.push(draft("dec.incident.opened", { worker: o.worker, reason: o.reason, policy: o.policy }, incident));
  const attempts = r?.attempts ?? 0;
  const key = outcomeKey(o.policy, o.action);
  const esc = ctx.policies.escalation;
  const stats = ownEntry(state.outcomes, key);
  const rate = stats && stats.succeeded + stats.failed > 0 ? stats.succeeded / (stats.succeeded + stats.failed) : 1;
  const learnedBad = attempts > 0 && stats !== undefined && stats.attempts >= esc.minHistory && rate < esc.minSuccessRate;
  if (attempts >= esc.maxAttempts || learnedBad) {
    const why = learnedBad
      ? `${key} succeeds only ${Math.round(rate * 100)} % of the time (below ${Math.round(esc.minSuccessRate * 100)} %)`
      : `${attempts} ${o.action}(s) did not fix it`;
    const reason = `${o.reason}; ${why}: ${cfg.essential ? "essential worker left running, operator needed" : `stopping ${o.worker}`}`;
    if (!cfg.essential) {
      out.push(draft("dec.remediation.decided", { worker: o.worker, policy: o.policy, action: "stop", attempt: attempts, delayMs: 0, reason }, incident));
      out.push(draft("cmd.worker.stop", { worker: o.worker, delayMs: 0, reason, requestedBy: "decider" }, incident));
    }
    out.push(draft("dec.incident.escalated", { worker: o.worker, reason, restarts: attempts, windowMs: 0 }, incident));
    return out;
  }
  const reason = `${o.reason}${learnedRate(state, key)}`;
  out.push(draft("dec.remediation.decided", { worker: o.worker, policy: o.policy, action: o.action, attempt: attempts, delayMs: 0, reason }, incident));
  out.push(
    o.action === "kill"
      ? draft("cmd.worker.kill", { worker: o.worker, delayMs: 0, reason, requestedBy: "decider", signal: "SIGKILL" }, incident)
      : draft("cmd.worker.restart", { worker: o.worker, delayMs: 0, reason, requestedBy: "decider" }, incident),
  );
  return out;
}

/** Resolves a worker's open health incident (the condition cleared), if one of `policies` opened it. */
export function resolveRemediation(state: DeciderState, worker: string, policies: string[], reason: string): Draft[] {
  const r = ownEntry(healthOf(state).remediations, worker);
  if (!r || r.escalated || !policies.includes(r.policy) || r.attempts === 0) return [];
  return [draft("dec.incident.resolved", { worker, reason }, r.incident)];
}
