import { derivedId, is, restartVerdict, REFLEX_REQUESTER, type VigilEvent } from "@vigil/events";
import { workerOf, type DeciderState } from "@vigil/events";
import { draft, type Draft, type Policy } from "../../core/policy.js";
import { CRASH_RESTART } from "./state.js";

function describeExit(d: { code: number | null; signal: string | null; error?: string; oom?: boolean }): string {
  if (d.error) return `could not start: ${d.error}`;
  if (d.oom) return `was killed by the OOM killer (memory limit reached, exit code ${d.code})`;
  if (d.signal) return `killed by ${d.signal}`;
  return `exited with code ${d.code}`;
}

function coolDownRestart(worker: string, attempt: number, delayMs: number, reason: string, incident: string): Draft[] {
  return [
    draft("dec.remediation.decided", { worker, policy: CRASH_RESTART, action: "restart", attempt, delayMs, reason }, incident),
    draft("cmd.worker.restart", { worker, delayMs, reason, requestedBy: "decider" }, incident),
  ];
}

/**
 * A worker that exits without Vigil asking it to is restarted, with exponential backoff (the first
 * retry immediate). More than maxRestarts inside windowMs is a crash loop: the worker is flapping and
 * the incident escalated (it stays open); with restart.coolDownMs it is retried every coolDownMs
 * (kubelet's 5 min) until a run is stable, without it no more restarts. A worker that stays up
 * stableMs resolves the incident.
 */
export const crashRestart: Policy = {
  name: CRASH_RESTART,
  decide(state: DeciderState, e: VigilEvent, ctx): Draft[] {
    if (is(e, "obs.worker.exited")) {
      if (e.data.expected) return [];
      const name = e.data.worker;
      const w = workerOf(state, name);
      // A crash loop with no cool-down (restart.coolDownMs 0): stopped for good, an operator's turn.
      if (w.status === "flapping" && !w.coolingDown) return [];
      const incident = w.incident ?? e.incident ?? derivedId(e.id, "incident");
      const reason = describeExit(e.data);
      const out: Draft[] = [];
      if (!w.incident) out.push(draft("dec.incident.opened", { worker: name, reason: `${name} ${reason}` }, incident));
      // Degraded mode: the supervisor's reflex already acted on this exit (with the same arithmetic).
      // Record what it did; a command now would restart the worker a second time.
      const verdict = e.data.reflex ?? restartVerdict(w, Date.parse(e.time), ctx.restartPolicy(name));
      // The slow retry after a crash loop (restart.coolDownMs): commanded by the decider, or, when the
      // reflex found the loop, planned by the reflex with the same setting (reflex.ts) and only recorded here.
      const coolDownMs = ctx.restartPolicy(name).coolDownMs;
      const retry: number | undefined = e.data.reflex ? (coolDownMs > 0 ? coolDownMs : undefined) : verdict.action === "escalate" && "retryInMs" in verdict ? Number(verdict.retryInMs) : undefined;
      const local = e.data.reflex ? " by the supervisor's local reflex while the decider was unreachable" : "";
      if (verdict.action === "escalate") {
        out.push(
          draft(
            "dec.incident.escalated",
            {
              worker: name,
              reason: `crash loop: ${name} ${reason} after ${verdict.restarts} restarts within ${verdict.windowMs} ms; ${retry ? `retrying every ${retry} ms (restart.coolDownMs) until a run is stable` : "restarts stopped"}${local}`,
              restarts: verdict.restarts,
              windowMs: verdict.windowMs,
            },
            incident,
          ),
        );
        // The incident stays open; the cool-down retry's delay travels in the command (the decider has no clock).
        if (retry && e.data.reflex) {
          const note = `${reason}; cool-down retry in ${retry} ms by the supervisor's local reflex while degraded`;
          out.push(draft("dec.remediation.decided", { worker: name, policy: CRASH_RESTART, action: "restart", attempt: w.attempt, delayMs: retry, reason: note, handledBy: REFLEX_REQUESTER }, incident));
        } else if (retry) out.push(...coolDownRestart(name, w.attempt, retry, `${reason}; cool-down retry after the crash-loop escalation`, incident));
        return out;
      }
      if ("coolDown" in verdict && verdict.coolDown && !e.data.reflex) return [...out, ...coolDownRestart(name, verdict.attempt, verdict.delayMs, `${reason}; cool-down retry failed, next in ${verdict.delayMs} ms`, incident)];
      const { attempt, delayMs } = verdict;
      if (e.data.reflex) {
        const note = `${reason}; restarted locally by the supervisor while degraded`;
        out.push(draft("dec.remediation.decided", { worker: name, policy: CRASH_RESTART, action: "restart", attempt, delayMs, reason: note, handledBy: REFLEX_REQUESTER }, incident));
        return out;
      }
      out.push(draft("dec.remediation.decided", { worker: name, policy: CRASH_RESTART, action: "restart", attempt, delayMs, reason }, incident));
      out.push(draft("cmd.worker.restart", { worker: name, delayMs, reason, requestedBy: "decider" }, incident));
      return out;
    }
    if (is(e, "obs.worker.stable")) {
      const w = workerOf(state, e.data.worker);
      if (w.incident && w.pid === e.data.pid && w.status === "running") {
        return [draft("dec.incident.resolved", { worker: e.data.worker, reason: `${e.data.worker} up ${e.data.uptimeMs} ms after ${w.attempt} restart(s)` }, w.incident)];
      }
    }
    return [];
  },
};
