import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { backoffDelay, is, type VigilEvent } from "@vigil/events";
import { replay } from "../../core/decider.js";
import { decision, matching, scenario } from "../../core/given.test-helper.js";

const { decider, at, given } = scenario({
  // coolDownMs 0: a crash loop stops restarts for good (cool-down.unit.test.ts has the retries).
  workers: [{ name: "sensor", command: "x", restart: { backoffBaseMs: 100, backoffFactor: 2, backoffCapMs: 1000, maxRestarts: 3, windowMs: 10_000, stableMs: 5_000, coolDownMs: 0 } }],
});
const exited = (ms: number, pid = 10) => at(ms, "obs.worker.exited", { worker: "sensor", pid, code: null, signal: "SIGKILL", expected: false, uptimeMs: 5 });
const restarted = (ms: number, pid: number) => at(ms, "out.worker.restarted", { worker: "sensor", command: "c", requestedBy: "decider", pid });
/** The delay of the restart command among `decisions` (undefined: none). */
const restartDelay = (decisions: VigilEvent[]) => decisions.flatMap((d) => (is(d, "cmd.worker.restart") ? [d.data.delayMs] : []))[0];
const restart = (reason: string, attempt: number, delayMs: number, incident: string) => [
  decision("dec.remediation.decided", { worker: "sensor", policy: "crash-restart", action: "restart", attempt, delayMs, reason }, incident),
  decision("cmd.worker.restart", { worker: "sensor", delayMs, reason, requestedBy: "decider" }, incident),
];

describe("crash-restart policy", () => {
  it("given a running worker, when it is killed, then an incident opens and it is restarted at once", () => {
    // One incident; every decision caused by the exit and carrying its time (then() checks the envelopes).
    given(at(0, "obs.worker.started", { worker: "sensor", pid: 10, command: "x" }))
      .when(exited(1000))
      .then([decision("dec.incident.opened", { worker: "sensor", reason: "sensor killed by SIGKILL" }, "#a"), ...restart("killed by SIGKILL", 0, 0, "#a")]);
  });

  it("adopts the incident id the observation carries, so the exit and its remediation share it", () => {
    const e = at(0, "obs.worker.exited", { worker: "sensor", pid: 1, code: 1, signal: null, expected: false, uptimeMs: 1 }, "inc-from-supervisor");
    given()
      .when(e)
      .then([decision("dec.incident.opened", { worker: "sensor", reason: "sensor exited with code 1" }, "inc-from-supervisor"), ...restart("exited with code 1", 0, 0, "inc-from-supervisor")]);
  });

  it("given repeated crashes, then the delay backs off exponentially up to the cap", () => {
    let h: VigilEvent[] = [at(0, "obs.worker.started", { worker: "sensor", pid: 1, command: "x" })];
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      const e = exited(100 * i, i + 1);
      const { decisions } = given(...h).when(e);
      delays.push(restartDelay(decisions)!);
      h = [...h, e, restarted(100 * i + 1, i + 2)];
    }
    assert.deepEqual(delays, [0, 100, 200]);
    assert.equal(backoffDelay(10, { backoffBaseMs: 100, backoffFactor: 2, backoffCapMs: 1000 }), 1000);
  });

  it("given maxRestarts restarts inside the window, when it crashes again, then it is flapping and the incident escalated, with no restart", () => {
    const h: VigilEvent[] = [at(0, "obs.worker.started", { worker: "sensor", pid: 1, command: "x" })];
    for (let i = 0; i < 3; i++) h.push(exited(100 * i + 10, i + 1), restarted(100 * i + 20, i + 2));
    const incident = replay(decider, h).state.workers.sensor!.incident!;
    const { state } = given(...h)
      .when(exited(500, 4))
      .then([decision("dec.incident.escalated", { worker: "sensor", reason: matching(/crash loop.*3 restarts within 10000 ms/), restarts: 3, windowMs: 10_000 }, incident)]);
    assert.equal(state.workers.sensor?.status, "flapping");
    assert.equal(Object.values(state.incidents)[0]?.status, "escalated");
    // And a flapping worker that exits again does not start a storm.
    given(...h, exited(500, 4)).when(exited(600, 5)).thenNothing();
  });

  it("given restarts that fall out of the window, then it keeps restarting", () => {
    const h: VigilEvent[] = [at(0, "obs.worker.started", { worker: "sensor", pid: 1, command: "x" })];
    for (let i = 0; i < 3; i++) h.push(exited(100 * i + 10, i + 1), restarted(100 * i + 20, i + 2));
    assert.ok(given(...h).when(exited(20_000, 4)).names.includes("cmd.worker.restart"));
  });

  it("given a restarted worker, when it has been up stableMs, then the incident is resolved and the backoff resets", () => {
    const h = [at(0, "obs.worker.started", { worker: "sensor", pid: 1, command: "x" }), exited(10, 1), restarted(20, 2), exited(30, 2), restarted(140, 3)];
    const incident = replay(decider, h).state.workers.sensor!.incident!;
    const { state } = given(...h)
      .when(at(5200, "obs.worker.stable", { worker: "sensor", pid: 3, uptimeMs: 5000 }))
      .then([decision("dec.incident.resolved", { worker: "sensor", reason: "sensor up 5000 ms after 2 restart(s)" }, incident)]);
    assert.equal(state.workers.sensor?.attempt, 0);
    assert.equal(state.workers.sensor?.incident, undefined);
    const next = given(...h, at(5200, "obs.worker.stable", { worker: "sensor", pid: 3, uptimeMs: 5000 })).when(exited(6000, 3));
    assert.equal(restartDelay(next.decisions), 0);
  });

  it("when a worker exits because Vigil stopped it, then nothing is decided", () => {
    const e = at(0, "obs.worker.exited", { worker: "sensor", pid: 1, code: 0, signal: null, expected: true, uptimeMs: 9 });
    given().when(e).thenNothing();
  });

  it("decides the same thing, with the same ids, every time (replay)", () => {
    const h = [at(0, "obs.worker.started", { worker: "sensor", pid: 1, command: "x" }), exited(10, 1), restarted(20, 2), exited(30, 2)];
    const a = replay(decider, h).decisions;
    const b = replay(decider, h).decisions;
    assert.ok(a.length > 0);
    assert.deepEqual(a, b);
  });
});
