import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { eventName, is, type DataInput, type VigilEvent } from "@vigil/events";
import { replay } from "../../core/decider.js";
import { decision, matching, scenario } from "../../core/given.test-helper.js";

// Degraded mode (docs/degraded-mode.md): exits the supervisor's reflex already handled are recorded, not re-commanded.
const { decider, at, given, started } = scenario({
  // coolDownMs 0: a crash loop stops restarts for good (cool-down.unit.test.ts has the retries).
  workers: [{ name: "sensor", command: "x", restart: { backoffBaseMs: 100, backoffFactor: 2, backoffCapMs: 1000, maxRestarts: 3, windowMs: 10_000, stableMs: 5_000, coolDownMs: 0 } }],
});
type Reflex = NonNullable<DataInput<"obs.worker.exited">["reflex"]>;
const exited = (ms: number, pid: number, reflex?: Reflex, incident?: string) =>
  at(ms, "obs.worker.exited", { worker: "sensor", pid, code: null, signal: "SIGKILL", expected: false, uptimeMs: 5, ...(reflex ? { reflex } : {}) }, incident);
const restarted = (ms: number, pid: number, requestedBy: string, incident?: string) => at(ms, "out.worker.restarted", { worker: "sensor", command: `c${pid}`, requestedBy, pid }, incident);
const local = (attempt: number, delayMs: number): Reflex => ({ action: "restart", attempt, delayMs });

describe("degraded mode: the decider records what the supervisor's reflex did", () => {
  it("given a running worker, when an exit the reflex restarted arrives, then the incident opens and the restart is recorded with no command", () => {
    // The supervisor's incident id is kept (a literal incident, not a placeholder).
    given(started(0, "sensor", 1))
      .when(exited(1000, 1, local(0, 0), "inc-1"))
      .then([
        decision("dec.incident.opened", { worker: "sensor", reason: "sensor killed by SIGKILL" }, "inc-1"),
        decision(
          "dec.remediation.decided",
          { worker: "sensor", policy: "crash-restart", action: "restart", attempt: 0, delayMs: 0, reason: matching(/restarted locally by the supervisor while degraded/), handledBy: "supervisor-reflex" },
          "inc-1",
        ),
      ]);
  });

  it("given the reflex restart and its outcome, when the new run is stable, then the incident is resolved", () => {
    const h = [started(0, "sensor", 1), exited(1000, 1, local(0, 0), "inc-2"), restarted(1010, 2, "supervisor-reflex", "inc-2")];
    const { names, decisions } = given(...h).when(at(7000, "obs.worker.stable", { worker: "sensor", pid: 2, uptimeMs: 5000 }, "inc-2"));
    assert.deepEqual(names, ["dec.incident.resolved"]);
    assert.equal(decisions[0]!.incident, "inc-2");
  });

  it("given reflex restarts inside the window, when the decider is back and the worker crashes again, then they count toward the crash-loop breaker", () => {
    const h: VigilEvent[] = [started(0, "sensor", 1)];
    for (let i = 0; i < 3; i++) h.push(exited(100 * i + 10, i + 1, local(i, [0, 100, 200][i]!)), restarted(100 * i + 20, i + 2, "supervisor-reflex"));
    const { names } = given(...h).when(exited(500, 4));
    assert.deepEqual(names, ["dec.incident.escalated"], "no fourth restart: the reflex's three count like the decider's");
  });

  it("given one reflex restart, when the decider restarts the next crash, then its backoff continues from the reflex's attempt", () => {
    const h = [started(0, "sensor", 1), exited(10, 1, local(0, 0)), restarted(20, 2, "supervisor-reflex")];
    const { decisions } = given(...h).when(exited(30, 2));
    const cmd = decisions.find((d) => is(d, "cmd.worker.restart"));
    assert.ok(cmd && is(cmd, "cmd.worker.restart"));
    assert.equal(cmd.data.delayMs, 100);
  });

  it("given the reflex found a crash loop, when that exit is read, then the incident is escalated, the worker flapping, and nothing is commanded", () => {
    const reason = "crash loop: sensor killed by SIGKILL after 3 restarts within 10000 ms; restarts stopped by the supervisor's local reflex while the decider was unreachable";
    const { state } = given(started(0, "sensor", 1))
      .when(exited(1000, 1, { action: "escalate", restarts: 3, windowMs: 10_000 }))
      .then([
        decision("dec.incident.opened", { worker: "sensor", reason: "sensor killed by SIGKILL" }, "#a"),
        decision("dec.incident.escalated", { worker: "sensor", reason: matching(/crash loop.*3 restarts within 10000 ms; restarts stopped by the supervisor's local reflex/), restarts: 3, windowMs: 10_000 }, "#a"),
      ]);
    assert.match(reason, /while the decider was unreachable$/);
    assert.equal(state.workers.sensor?.status, "flapping");
  });

  it("a replay of the same history reproduces the same decisions, ids included", () => {
    const h = [started(0, "sensor", 1), exited(1000, 1, local(0, 0), "inc-3"), restarted(1010, 2, "supervisor-reflex", "inc-3"), at(7000, "obs.worker.stable", { worker: "sensor", pid: 2, uptimeMs: 5000 }, "inc-3")];
    const a = replay(decider, h).decisions.map((d) => [d.id, d.type, d.incident, d.time]);
    const b = replay(decider, h).decisions.map((d) => [d.id, d.type, d.incident, d.time]);
    assert.deepEqual(a, b);
    assert.equal(a.length, 3);
  });
});
