import { healthOf, is, ownEntry, workerOf, type VigilEvent } from "@vigil/events";
import type { Draft, Policy } from "./policy.js";
import { remediateWorker, resolveRemediation } from "./remediate.js";

/**
 * CPU fail-safe: a managed worker at or above `thresholdPct` (% of one core, its whole process
 * group) for `consecutiveSamples` health samples in a row is restarted (or killed, if configured).
 * The incident resolves after as many samples below the threshold; a killed worker resolves it at
 * once. Only workers Vigil runs, only the pid the decider knows: an unmanaged busy process is the
 * health service's to report, never this policy's to touch.
 */
export const cpuFailsafe: Policy = {
  name: "cpu-failsafe",
  decide(state, e: VigilEvent, ctx): Draft[] {
    const p = ctx.policies.cpu;
    if (!p.enabled) return [];
    if (is(e, "out.worker.killed")) {
      const r = ownEntry(healthOf(state).remediations, e.data.worker);
      if (r && r.incident === e.incident && (r.policy === "cpu-failsafe" || r.policy === "anomaly")) {
        return resolveRemediation(state, e.data.worker, ["cpu-failsafe", "anomaly"], `${e.data.worker} killed; it stays stopped until an operator starts it`);
      }
      return [];
    }
    if (!is(e, "obs.health.sample")) return [];
    const h = healthOf(state);
    const out: Draft[] = [];
    for (const s of e.data.workers) {
      if (!ctx.worker(s.worker) || workerOf(state, s.worker).pid !== s.pid) continue;
      const prev = ownEntry(h.workers, s.worker);
      const same = prev?.pid === s.pid;
      if (s.cpuPct >= p.thresholdPct) {
        const hot = (same ? prev.hotSamples : 0) + 1;
        if (hot < p.consecutiveSamples) continue;
        const reason = `${s.worker} (pid ${s.pid}) used ${s.cpuPct.toFixed(0)} % CPU (≥ ${p.thresholdPct} %) for ${hot} samples: ${p.action}`;
        out.push(...remediateWorker(state, e, ctx, { worker: s.worker, policy: "cpu-failsafe", action: p.action, reason }));
      } else {
        const cool = (same ? prev.coolSamples : 0) + 1;
        if (cool < p.consecutiveSamples) continue;
        out.push(...resolveRemediation(state, s.worker, ["cpu-failsafe", "anomaly"], `${s.worker} CPU at ${s.cpuPct.toFixed(0)} % (below ${p.thresholdPct} %) for ${cool} samples`));
      }
    }
    return out;
  },
};
