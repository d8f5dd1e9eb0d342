import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { eventName, type VigilEvent } from "@vigil/events";
import { anyString, decision, matching, scenario } from "../../core/given.test-helper.js";

const { at, given, started } = scenario({ workers: [{ name: "api", command: "x" }] });
const failed = (ms: number, pid = 10, failures = 3) => at(ms, "obs.probe.failed", { worker: "api", pid, probe: "http", failures, failureThreshold: 3, error: "timeout after 200 ms" });
const recovered = (ms: number, pid = 11) => at(ms, "obs.probe.recovered", { worker: "api", pid, probe: "http", successes: 1 });

describe("probe policy", () => {
  it("given a running worker, when its probe reaches failureThreshold, then it is restarted in a new incident", () => {
    const reason = "http probe of api failed 3 times (threshold 3): timeout after 200 ms";
    given(started(0, "api", 10))
      .when(failed(1000))
      .then([
        decision("dec.incident.opened", { worker: "api", reason: matching(/http probe of api failed 3 times/), policy: "probe" }, "#a"),
        decision("dec.remediation.decided", { worker: "api", policy: "probe", action: "restart", attempt: 0, delayMs: 0, reason }, "#a"),
        decision("cmd.worker.restart", { worker: "api", delayMs: 0, reason, requestedBy: "decider" }, "#a"),
      ]);
  });

  it("ignores a failure report about an earlier process, and about a paused worker", () => {
    given(started(0, "api", 10)).when(failed(1000, 9)).thenNothing();
    const paused = at(500, "out.worker.paused", { worker: "api", command: "c", requestedBy: "op" });
    given(started(0, "api", 10), paused).when(failed(1000)).thenNothing();
  });

  it("given a restart, when the probe recovers, then the incident is resolved", () => {
    const boot = started(0, "api", 10);
    const f = failed(1000);
    const d = given(boot).when(f).decisions;
    const cmd = d.find((x) => eventName(x) === "cmd.worker.restart")!;
    const h = [boot, f, at(1100, "out.worker.restarted", { worker: "api", command: cmd.id, requestedBy: "decider", pid: 11 }, cmd.incident)];
    const { state } = given(...h)
      .when(recovered(3000))
      .then([decision("dec.incident.resolved", { worker: "api", reason: "http probe of api passes again (1 in a row)" }, cmd.incident)]);
    assert.equal(state.incidents[cmd.incident!]?.status, "resolved");
    assert.equal(state.workers.api?.incident, undefined, "a probe incident is not the worker's crash incident");
  });

  it("given a restart the probe still fails after, then each further report restarts again until maxAttempts, then the worker is stopped and the incident escalated", () => {
    let h: VigilEvent[] = [started(0, "api", 10)];
    let pid = 10;
    for (let i = 0; i < 4; i++) {
      const f = failed(1000 * (i + 1), pid, 3 * (i + 1));
      const outcome = given(...h).when(f);
      const incident = i === 0 ? "#a" : h.find((e) => e.incident)!.incident;
      if (i < 3) {
        outcome.then([
          ...(i === 0 ? [decision("dec.incident.opened", { worker: "api", reason: anyString, policy: "probe" }, incident)] : []),
          decision("dec.remediation.decided", { worker: "api", policy: "probe", action: "restart", attempt: i, delayMs: 0, reason: anyString }, incident),
          decision("cmd.worker.restart", { worker: "api", delayMs: 0, reason: anyString, requestedBy: "decider" }, incident),
        ]);
      } else {
        const reason = matching(/3 restart\(s\) did not fix it: stopping api$/);
        outcome.then([
          decision("dec.remediation.decided", { worker: "api", policy: "probe", action: "stop", attempt: 3, delayMs: 0, reason }, incident),
          decision("cmd.worker.stop", { worker: "api", delayMs: 0, reason, requestedBy: "decider" }, incident),
          decision("dec.incident.escalated", { worker: "api", reason, restarts: 3, windowMs: 0 }, incident),
        ]);
      }
      const cmd = outcome.decisions.find((x) => eventName(x)?.startsWith("cmd."))!;
      h = [...h, f, at(1000 * (i + 1) + 100, "out.worker.restarted", { worker: "api", command: cmd.id, requestedBy: "decider", pid: ++pid }, cmd.incident)];
    }
  });
});
