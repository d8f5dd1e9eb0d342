import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { openIncidents, type VigilEvent } from "@vigil/events";
import { replay } from "../../core/decider.js";
import { decision, matching, scenario } from "../../core/given.test-helper.js";

// Escalations that recover (issue 14): after a crash loop, a slow retry every restart.coolDownMs.
const { decider, at, given, started } = scenario({
  workers: [{ name: "sensor", command: "x", restart: { backoffBaseMs: 100, backoffFactor: 2, backoffCapMs: 1000, maxRestarts: 3, windowMs: 10_000, stableMs: 5_000, coolDownMs: 60_000 } }],
});
const exited = (ms: number, pid: number) => at(ms, "obs.worker.exited", { worker: "sensor", pid, code: 1, signal: null, expected: false, uptimeMs: 5 });
const restarted = (ms: number, pid: number) => at(ms, "out.worker.restarted", { worker: "sensor", command: `c${pid}`, requestedBy: "decider", pid });

/** Started, then three crashes each restarted: the fourth crash is a crash loop. */
function crashLoop(): VigilEvent[] {
  const h: VigilEvent[] = [started(0, "sensor", 1)];
  for (let i = 0; i < 3; i++) h.push(exited(100 * i + 10, i + 1), restarted(100 * i + 20, i + 2));
  return h;
}

describe("crash-restart: cool-down retries after an escalation", () => {
  it("given a crash loop, when it crashes again, then the incident is escalated and stays open, and one retry is commanded after coolDownMs", () => {
    const h = crashLoop();
    const incident = replay(decider, h).state.workers.sensor!.incident!;
    const reason = "exited with code 1; cool-down retry after the crash-loop escalation";
    const { state } = given(...h)
      .when(exited(500, 4))
      .then([
        decision("dec.incident.escalated", { worker: "sensor", reason: matching(/crash loop.*retrying every 60000 ms \(restart.coolDownMs\)/), restarts: 3, windowMs: 10_000 }, incident),
        decision("dec.remediation.decided", { worker: "sensor", policy: "crash-restart", action: "restart", attempt: 3, delayMs: 60_000, reason }, incident),
        decision("cmd.worker.restart", { worker: "sensor", delayMs: 60_000, reason, requestedBy: "decider" }, incident),
      ]);
    assert.equal(state.workers.sensor?.coolingDown, true);
    assert.equal(state.workers.sensor?.incident, incident, "the escalated incident stays the worker's");
    assert.deepEqual(openIncidents(state).map((i) => [i.id, i.status]), [[incident, "escalated"]], "vigil status lists it as open");
  });

  it("given a cool-down retry, when it fails again, then the next retry waits coolDownMs again, in the same incident, with no new escalation", () => {
    const h = [...crashLoop(), exited(500, 4)];
    const incident = replay(decider, h).state.workers.sensor!.incident!;
    const reason = "exited with code 1; cool-down retry failed, next in 60000 ms";
    given(...h, restarted(60_500, 5))
      .when(exited(60_510, 5))
      .then([
        decision("dec.remediation.decided", { worker: "sensor", policy: "crash-restart", action: "restart", attempt: 4, delayMs: 60_000, reason }, incident),
        decision("cmd.worker.restart", { worker: "sensor", delayMs: 60_000, reason, requestedBy: "decider" }, incident),
      ]);
  });

  it("given a cool-down retry whose dependency came back, when the run is stable, then the escalated incident is resolved and the cool-down ends", () => {
    const h = [...crashLoop(), exited(500, 4), restarted(60_500, 5)];
    const incident = replay(decider, h).state.workers.sensor!.incident!;
    const { state } = given(...h)
      .when(at(65_500, "obs.worker.stable", { worker: "sensor", pid: 5, uptimeMs: 5000 }))
      .then([decision("dec.incident.resolved", { worker: "sensor", reason: "sensor up 5000 ms after 4 restart(s)" }, incident)]);
    assert.equal(state.workers.sensor?.coolingDown, undefined);
    assert.equal(openIncidents(state).length, 0);
    assert.equal(state.incidents[incident]?.status, "resolved");
  });

  it("given an escalated incident, when an operator acknowledges it, then it is closed as acknowledged and the retries go on", () => {
    const h = [...crashLoop(), exited(500, 4)];
    const incident = replay(decider, h).state.workers.sensor!.incident!;
    const ack = at(1000, "cmd.incident.ack", { incident, requestedBy: "ops", reason: "PLC is being replaced" });
    const { state } = given(...h)
      .when(ack)
      .then([decision("dec.incident.acknowledged", { worker: "sensor", by: "ops", reason: matching(/acknowledged by ops: PLC is being replaced \(was escalated/) }, incident)]);
    assert.equal(openIncidents(state).length, 0);
    assert.equal(state.incidents[incident]?.acknowledgedBy, "ops");
    assert.ok(given(...h, ack, restarted(60_500, 5)).when(exited(60_510, 5)).names.includes("cmd.worker.restart"), "still retried after the ack");
    // An unknown or already closed incident: nothing.
    given(...h, ack).when(at(1100, "cmd.incident.ack", { incident, requestedBy: "ops" })).thenNothing();
    given(...h).when(at(1100, "cmd.incident.ack", { incident: "no-such", requestedBy: "ops" })).thenNothing();
  });

  it("an operator's ack on the bus is decider input", () => {
    assert.equal(decider.isInput({ subject: "vigil.d.cmd.incident.ack" }), true);
    assert.equal(decider.isInput({ subject: "vigil.d.cmd.worker.restart" }), false);
  });

  it("given the supervisor's reflex found the crash loop while degraded, then the decider records its escalation and its planned retry, commands nothing, and retries itself once back", () => {
    const reflexLoop = at(500, "obs.worker.exited", { worker: "sensor", pid: 4, code: 1, signal: null, expected: false, uptimeMs: 5, reflex: { action: "escalate", restarts: 3, windowMs: 10_000 } });
    const h = crashLoop();
    const incident = replay(decider, h).state.workers.sensor!.incident!;
    const { state } = given(...h)
      .when(reflexLoop)
      .then([
        decision("dec.incident.escalated", { worker: "sensor", reason: matching(/retrying every 60000 ms .* by the supervisor's local reflex/), restarts: 3, windowMs: 10_000 }, incident),
        decision("dec.remediation.decided", { worker: "sensor", policy: "crash-restart", action: "restart", attempt: 3, delayMs: 60_000, reason: matching(/cool-down retry in 60000 ms by the supervisor's local reflex/), handledBy: "supervisor-reflex" }, incident),
      ]);
    assert.equal(state.workers.sensor?.coolingDown, true);
    // The reflex's retry ran and failed again; the decider is back and answers the next exit itself.
    const after = [...h, reflexLoop, at(60_500, "out.worker.restarted", { worker: "sensor", command: "r1", requestedBy: "supervisor-reflex", pid: 5 })];
    assert.ok(given(...after).when(exited(60_510, 5)).names.includes("cmd.worker.restart"));
  });
});
