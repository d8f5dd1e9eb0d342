import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { eventName, type VigilEvent } from "@vigil/events";
import { scenario } from "./given.test-helper.js";

const { at, given, started, sample, dataOf } = scenario({
  workers: [
    { name: "logger", command: "x", priority: 5 },
    { name: "control", command: "x", essential: true },
    { name: "uploader", command: "x", priority: 1 },
  ],
});
const crossed = (ms: number, value = 80) => at(ms, "obs.health.threshold.crossed", { metric: "temperature", value, above: 75, recoverBelow: 70 });
const recovered = (ms: number, value = 50) => at(ms, "obs.health.threshold.recovered", { metric: "temperature", value, above: 75, recoverBelow: 70 });
const boot = [started(0, "logger", 11), started(0, "control", 12), started(0, "uploader", 13)];
const workersOf = (ds: VigilEvent[], name: string) => ds.filter((d) => eventName(d) === name).map((d) => dataOf<{ worker: string }>(d).worker);

describe("overheat policy", () => {
  it("given running workers, when the temperature crosses its threshold, then non-essential ones are paused lowest priority first, as one incident", () => {
    const { decisions, names } = given(...boot).when(crossed(1000));
    assert.equal(names[0], "dec.incident.opened");
    assert.deepEqual(workersOf(decisions, "cmd.worker.pause"), ["uploader", "logger"]);
    assert.ok(!workersOf(decisions, "cmd.worker.pause").includes("control"), "essential never paused");
    const incident = decisions[0]!.incident;
    assert.ok(decisions.every((d) => d.incident === incident));
    assert.ok(decisions.filter((d) => eventName(d)?.startsWith("cmd.")).every((d) => dataOf<{ requestedBy: string }>(d).requestedBy === "decider"));
  });

  it("given an overheat, when the temperature crosses again, then nothing more is decided", () => {
    const h = given(...boot, crossed(1000));
    assert.deepEqual(given(...h.history).when(crossed(2000, 85)).names, []);
  });

  it("given paused workers, when the temperature recovers, then exactly those are resumed (highest priority first) and the incident resolved", () => {
    const cross = crossed(1000);
    const h0 = given(...boot).when(cross);
    const paused = h0.decisions.filter((d) => eventName(d) === "cmd.worker.pause");
    const outcomes = paused.map((c, i) => at(1100 + i, "out.worker.paused", { worker: dataOf<{ worker: string }>(c).worker, command: c.id, requestedBy: "decider" }, c.incident));
    const { decisions, names, state } = given(...boot, cross, ...outcomes).when(recovered(5000));
    assert.deepEqual(workersOf(decisions, "cmd.worker.resume"), ["logger", "uploader"]);
    assert.equal(names.at(-1), "dec.incident.resolved");
    assert.equal(decisions.at(-1)!.incident, h0.decisions[0]!.incident);
    assert.equal(state.health?.overheat, undefined);
    assert.equal(state.outcomes?.["overheat/pause"]?.succeeded, 1, "a pause that let the device cool counts as a success");
  });

  it("given an overheat, when a sample below the recovery line arrives (the health service restarted and lost its hysteresis), then the workers are resumed too", () => {
    const { names } = given(...boot, crossed(1000)).when(sample(3000, { tempC: 65 }));
    assert.deepEqual(names.filter((n) => n === "cmd.worker.resume").length, 2);
    assert.deepEqual(given(...boot, crossed(1000)).when(sample(3000, { tempC: 72 })).names, [], "between the lines: still hot");
  });

  it("given an overheat, when a non-essential worker is restarted, then it is paused again in the same incident; an essential one is left alone", () => {
    const cross = crossed(1000);
    const h = given(...boot).when(cross);
    const incident = h.decisions[0]!.incident;
    const r = given(...boot, cross).when(at(2000, "out.worker.restarted", { worker: "logger", command: "c", requestedBy: "decider", pid: 21 }));
    assert.deepEqual(workersOf(r.decisions, "cmd.worker.pause"), ["logger"]);
    assert.equal(r.decisions[0]!.incident, incident);
    assert.deepEqual(given(...boot, crossed(1000)).when(at(2000, "out.worker.restarted", { worker: "control", command: "c", requestedBy: "decider", pid: 22 })).names, []);
  });

  it("given only essential workers, when it overheats, then nothing is paused", () => {
    const { names } = given(started(0, "control", 12)).when(crossed(1000));
    assert.deepEqual(names, []);
  });
});
