import type { SliceEvolve } from "../../core/policy.js";
import { withHealth } from "../../core/health.js";
import { isCountedRemediation } from "../escalation/state.js";
import { MEMORY } from "./state.js";

export const evolveMemory: SliceEvolve = {
  "obs.health.threshold.crossed": (e, s) => (e.data.metric !== "memory" ? s : withHealth(s, (h) => ({ ...h, memory: h.memory ?? { recoverBelow: e.data.recoverBelow, highSamples: 0 } }))),
  "obs.health.sample": (e, s) => {
    const m = s.health?.memory;
    if (!m) return s;
    return withHealth(s, (h) => ({ ...h, memory: e.data.memPct < m.recoverBelow ? undefined : { ...m, highSamples: m.highSamples + 1 } }));
  },
  "obs.health.threshold.recovered": (e, s) => (e.data.metric === "memory" && s.health?.memory ? withHealth(s, (h) => ({ ...h, memory: undefined })) : s),
  // A restart this policy decided starts the count of high samples over.
  "dec.remediation.decided": (e, s) => (e.data.policy === MEMORY && s.health?.memory && isCountedRemediation(s, e) ? withHealth(s, (h) => ({ ...h, memory: h.memory && { ...h.memory, highSamples: 0 } })) : s),
};
