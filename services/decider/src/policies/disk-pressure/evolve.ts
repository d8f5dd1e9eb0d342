import type { SliceEvolve } from "../../core/policy.js";
import { withDisk } from "./state.js";

const STEP_INDEX = { "prune-logs": 1, downsample: 2, "pause-workers": 3 } as const;

export const evolveDisk: SliceEvolve = {
  "obs.health.threshold.crossed": (e, s) =>
    e.data.metric !== "disk" || !e.data.target ? s : withDisk(s, e.data.target, (d) => d ?? { above: e.data.above, recoverBelow: e.data.recoverBelow, steps: 0, paused: [], downsampled: false }),
  "dec.disk.step": (e, s) =>
    withDisk(s, e.data.mount, (d) => {
      if (!d) return d;
      if (e.data.step === "undo") return undefined; // the disk recovered: the mount is fine again
      return {
        ...d,
        incident: e.incident ?? d.incident,
        steps: Math.max(d.steps, STEP_INDEX[e.data.step]),
        stepAt: Date.parse(e.time),
        ...(e.data.step === "downsample" ? { downsampled: true } : {}),
        ...(e.data.step === "pause-workers" ? { paused: [...d.paused, ...(e.data.workers ?? []).filter((w) => !d.paused.includes(w))] } : {}),
      };
    }),
  // Who writes the most, as the supervisor measured its log files when pruning: every mount under pressure learns it.
  "out.logs.pruned": (e, s) => {
    let next = s;
    for (const mount of Object.keys(s.disk ?? {})) next = withDisk(next, mount, (d) => (d ? { ...d, writers: e.data.writers } : d));
    return next;
  },
};
