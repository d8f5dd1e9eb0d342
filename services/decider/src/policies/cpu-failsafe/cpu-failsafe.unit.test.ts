import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { eventName, type VigilEvent } from "@vigil/events";
import { decision, matching, scenario } from "../../core/given.test-helper.js";

const workers = [{ name: "spinner", command: "x" }, { name: "quiet", command: "x" }];
const { at, given, started, sample } = scenario({ workers, policies: { cpu: { thresholdPct: 90, consecutiveSamples: 3 } } });
const hot = (ms: number, pid = 10, cpu = 99) => sample(ms, { workers: [["spinner", pid, cpu], ["quiet", 20, 1]] });

describe("cpu-failsafe policy", () => {
  it("given a worker above the threshold for two samples, when the third arrives, then an incident opens and it is restarted", () => {
    const h = [started(0, "spinner", 10), started(0, "quiet", 20), hot(1000), hot(2000)];
    given(...h.slice(0, 3)).when(hot(2000)).thenNothing(); // two samples are not enough
    const reason = "spinner (pid 10) used 99 % CPU (≥ 90 %) for 3 samples: restart";
    given(...h)
      .when(hot(3000))
      .then([
        decision("dec.incident.opened", { worker: "spinner", reason, policy: "cpu-failsafe" }, "#a"),
        decision("dec.remediation.decided", { worker: "spinner", policy: "cpu-failsafe", action: "restart", attempt: 0, delayMs: 0, reason: matching(/99 % CPU .* for 3 samples/) }, "#a"),
        decision("cmd.worker.restart", { worker: "spinner", delayMs: 0, reason, requestedBy: "decider" }, "#a"),
      ]);
  });

  it("given a streak interrupted by a cool sample, then it starts over", () => {
    const h = [started(0, "spinner", 10), hot(1000), hot(2000), hot(2500, 10, 5)];
    given(...h).when(hot(3000)).thenNothing();
  });

  it("never acts on a process it does not manage: an undeclared name, or a pid that is not the worker's current one", () => {
    const stranger = (ms: number) => sample(ms, { workers: [["stranger", 99, 100]] });
    given(started(0, "spinner", 10), stranger(1), stranger(2)).when(stranger(3)).thenNothing();
    const oldPid = (ms: number) => hot(ms, 9);
    given(started(0, "spinner", 10), oldPid(1), oldPid(2)).when(oldPid(3)).thenNothing();
  });

  it("given kill is configured, then it kills instead, and the kill's outcome resolves the incident", () => {
    const s = scenario({ workers, policies: { cpu: { action: "kill", consecutiveSamples: 2 } } });
    const h = [s.started(0, "spinner", 10), s.sample(1, { workers: [["spinner", 10, 100]] })];
    const trigger = s.sample(2, { workers: [["spinner", 10, 100]] });
    const reason = "spinner (pid 10) used 100 % CPU (≥ 90 %) for 2 samples: kill";
    const { decisions } = s
      .given(...h)
      .when(trigger)
      .then([
        decision("dec.incident.opened", { worker: "spinner", reason, policy: "cpu-failsafe" }, "#a"),
        decision("dec.remediation.decided", { worker: "spinner", policy: "cpu-failsafe", action: "kill", attempt: 0, delayMs: 0, reason }, "#a"),
        decision("cmd.worker.kill", { worker: "spinner", delayMs: 0, reason, requestedBy: "decider", signal: "SIGKILL" }, "#a"),
      ]);
    const killed = s.at(3, "out.worker.killed", { worker: "spinner", command: decisions[2]!.id, requestedBy: "decider" }, decisions[2]!.incident);
    s.given(...h, trigger)
      .when(killed)
      .then([decision("dec.incident.resolved", { worker: "spinner", reason: "spinner killed; it stays stopped until an operator starts it" }, decisions[2]!.incident)]);
  });

  it("given a restarted worker, when its new process stays cool for consecutiveSamples, then the incident is resolved and the restart counted a success", () => {
    const h0 = [started(0, "spinner", 10), hot(1), hot(2)];
    const third = hot(3);
    const d = given(...h0).when(third).decisions;
    const cmd = d.find((x) => eventName(x) === "cmd.worker.restart")!;
    const h = [...h0, third, at(4, "out.worker.restarted", { worker: "spinner", command: cmd.id, requestedBy: "decider", pid: 11 }, cmd.incident), hot(5, 11, 3), hot(6, 11, 3)];
    const { state } = given(...h)
      .when(hot(7, 11, 3))
      .then([decision("dec.incident.resolved", { worker: "spinner", reason: "spinner CPU at 3 % (below 90 %) for 3 samples" }, cmd.incident)]);
    assert.deepEqual(state.outcomes?.["cpu-failsafe/restart"], { attempts: 1, succeeded: 1, failed: 0 });
  });

  it("given restarts that keep failing (maxAttempts), when it spins again, then it is stopped and the incident escalated", () => {
    const s = scenario({ workers, policies: { cpu: { consecutiveSamples: 1 }, escalation: { maxAttempts: 2 } } });
    let h: VigilEvent[] = [s.started(0, "spinner", 10)];
    let pid = 10;
    const actions: string[] = [];
    for (let i = 0; i < 3; i++) {
      const e = s.sample(i * 10 + 1, { workers: [["spinner", pid, 100]] });
      const r = s.given(...h).when(e);
      actions.push(r.names.filter((n) => n?.startsWith("cmd.") || n === "dec.incident.escalated").join("+"));
      const cmd = r.decisions.find((x) => eventName(x)?.startsWith("cmd."))!;
      h = [...h, e, s.at(i * 10 + 2, "out.worker.restarted", { worker: "spinner", command: cmd.id, requestedBy: "decider", pid: ++pid }, cmd.incident)];
      if (i === 2) {
        const { state } = s.given(...h.slice(0, -1));
        assert.equal(state.outcomes?.["cpu-failsafe/restart"]?.failed, 2, "each restart that did not help counts as a failure");
        assert.equal(Object.values(state.incidents)[0]?.status, "escalated");
      }
    }
    assert.deepEqual(actions, ["cmd.worker.restart", "cmd.worker.restart", "cmd.worker.stop+dec.incident.escalated"]);
  });

  it("given an essential worker that keeps spinning, then escalation raises the incident without stopping it", () => {
    const s = scenario({ workers: [{ name: "spinner", command: "x", essential: true }], policies: { cpu: { consecutiveSamples: 1 }, escalation: { maxAttempts: 1 } } });
    const e1 = s.sample(1, { workers: [["spinner", 10, 100]] });
    const cmd = s.given(s.started(0, "spinner", 10)).when(e1).decisions.find((x) => eventName(x) === "cmd.worker.restart")!;
    const h = [s.started(0, "spinner", 10), e1, s.at(2, "out.worker.restarted", { worker: "spinner", command: cmd.id, requestedBy: "decider", pid: 11 }, cmd.incident)];
    s.given(...h)
      .when(s.sample(3, { workers: [["spinner", 11, 100]] }))
      .then([
        decision(
          "dec.incident.escalated",
          { worker: "spinner", reason: "spinner (pid 11) used 100 % CPU (≥ 90 %) for 1 samples: restart; 1 restart(s) did not fix it: essential worker left running, operator needed", restarts: 1, windowMs: 0 },
          cmd.incident,
        ),
      ]);
  });
});

describe("cpu-failsafe escalation and crashes", () => {
  it("given an escalated health incident of an essential worker, when it later crashes, then crash-restart still restarts it", () => {
    const s = scenario({ workers: [{ name: "spinner", command: "x", essential: true }], policies: { cpu: { consecutiveSamples: 1 }, escalation: { maxAttempts: 1 } } });
    const e1 = s.sample(1, { workers: [["spinner", 10, 100]] });
    const cmd = s.given(s.started(0, "spinner", 10)).when(e1).decisions.find((x) => eventName(x) === "cmd.worker.restart")!;
    const h = [s.started(0, "spinner", 10), e1, s.at(2, "out.worker.restarted", { worker: "spinner", command: cmd.id, requestedBy: "decider", pid: 11 }, cmd.incident), s.sample(3, { workers: [["spinner", 11, 100]] })];
    assert.equal(s.given(...h).state.workers.spinner?.status, "running", "not marked flapping");
    const crash = s.at(4, "obs.worker.exited", { worker: "spinner", pid: 11, code: 1, signal: null, expected: false, uptimeMs: 5 });
    assert.ok(s.given(...h).when(crash).names.includes("cmd.worker.restart"));
  });
});

describe("cpu-failsafe after an escalation", () => {
  it("given an escalated essential worker still spinning, then nothing more is decided for that process; a new process starts over", () => {
    const s = scenario({ workers: [{ name: "spinner", command: "x", essential: true }], policies: { cpu: { consecutiveSamples: 1 }, escalation: { maxAttempts: 1 } } });
    const e1 = s.sample(1, { workers: [["spinner", 10, 100]] });
    const cmd = s.given(s.started(0, "spinner", 10)).when(e1).decisions.find((x) => eventName(x) === "cmd.worker.restart")!;
    const h = [s.started(0, "spinner", 10), e1, s.at(2, "out.worker.restarted", { worker: "spinner", command: cmd.id, requestedBy: "decider", pid: 11 }, cmd.incident), s.sample(3, { workers: [["spinner", 11, 100]] })];
    s.given(...h).when(s.sample(4, { workers: [["spinner", 11, 100]] })).thenNothing(); // given up on pid 11: no restart loop
    const operator = s.at(5, "out.worker.restarted", { worker: "spinner", command: "op", requestedBy: "alice", pid: 12 });
    const reason = "spinner (pid 12) used 100 % CPU (≥ 90 %) for 1 samples: restart";
    const learned = "; learned: cpu-failsafe/restart fixed it 0 of 1 times"; // the escalated restart counted as a failure
    s.given(...h, operator)
      .when(s.sample(6, { workers: [["spinner", 12, 100]] }))
      .then([
        decision("dec.incident.opened", { worker: "spinner", reason, policy: "cpu-failsafe" }, "#new"),
        decision("dec.remediation.decided", { worker: "spinner", policy: "cpu-failsafe", action: "restart", attempt: 0, delayMs: 0, reason: `${reason}${learned}` }, "#new"),
        decision("cmd.worker.restart", { worker: "spinner", delayMs: 0, reason: `${reason}${learned}`, requestedBy: "decider" }, "#new"),
      ]);
    assert.notEqual(s.given(...h, operator).when(s.sample(6, { workers: [["spinner", 12, 100]] })).decisions[0]!.incident, cmd.incident, "a new process starts a new incident");
  });
});
