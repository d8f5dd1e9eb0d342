import { eventName, healthOf, ownEntry, withEntry, type DataOf, type DeciderState, type HealthView, type OutcomeStats, type PoliciesConfig, type VigilEvent, type WorkerHealthView } from "@vigil/events";

export interface EvolveContext {
  policies: PoliciesConfig;
}

function withHealth(s: DeciderState, f: (h: HealthView) => HealthView): DeciderState {
  return { ...s, health: f(healthOf(s)) };
}

function count(s: DeciderState, key: string | undefined, field: keyof OutcomeStats): DeciderState {
  if (!key) return s;
  const o = ownEntry(s.outcomes, key) ?? { attempts: 0, succeeded: 0, failed: 0 };
  return { ...s, outcomes: withEntry(s.outcomes, key, { ...o, [field]: o[field] + 1 }) };
}

/** Forgets the incident's latest action (once credited or blamed) and its worker's remediation record. */
function settle(s: DeciderState, incident: string | undefined, field: "succeeded" | "failed", dropRemediation: boolean): DeciderState {
  const inc = ownEntry(s.incidents, incident);
  if (!inc || !incident) return s;
  let next = count(s, inc.lastAction, field);
  if (inc.lastAction) next = { ...next, incidents: withEntry(next.incidents, incident, { ...inc, ...ownEntry(next.incidents, incident), lastAction: undefined }) };
  if (!dropRemediation || !next.health) return next;
  const remediations = Object.fromEntries(Object.entries(next.health.remediations).filter(([, r]) => r.incident !== incident));
  return { ...next, health: { ...next.health, remediations } };
}

/**
 * The health policies' part of the fold: latest per-worker figures and CPU streaks from samples, the
 * overheat and memory conditions from threshold events, remediation attempts per incident, and the
 * success-rate projection per (policy, action). Runs after the worker/incident fold in evolve.ts.
 */
export function evolveHealth(s: DeciderState, e: VigilEvent, ctx: EvolveContext): DeciderState {
  const name = eventName(e);
  switch (name) {
    case "obs.health.sample": {
      const d = e.data as DataOf<"obs.health.sample">;
      const thr = ctx.policies.cpu.thresholdPct;
      return withHealth(s, (h) => {
        const workers: Record<string, WorkerHealthView> = Object.fromEntries(
          d.workers.map((w): [string, WorkerHealthView] => {
            const prev = ownEntry(h.workers, w.worker);
            const same = prev?.pid === w.pid;
            const hot = w.cpuPct >= thr;
            return [
              w.worker,
              {
                pid: w.pid,
                cpuPct: w.cpuPct,
                rssBytes: w.rssBytes,
                hotSamples: hot ? (same ? prev.hotSamples : 0) + 1 : 0,
                coolSamples: hot ? 0 : (same ? prev.coolSamples : 0) + 1,
              },
            ];
          }),
        );
        let { overheat, memory } = h;
        if (overheat && d.tempC !== null && d.tempC < overheat.recoverBelow) overheat = undefined;
        if (memory) memory = d.memPct < memory.recoverBelow ? undefined : { ...memory, highSamples: memory.highSamples + 1 };
        return { ...h, workers, overheat, memory };
      });
    }
    case "obs.health.threshold.crossed": {
      const d = e.data as DataOf<"obs.health.threshold.crossed">;
      if (d.metric === "temperature") return withHealth(s, (h) => ({ ...h, overheat: h.overheat ?? { recoverBelow: d.recoverBelow, paused: [] } }));
      if (d.metric === "memory") return withHealth(s, (h) => ({ ...h, memory: h.memory ?? { recoverBelow: d.recoverBelow, highSamples: 0 } }));
      return s;
    }
    case "obs.health.threshold.recovered": {
      const d = e.data as DataOf<"obs.health.threshold.recovered">;
      if (d.metric === "temperature" && s.health?.overheat) return withHealth(s, (h) => ({ ...h, overheat: undefined }));
      if (d.metric === "memory" && s.health?.memory) return withHealth(s, (h) => ({ ...h, memory: undefined }));
      return s;
    }
    case "dec.incident.opened": {
      const d = e.data as DataOf<"dec.incident.opened">;
      const id = e.incident;
      if (!id || !d.policy || d.policy === "crash-restart") return s;
      if (d.policy === "overheat") return withHealth(s, (h) => (h.overheat ? { ...h, overheat: { ...h.overheat, incident: id } } : h));
      return withHealth(s, (h) => ({ ...h, remediations: withEntry(h.remediations, d.worker, { incident: id, policy: d.policy!, attempts: 0 }) }));
    }
    case "dec.remediation.decided": {
      const d = e.data as DataOf<"dec.remediation.decided">;
      const id = e.incident;
      let next = s;
      if (d.policy === "overheat" && d.action === "pause") {
        next = withHealth(next, (h) => (h.overheat && !h.overheat.paused.includes(d.worker) ? { ...h, overheat: { ...h.overheat, paused: [...h.overheat.paused, d.worker] } } : h));
      }
      const inc = ownEntry(next.incidents, id);
      // Outcome tracking counts the remediations of the incident's own worker (not resumes, not the
      // extra pauses of an overheat incident). A new one in the same incident means the last did not work.
      if (!id || !inc || d.action === "resume" || inc.worker !== d.worker) return next;
      const key = `${d.policy}/${d.action}`;
      next = count(next, inc.lastAction, "failed");
      next = count(next, key, "attempts");
      next = { ...next, incidents: withEntry(next.incidents, id, { ...inc, lastAction: key }) };
      const r = ownEntry(next.health?.remediations, d.worker);
      if (r && r.incident === id) {
        next = withHealth(next, (h) => {
          const hw = ownEntry(h.workers, d.worker);
          return {
            ...h,
            remediations: withEntry(h.remediations, d.worker, { ...r, attempts: r.attempts + 1, lastAction: key }),
            workers: hw ? withEntry(h.workers, d.worker, { ...hw, hotSamples: 0, coolSamples: 0 }) : h.workers,
            memory: h.memory && d.policy === "memory" ? { ...h.memory, highSamples: 0 } : h.memory,
          };
        });
      }
      return next;
    }
    case "dec.incident.resolved":
      return settle(s, e.incident, "succeeded", true);
    case "dec.incident.escalated": {
      // Escalation is sticky for the process it gave up on: the record stays, marked, with its pid.
      const d = e.data as DataOf<"dec.incident.escalated">;
      const r = ownEntry(s.health?.remediations, d.worker);
      const next = settle(s, e.incident, "failed", false);
      if (!r || r.incident !== e.incident) return next;
      const pid = ownEntry(next.workers, d.worker)?.pid;
      return withHealth(next, (h) => ({ ...h, remediations: withEntry(h.remediations, d.worker, { ...r, escalated: true, ...(pid ? { pid } : {}) }) }));
    }
    case "out.command.failed":
    case "out.command.rejected":
      return settle(s, e.incident, "failed", false);
    default:
      return s;
  }
}
