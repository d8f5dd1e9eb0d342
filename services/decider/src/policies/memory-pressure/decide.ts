import { healthOf, is, ownEntry, workerOf, type DeciderState, type VigilEvent } from "@vigil/events";
import type { Draft, Policy, PolicyContext } from "./policy.js";
import { remediateWorker } from "./remediate.js";
import { draft } from "./policy.js";

/** The running non-essential worker with the largest resident memory in the latest sample. */
function largest(state: DeciderState, ctx: PolicyContext): { name: string; rssBytes: number } | undefined {
  const h = healthOf(state);
  let best: { name: string; rssBytes: number } | undefined;
  for (const w of ctx.workers) {
    const hw = ownEntry(h.workers, w.name);
    if (w.essential || !hw || workerOf(state, w.name).status !== "running") continue;
    if (!best || hw.rssBytes > best.rssBytes) best = { name: w.name, rssBytes: hw.rssBytes };
  }
  return best;
}

const mb = (b: number) => `${(b / 1048576).toFixed(0)} MiB`;

/**
 * Memory above its threshold → restart the largest non-essential worker. While memory stays high,
 * act again every `consecutiveSamples` samples (the last restart did not help: escalation after
 * maxAttempts). Below the recovery line, the memory incidents are resolved.
 */
export const memoryPressure: Policy = {
  name: "memory",
  decide(state, e: VigilEvent, ctx): Draft[] {
    const p = ctx.policies.memory;
    if (!p.enabled) return [];
    const h = healthOf(state);
    const act = (value: number, above: string) => {
      const target = largest(state, ctx);
      if (!target) return [];
      const reason = `memory at ${value.toFixed(0)} % (${above}): restarting the largest non-essential worker ${target.name} (${mb(target.rssBytes)})`;
      return remediateWorker(state, e, ctx, { worker: target.name, policy: "memory", action: "restart", reason });
    };
    if (is(e, "obs.health.threshold.crossed") && e.data.metric === "memory") {
      return h.memory ? [] : act(e.data.value, `≥ ${e.data.above} %`);
    }
    if (!h.memory) return [];
    const recovered = (is(e, "obs.health.threshold.recovered") && e.data.metric === "memory") || (is(e, "obs.health.sample") && e.data.memPct < h.memory.recoverBelow);
    if (recovered) {
      const value = (e.data as { value?: number; memPct?: number }).value ?? (e.data as { memPct: number }).memPct;
      return Object.entries(h.remediations)
        .filter(([, r]) => r.policy === "memory" && !r.escalated)
        .map(([worker, r]) => draft("dec.incident.resolved", { worker, reason: `memory back to ${value.toFixed(0)} %, below ${h.memory!.recoverBelow} %` }, r.incident));
    }
    if (is(e, "obs.health.sample") && h.memory.highSamples + 1 >= p.consecutiveSamples) {
      return act(e.data.memPct, `still above the threshold after ${h.memory.highSamples + 1} samples`);
    }
    return [];
  },
};
