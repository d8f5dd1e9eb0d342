import { derivedId, is, workerOf, type DeciderState, type DiskPressureView, type VigilEvent } from "@vigil/events";
import { draft, type Draft, type Policy, type PolicyContext } from "../../core/policy.js";
import { heldByEssential } from "../../core/shedding.js";
import { DISK_PRESSURE, diskOf } from "./state.js";

/**
 * Non-essential running workers, the most log output first (the supervisor's latest prune), then
 * lowest priority; never one an essential worker depends on (core/shedding.ts).
 */
function topWriters(state: DeciderState, d: DiskPressureView, ctx: PolicyContext): string[] {
  const bytes = new Map((d.writers ?? []).map((w) => [w.worker, w.bytes]));
  const held = heldByEssential(state, ctx.workers);
  return ctx.workers
    .map((w, i) => ({ w, i }))
    .filter(({ w }) => !w.essential && !held.has(w.name) && workerOf(state, w.name).status === "running" && !d.paused.includes(w.name))
    .sort((a, b) => (bytes.get(b.w.name) ?? 0) - (bytes.get(a.w.name) ?? 0) || a.w.priority - b.w.priority || a.i - b.i)
    .slice(0, ctx.policies.disk.pauseWorkers)
    .map(({ w }) => w.name);
}

function nextStep(state: DeciderState, mount: string, usedPct: number, d: DiskPressureView, ctx: PolicyContext, incident: string): Draft[] {
  const at = `${usedPct} % ≥ ${d.above} %`;
  if (d.steps === 1) {
    const factor = ctx.policies.disk.downsampleFactor;
    const reason = `disk ${mount} still at ${at} after pruning logs: telemetry forwards ${factor}× fewer of its downsampled events`;
    return [draft("dec.disk.step", { mount, step: "downsample", usedPct, reason }, incident), draft("cmd.telemetry.downsample", { factor, reason, requestedBy: "decider" }, incident)];
  }
  const workers = topWriters(state, d, ctx);
  const reason = workers.length
    ? `disk ${mount} still at ${at} after pruning logs and downsampling: pausing the non-essential workers that write the most (${workers.join(", ")}) until below ${d.recoverBelow} %`
    : `disk ${mount} still at ${at}: no non-essential worker left to pause; the stream's own limits (stream.maxBytes, discard) are the last line`;
  return [
    draft("dec.disk.step", { mount, step: "pause-workers", usedPct, reason, workers }, incident),
    ...workers.flatMap((w) => [
      draft("dec.remediation.decided", { worker: w, policy: DISK_PRESSURE, action: "pause", attempt: 0, delayMs: 0, reason }, incident),
      draft("cmd.worker.pause", { worker: w, delayMs: 0, reason, requestedBy: "decider" }, incident),
    ]),
  ];
}

function undo(mount: string, usedPct: number, d: DiskPressureView, incident: string): Draft[] {
  const reason = `disk ${mount} back to ${usedPct} %, below ${d.recoverBelow} %: ${[d.downsampled ? "telemetry back to its configured sampling" : "", d.paused.length ? `resuming ${d.paused.join(", ")}` : ""].filter(Boolean).join(", ") || "nothing to undo"} (pruned logs stay pruned)`;
  const owner = d.paused[0] ?? "device";
  return [
    draft("dec.disk.step", { mount, step: "undo", usedPct, reason, workers: [...d.paused] }, incident),
    ...(d.downsampled ? [draft("cmd.telemetry.downsample", { factor: 1, reason, requestedBy: "decider" }, incident)] : []),
    ...[...d.paused].reverse().flatMap((w) => [
      draft("dec.remediation.decided", { worker: w, policy: DISK_PRESSURE, action: "resume", attempt: 0, delayMs: 0, reason }, incident),
      draft("cmd.worker.resume", { worker: w, delayMs: 0, reason, requestedBy: "decider" }, incident),
    ]),
    draft("dec.incident.resolved", { worker: owner, reason }, incident),
  ];
}

/**
 * Disk pressure (docs/health.md): when a watched mount crosses its threshold (the health service's
 * obs.health.threshold.crossed, metric disk), one incident and, in order, each step given one sample
 * interval to work before the next: (1) drop rotated logs beyond the newest (cmd.logs.prune, the
 * supervisor), (2) tell telemetry to downsample more (cmd.telemetry.downsample), (3) pause the
 * non-essential workers that write the most. Every step is a dec.disk.step in the incident. When the
 * mount recovers (threshold.recovered, or a sample below the recovery line) telemetry's sampling is
 * restored, the paused workers resumed and the incident resolved. The JetStream store's own limits
 * stay the last line.
 */
export const diskPressure: Policy = {
  name: DISK_PRESSURE,
  decide(state, e: VigilEvent, ctx): Draft[] {
    if (!ctx.policies.disk.enabled) return [];
    if (is(e, "obs.health.threshold.crossed") && e.data.metric === "disk" && e.data.target) {
      const mount = e.data.target;
      if (diskOf(state, mount)) return [];
      const incident = derivedId(e.id, DISK_PRESSURE, "incident");
      const reason = `disk ${mount} at ${e.data.value} % ≥ ${e.data.above} %: pruning rotated logs beyond the newest`;
      return [
        draft("dec.incident.opened", { worker: "device", reason: `disk ${mount} at ${e.data.value} % ≥ ${e.data.above} %`, policy: DISK_PRESSURE }, incident),
        draft("dec.disk.step", { mount, step: "prune-logs", usedPct: e.data.value, reason }, incident),
        draft("cmd.logs.prune", { keepRotated: 1, reason, requestedBy: "decider" }, incident),
      ];
    }
    if (is(e, "obs.health.threshold.recovered") && e.data.metric === "disk" && e.data.target) {
      const d = diskOf(state, e.data.target);
      return d?.incident ? undo(e.data.target, e.data.value, d, d.incident) : [];
    }
    if (!is(e, "obs.health.sample")) return [];
    const out: Draft[] = [];
    for (const { mount, usedPct } of e.data.disks) {
      const d = diskOf(state, mount);
      if (!d?.incident) continue;
      if (usedPct < d.recoverBelow) out.push(...undo(mount, usedPct, d, d.incident));
      // The next step only on a sample taken at least half an interval after the last one: the step had time to work.
      else if (usedPct >= d.above && d.steps < 3 && Date.parse(e.time) - (d.stepAt ?? 0) >= e.data.intervalMs / 2) out.push(...nextStep(state, mount, usedPct, d, ctx, d.incident));
    }
    return out;
  },
};
