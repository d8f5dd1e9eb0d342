import type { SliceEvolve } from "../../core/policy.js";
import { withHealth } from "../../core/health.js";
import { OVERHEAT } from "./state.js";

export const evolveOverheat: SliceEvolve = {
  "obs.health.threshold.crossed": (e, s) => (e.data.metric !== "temperature" ? s : withHealth(s, (h) => ({ ...h, overheat: h.overheat ?? { recoverBelow: e.data.recoverBelow, paused: [] } }))),
  // A sample below the line ends it too (the health service may have restarted and lost its hysteresis).
  "obs.health.sample": (e, s) => {
    const o = s.health?.overheat;
    const tempC = e.data.tempC;
    return o && tempC !== null && tempC < o.recoverBelow ? withHealth(s, (h) => ({ ...h, overheat: undefined })) : s;
  },
  "obs.health.threshold.recovered": (e, s) => (e.data.metric === "temperature" && s.health?.overheat ? withHealth(s, (h) => ({ ...h, overheat: undefined })) : s),
  "dec.incident.opened": (e, s) => {
    const id = e.incident;
    if (!id || e.data.policy !== OVERHEAT) return s;
    return withHealth(s, (h) => (h.overheat ? { ...h, overheat: { ...h.overheat, incident: id } } : h));
  },
  "dec.remediation.decided": (e, s) => {
    const d = e.data;
    if (d.policy !== OVERHEAT || d.action !== "pause") return s;
    return withHealth(s, (h) => (h.overheat && !h.overheat.paused.includes(d.worker) ? { ...h, overheat: { ...h.overheat, paused: [...h.overheat.paused, d.worker] } } : h));
  },
};
