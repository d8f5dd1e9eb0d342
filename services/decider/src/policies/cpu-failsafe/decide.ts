import { healthOf, is, ownEntry, workerOf, type VigilEvent } from "@vigil/events";
import type { Draft, Policy } from "../../core/policy.js";
import { nextWorkerHealth } from "../../core/samples.js";
import { remediateWorker, resolveRemediation } from "../escalation/remediate.js";
import { ANOMALY } from "../anomaly/decide.js";

export const CPU_FAILSAFE = "cpu-failsafe";

/**
 * CPU fail-safe: a managed worker at or above `thresholdPct` (% of one core, its whole process
 * group) for `consecutiveSamples` health samples in a row is restarted (or killed, if configured).
 * The incident resolves after as many samples below the threshold; a killed worker resolves it at
 * once. Only workers Vigil runs, only the pid the decider knows: an unmanaged busy process is the
 * health service's to report, never this policy's to touch. The streaks are the health-samples
 * slice's (core/samples.ts): the ones this sample leaves once folded.
 */
export const cpuFailsafe: Policy = {
  name: CPU_FAILSAFE,
  decide(state, e: VigilEvent, ctx): Draft[] {
    const p = ctx.policies.cpu;
    if (!p.enabled) return [];
    if (is(e, "out.worker.killed")) {
      const r = ownEntry(healthOf(state).remediations, e.data.worker);
      if (r && r.incident === e.incident && (r.policy === CPU_FAILSAFE || r.policy === ANOMALY)) {
        return resolveRemediation(state, e.data.worker, [CPU_FAILSAFE, ANOMALY], `${e.data.worker} killed; it stays stopped until an operator starts it`);
      }
      return [];
    }
    if (!is(e, "obs.health.sample")) return [];
    const h = healthOf(state);
    const out: Draft[] = [];
    for (const s of e.data.workers) {
      if (!ctx.worker(s.worker) || workerOf(state, s.worker).pid !== s.pid) continue;
      const { hotSamples, coolSamples } = nextWorkerHealth(ownEntry(h.workers, s.worker), s, p.thresholdPct);
      if (hotSamples > 0) {
        if (hotSamples < p.consecutiveSamples) continue;
        const reason = `${s.worker} (pid ${s.pid}) used ${s.cpuPct.toFixed(0)} % CPU (≥ ${p.thresholdPct} %) for ${hotSamples} samples: ${p.action}`;
        out.push(...remediateWorker(state, e, ctx, { worker: s.worker, policy: CPU_FAILSAFE, action: p.action, reason }));
      } else {
        if (coolSamples < p.consecutiveSamples) continue;
        out.push(...resolveRemediation(state, s.worker, [CPU_FAILSAFE, ANOMALY], `${s.worker} CPU at ${s.cpuPct.toFixed(0)} % (below ${p.thresholdPct} %) for ${coolSamples} samples`));
      }
    }
    return out;
  },
};
