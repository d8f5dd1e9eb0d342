import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { eventName, makeEvent, parseConfig, type DataInput, type EventName, type VigilEvent } from "@vigil/events";
import { createDecider, replay } from "./decider.js";
import { backoffDelay } from "./backoff.js";

const config = parseConfig(
  { device: "d", workers: [{ name: "sensor", command: "x", restart: { backoffBaseMs: 100, backoffFactor: 2, backoffCapMs: 1000, maxRestarts: 3, windowMs: 10_000, stableMs: 5_000 } }] },
  { env: {} },
);
const decider = createDecider(config);
let clock = Date.parse("2026-01-01T00:00:00Z");
let n = 0;
function at<N extends EventName>(ms: number, name: N, data: DataInput<N>, incident?: string): VigilEvent {
  return makeEvent("d", "test", name, data, { id: `e${++n}`, time: new Date(clock + ms).toISOString(), incident });
}
const exited = (ms: number, pid = 10) => at(ms, "obs.worker.exited", { worker: "sensor", pid, code: null, signal: "SIGKILL", expected: false, uptimeMs: 5 });
const restarted = (ms: number, pid: number) => at(ms, "out.worker.restarted", { worker: "sensor", command: "c", requestedBy: "decider", pid });

/** given events (folded through the decider, its own decisions included) / when one more / then these decisions. */
function given(...history: VigilEvent[]) {
  const { state } = replay(decider, history);
  return {
    when(e: VigilEvent) {
      const decisions = decider.decide(state, e);
      return { decisions, names: decisions.map((d) => eventName(d)), state: decider.step(state, e).state };
    },
  };
}

describe("crash-restart policy", () => {
  it("given a running worker, when it is killed, then an incident opens and it is restarted at once", () => {
    const { names, decisions } = given(at(0, "obs.worker.started", { worker: "sensor", pid: 10, command: "x" })).when(exited(1000));
    assert.deepEqual(names, ["dec.incident.opened", "dec.remediation.decided", "cmd.worker.restart"]);
    const cmd = decisions[2]!;
    assert.equal((cmd.data as { delayMs: number }).delayMs, 0);
    assert.equal((cmd.data as { requestedBy: string }).requestedBy, "decider");
    const incident = decisions[0]!.incident;
    assert.ok(incident);
    assert.ok(decisions.every((d) => d.incident === incident && d.causation === "e" + (n)), "one incident, caused by the exit");
    assert.equal(cmd.time, new Date(clock + 1000).toISOString(), "decisions carry the time of their cause (no clock)");
  });

  it("adopts the incident id the observation carries, so the exit and its remediation share it", () => {
    const e = at(0, "obs.worker.exited", { worker: "sensor", pid: 1, code: 1, signal: null, expected: false, uptimeMs: 1 }, "inc-from-supervisor");
    const { decisions } = given().when(e);
    assert.ok(decisions.every((d) => d.incident === "inc-from-supervisor"));
  });

  it("given repeated crashes, then the delay backs off exponentially up to the cap", () => {
    let h: VigilEvent[] = [at(0, "obs.worker.started", { worker: "sensor", pid: 1, command: "x" })];
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      const e = exited(100 * i, i + 1);
      const { decisions } = given(...h).when(e);
      const cmd = decisions.find((d) => eventName(d) === "cmd.worker.restart");
      delays.push((cmd?.data as { delayMs: number }).delayMs);
      h = [...h, e, restarted(100 * i + 1, i + 2)];
    }
    assert.deepEqual(delays, [0, 100, 200]);
    assert.equal(backoffDelay(10, { backoffBaseMs: 100, backoffFactor: 2, backoffCapMs: 1000 }), 1000);
  });

  it("given maxRestarts restarts inside the window, when it crashes again, then it is flapping and the incident escalated, with no restart", () => {
    const h: VigilEvent[] = [at(0, "obs.worker.started", { worker: "sensor", pid: 1, command: "x" })];
    for (let i = 0; i < 3; i++) h.push(exited(100 * i + 10, i + 1), restarted(100 * i + 20, i + 2));
    const { names, decisions, state } = given(...h).when(exited(500, 4));
    assert.deepEqual(names, ["dec.incident.escalated"]);
    assert.match((decisions[0]!.data as { reason: string }).reason, /crash loop.*3 restarts within 10000 ms/);
    assert.equal(state.workers.sensor?.status, "flapping");
    assert.equal(Object.values(state.incidents)[0]?.status, "escalated");
    // And a flapping worker that exits again does not start a storm.
    assert.deepEqual(given(...h, exited(500, 4)).when(exited(600, 5)).names, []);
  });

  it("given restarts that fall out of the window, then it keeps restarting", () => {
    const h: VigilEvent[] = [at(0, "obs.worker.started", { worker: "sensor", pid: 1, command: "x" })];
    for (let i = 0; i < 3; i++) h.push(exited(100 * i + 10, i + 1), restarted(100 * i + 20, i + 2));
    assert.ok(given(...h).when(exited(20_000, 4)).names.includes("cmd.worker.restart"));
  });

  it("given a restarted worker, when it has been up stableMs, then the incident is resolved and the backoff resets", () => {
    const h = [at(0, "obs.worker.started", { worker: "sensor", pid: 1, command: "x" }), exited(10, 1), restarted(20, 2), exited(30, 2), restarted(140, 3)];
    const { names, state } = given(...h).when(at(5200, "obs.worker.stable", { worker: "sensor", pid: 3, uptimeMs: 5000 }));
    assert.deepEqual(names, ["dec.incident.resolved"]);
    assert.equal(state.workers.sensor?.attempt, 0);
    assert.equal(state.workers.sensor?.incident, undefined);
    const next = given(...h, at(5200, "obs.worker.stable", { worker: "sensor", pid: 3, uptimeMs: 5000 })).when(exited(6000, 3));
    assert.equal((next.decisions.find((d) => eventName(d) === "cmd.worker.restart")?.data as { delayMs: number }).delayMs, 0);
  });

  it("when a worker exits because Vigil stopped it, then nothing is decided", () => {
    const e = at(0, "obs.worker.exited", { worker: "sensor", pid: 1, code: 0, signal: null, expected: true, uptimeMs: 9 });
    assert.deepEqual(given().when(e).names, []);
  });

  it("decides the same thing, with the same ids, every time (replay)", () => {
    const h = [at(0, "obs.worker.started", { worker: "sensor", pid: 1, command: "x" }), exited(10, 1), restarted(20, 2), exited(30, 2)];
    const a = replay(decider, h).decisions;
    const b = replay(decider, h).decisions;
    assert.ok(a.length > 0);
    assert.deepEqual(a, b);
  });
});
