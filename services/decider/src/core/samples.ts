import { healthOf, ownEntry, withEntry, type DataOf, type DeciderState, type WorkerHealthView } from "@vigil/events";
import { withHealth } from "./health.js";
import type { SliceEvolve } from "./policy.js";
import { isCountedRemediation } from "../policies/escalation/state.js";

/**
 * The health-samples slice (`state.health.workers`): each managed worker's figures from the latest
 * obs.health.sample and its CPU streaks against cpu.thresholdPct. cpu-failsafe decides on these
 * streaks (nextWorkerHealth gives the ones the sample it is deciding on will leave); memory-pressure
 * reads the resident sizes.
 */
export type SamplesState = Record<string, WorkerHealthView>;
export const initialSamples: SamplesState = {};

type WorkerSample = DataOf<"obs.health.sample">["workers"][number];

/** A worker's figures and streaks after one more sample (a new pid starts its streaks over). */
export function nextWorkerHealth(prev: WorkerHealthView | undefined, w: WorkerSample, thresholdPct: number): WorkerHealthView {
  const same = prev?.pid === w.pid;
  const hot = w.cpuPct >= thresholdPct;
  return {
    pid: w.pid,
    cpuPct: w.cpuPct,
    rssBytes: w.rssBytes,
    hotSamples: hot ? (same ? prev.hotSamples : 0) + 1 : 0,
    coolSamples: hot ? 0 : (same ? prev.coolSamples : 0) + 1,
  };
}

export const evolveSamples: SliceEvolve = {
  "obs.health.sample": (e, s, ctx) => {
    const thr = ctx.policies.cpu.thresholdPct;
    return withHealth(s, (h) => ({ ...h, workers: Object.fromEntries(e.data.workers.map((w): [string, WorkerHealthView] => [w.worker, nextWorkerHealth(ownEntry(h.workers, w.worker), w, thr)])) }));
  },
  // A remediation counted in the worker's incident starts its streaks over (the restarted process is measured afresh).
  "dec.remediation.decided": (e, s) => {
    if (!isCountedRemediation(s, e)) return s;
    const hw = ownEntry(healthOf(s).workers, e.data.worker);
    return hw ? withHealth(s, (h) => ({ ...h, workers: withEntry(h.workers, e.data.worker, { ...hw, hotSamples: 0, coolSamples: 0 }) })) : s;
  },
};
