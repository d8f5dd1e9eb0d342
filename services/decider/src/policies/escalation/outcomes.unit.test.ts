import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { eventName } from "@vigil/events";
import { decision, matching, scenario } from "../../core/given.test-helper.js";

describe("outcome tracking (success rate per policy and action)", () => {
  it("given a restart whose command fails, then it counts as a failure, and a low learned rate escalates on the next attempt", () => {
    const s = scenario({ workers: [{ name: "api", command: "x" }], policies: { escalation: { maxAttempts: 10, minSuccessRate: 0.5, minHistory: 1 } } });
    const f = (ms: number, pid: number) => s.at(ms, "obs.probe.failed", { worker: "api", pid, probe: "tcp", failures: 3, failureThreshold: 3, error: "ECONNREFUSED" });
    const boot = s.started(0, "api", 10);
    const f1 = f(1, 10);
    const first = s.given(boot).when(f1);
    const cmd = first.decisions.find((x) => eventName(x) === "cmd.worker.restart")!;
    const failedOutcome = s.at(2, "out.command.failed", { command: cmd.id, action: "restart", worker: "api", error: "spawn ENOENT" }, cmd.incident);
    assert.deepEqual(s.given(boot, f1, failedOutcome).state.outcomes?.["probe/restart"], { attempts: 1, succeeded: 0, failed: 1 });
    // An operator starts it again; its probe fails again.
    const g = s.given(boot, f1, failedOutcome, s.at(3, "out.worker.started", { worker: "api", command: "op", requestedBy: "operator", pid: 11 }));
    // Escalates when restart has worked 0 % of the time (the incident, still open, is the first one).
    const reason = matching(/succeeds only 0 % of the time \(below 50 %\): stopping api$/);
    g.when(f(4, 11)).then([
      decision("dec.remediation.decided", { worker: "api", policy: "probe", action: "stop", attempt: 1, delayMs: 0, reason }, cmd.incident),
      decision("cmd.worker.stop", { worker: "api", delayMs: 0, reason, requestedBy: "decider" }, cmd.incident),
      decision("dec.incident.escalated", { worker: "api", reason, restarts: 1, windowMs: 0 }, cmd.incident),
    ]);
  });

  it("keeps crash-restart outcomes too: a crash after a restart blames it, a stable run credits it", () => {
    const s = scenario({ workers: [{ name: "w", command: "x" }] });
    const exit = (ms: number, pid: number) => s.at(ms, "obs.worker.exited", { worker: "w", pid, code: 1, signal: null, expected: false, uptimeMs: 1 });
    const h = [s.started(0, "w", 1), exit(1, 1), s.at(2, "out.worker.restarted", { worker: "w", command: "c1", requestedBy: "decider", pid: 2 }), exit(3, 2), s.at(4, "out.worker.restarted", { worker: "w", command: "c2", requestedBy: "decider", pid: 3 })];
    const { state } = s.given(...h).when(s.at(20_000, "obs.worker.stable", { worker: "w", pid: 3, uptimeMs: 10_000 }));
    assert.deepEqual(state.outcomes?.["crash-restart/restart"], { attempts: 2, succeeded: 1, failed: 1 });
  });
});
