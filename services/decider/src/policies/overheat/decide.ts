import { derivedId, is, ownEntry, workerOf, type DeciderState, type VigilEvent, type WorkerConfig } from "@vigil/events";
import { draft, type Draft, type Policy, type PolicyContext } from "../../core/policy.js";
import { heldByEssential } from "../../core/shedding.js";
import { OVERHEAT, overheatOf } from "./state.js";

/**
 * Non-essential workers that are running, lowest priority first (config order breaks ties), except
 * those an essential worker depends on (core/shedding.ts).
 */
function sheddable(state: DeciderState, ctx: PolicyContext): WorkerConfig[] {
  const held = heldByEssential(state, ctx.workers);
  return ctx.workers
    .map((w, i) => ({ w, i }))
    .filter(({ w }) => !w.essential && !held.has(w.name) && workerOf(state, w.name).status === "running")
    .sort((a, b) => a.w.priority - b.w.priority || a.i - b.i)
    .map(({ w }) => w);
}

const pause = (worker: string, reason: string, incident: string): Draft[] => [
  draft("dec.remediation.decided", { worker, policy: OVERHEAT, action: "pause", attempt: 0, delayMs: 0, reason }, incident),
  draft("cmd.worker.pause", { worker, delayMs: 0, reason, requestedBy: "decider" }, incident),
];

/**
 * Thermal self-preservation: when the temperature crosses its threshold, pause (SIGSTOP) every
 * running non-essential worker, lowest priority first, as one incident; a non-essential worker that
 * (re)starts during the overheat is paused too. When it falls below the recovery line (threshold
 * minus hysteresis: the health service's `recovered` event, or any sample below the line the crossing
 * announced) the workers this policy paused are resumed, highest priority first, and the incident
 * resolved. Essential workers are never paused.
 */
export const overheat: Policy = {
  name: OVERHEAT,
  decide(state, e: VigilEvent, ctx): Draft[] {
    if (!ctx.policies.overheat.enabled) return [];
    const o = overheatOf(state);
    if (is(e, "obs.health.threshold.crossed") && e.data.metric === "temperature") {
      if (o) return [];
      const targets = sheddable(state, ctx);
      const first = targets[0];
      if (!first) return [];
      const incident = derivedId(e.id, OVERHEAT, "incident");
      const reason = `overheat: ${e.data.value} °C ≥ ${e.data.above} °C; pausing non-essential workers (${targets.map((w) => w.name).join(", ")}) until below ${e.data.recoverBelow} °C`;
      return [draft("dec.incident.opened", { worker: first.name, reason, policy: OVERHEAT }, incident), ...targets.flatMap((w) => pause(w.name, reason, incident))];
    }
    if (!o?.incident) return [];
    const incident = o.incident;
    // A non-essential worker that comes back (crash restart, operator) while still hot is paused again.
    if (is(e, "out.worker.restarted") || is(e, "out.worker.started") || is(e, "obs.worker.started")) {
      const cfg = ctx.worker(e.data.worker);
      if (!cfg || cfg.essential || heldByEssential(state, ctx.workers).has(cfg.name)) return [];
      return pause(cfg.name, `overheat: ${cfg.name} started while the device is still above ${o.recoverBelow} °C`, incident);
    }
    const value =
      is(e, "obs.health.threshold.recovered") && e.data.metric === "temperature"
        ? e.data.value
        : is(e, "obs.health.sample") && e.data.tempC !== null && e.data.tempC < o.recoverBelow
          ? e.data.tempC
          : undefined;
    if (value === undefined) return [];
    const reason = `temperature back to ${value} °C, below ${o.recoverBelow} °C: resuming ${o.paused.join(", ") || "nothing"}`;
    // Every worker this policy paused (also one whose pause outcome has not arrived yet: the supervisor
    // answers a resume of a running worker with a no-op outcome).
    const resumes = [...o.paused]
      .reverse()
      .flatMap((w) => [
        draft("dec.remediation.decided", { worker: w, policy: OVERHEAT, action: "resume", attempt: 0, delayMs: 0, reason }, incident),
        draft("cmd.worker.resume", { worker: w, delayMs: 0, reason, requestedBy: "decider" }, incident),
      ]);
    const owner = ownEntry(state.incidents, incident)?.worker ?? o.paused[0] ?? "unknown";
    return [...resumes, draft("dec.incident.resolved", { worker: owner, reason }, incident)];
  },
};
