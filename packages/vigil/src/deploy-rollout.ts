import { UsageError } from "./embedded-nats.js";

/** A device's outcome for one deployment version, from its events. */
export type DeviceOutcome = "pending" | "received" | "applying" | "healthy" | "rolled-back" | "refused";

/**
 * The stages of a rollout (pure): `--canary N` first, then each `--then P%` up to P percent of the
 * devices (cumulative, rounded up), the last stage taking whatever is left. `--then 100%` ends it.
 */
export function rolloutStages(devices: string[], canary: string, then: string[]): string[][] {
  const n = Number(canary);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--canary ${canary}: a number of devices, at least 1`);
  const cuts = [Math.min(n, devices.length)];
  for (const t of then) {
    const m = /^(\d{1,3})%$/.exec(t);
    if (!m || Number(m[1]) < 1 || Number(m[1]) > 100) throw new UsageError(`--then ${t}: a percentage like 25% (1–100)`);
    cuts.push(Math.max(cuts.at(-1)!, Math.ceil((Number(m[1]) / 100) * devices.length)));
  }
  if (cuts.at(-1)! < devices.length) cuts.push(devices.length);
  const stages: string[][] = [];
  let from = 0;
  for (const c of cuts) {
    if (c > from) stages.push(devices.slice(from, c));
    from = Math.max(from, c);
  }
  return stages;
}
