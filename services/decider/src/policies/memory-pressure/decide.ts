import { healthOf, is, ownEntry, workerOf, type DeciderState, type VigilEvent } from "@vigil/events";
import { draft, type Draft, type Policy, type PolicyContext } from "../../core/policy.js";
import { remediateWorker } from "../escalation/remediate.js";
import { MEMORY, memoryOf } from "./state.js";

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
  name: MEMORY,
  decide(state, e: VigilEvent, ctx): Draft[] {
    const p = ctx.policies.memory;
    if (!p.enabled) return [];
    const memory = memoryOf(state);
    const act = (value: number, above: string) => {
      const target = largest(state, ctx);
      if (!target) return [];
      const reason = `memory at ${value.toFixed(0)} % (${above}): restarting the largest non-essential worker ${target.name} (${mb(target.rssBytes)})`;
      return remediateWorker(state, e, ctx, { worker: target.name, policy: MEMORY, action: "restart", reason });
    };
    if (is(e, "obs.health.threshold.crossed") && e.data.metric === "memory") {
      return memory ? [] : act(e.data.value, `≥ ${e.data.above} %`);
    }
    if (!memory) return [];
    const recoveredAt =
      is(e, "obs.health.threshold.recovered") && e.data.metric === "memory" ? e.data.value : is(e, "obs.health.sample") && e.data.memPct < memory.recoverBelow ? e.data.memPct : undefined;
    if (recoveredAt !== undefined) {
      return Object.entries(healthOf(state).remediations)
        .filter(([, r]) => r.policy === MEMORY && !r.escalated)
        .map(([worker, r]) => draft("dec.incident.resolved", { worker, reason: `memory back to ${recoveredAt.toFixed(0)} %, below ${memory.recoverBelow} %` }, r.incident));
    }
    if (is(e, "obs.health.sample") && memory.highSamples + 1 >= p.consecutiveSamples) {
      return act(e.data.memPct, `still above the threshold after ${memory.highSamples + 1} samples`);
    }
    return [];
  },
};
