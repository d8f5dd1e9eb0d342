import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { eventName, is, type VigilEvent } from "@vigil/events";
import { decision, scenario } from "../../core/given.test-helper.js";

const { at, given, started, sample } = scenario({
  workers: [
    { name: "logger", command: "x", priority: 5 },
    { name: "control", command: "x", essential: true },
    { name: "uploader", command: "x", priority: 1 },
  ],
});
const crossed = (ms: number, value = 80) => at(ms, "obs.health.threshold.crossed", { metric: "temperature", value, above: 75, recoverBelow: 70 });
const recovered = (ms: number, value = 50) => at(ms, "obs.health.threshold.recovered", { metric: "temperature", value, above: 75, recoverBelow: 70 });
const boot = [started(0, "logger", 11), started(0, "control", 12), started(0, "uploader", 13)];
const pause = (worker: string, reason: string, incident: string) => [
  decision("dec.remediation.decided", { worker, policy: "overheat", action: "pause", attempt: 0, delayMs: 0, reason }, incident),
  decision("cmd.worker.pause", { worker, delayMs: 0, reason, requestedBy: "decider" }, incident),
];
const resume = (worker: string, reason: string, incident: string) => [
  decision("dec.remediation.decided", { worker, policy: "overheat", action: "resume", attempt: 0, delayMs: 0, reason }, incident),
  decision("cmd.worker.resume", { worker, delayMs: 0, reason, requestedBy: "decider" }, incident),
];
const workerOfPause = (d: VigilEvent) => (is(d, "cmd.worker.pause") ? d.data.worker : "?");

describe("overheat policy and dependencies", () => {
  // control (essential) needs db; db needs cache. A dependency is never paused while an essential dependent runs.
  const deps = scenario({
    workers: [
      { name: "cache", command: "x", priority: 0 },
      { name: "db", command: "x", priority: 0, dependsOn: ["cache"] },
      { name: "control", command: "x", essential: true, dependsOn: ["db"] },
      { name: "uploader", command: "x", priority: 1 },
    ],
  });
  const hot = deps.at(1000, "obs.health.threshold.crossed", { metric: "temperature", value: 80, above: 75, recoverBelow: 70 });
  const running = [deps.started(0, "cache", 21), deps.started(0, "db", 22), deps.started(0, "control", 23), deps.started(0, "uploader", 24)];

  it("given an essential worker that depends on db (which depends on cache), when the device overheats, then only the unrelated worker is paused", () => {
    const reason = "overheat: 80 °C ≥ 75 °C; pausing non-essential workers (uploader) until below 70 °C";
    deps.given(...running).when(hot).then([decision("dec.incident.opened", { worker: "uploader", reason, policy: "overheat" }, "#a"), ...pause("uploader", reason, "#a")]);
  });

  it("given the essential dependent is stopped, when the device overheats, then its dependencies are shed like any other worker", () => {
    const stopped = deps.at(500, "obs.worker.exited", { worker: "control", pid: 23, code: 0, signal: null, expected: true, uptimeMs: 500 });
    const r = deps.given(...running, stopped).when(hot);
    assert.deepEqual(r.decisions.filter((d) => is(d, "cmd.worker.pause")).map(workerOfPause), ["cache", "db", "uploader"]);
  });

  it("given an overheat, when a held dependency restarts, then it is not paused", () => {
    const restarted = deps.at(2000, "obs.worker.started", { worker: "db", pid: 31, command: "x" });
    deps.given(...running, hot).when(restarted).thenNothing();
  });
});

describe("overheat policy", () => {
  it("given running workers, when the temperature crosses its threshold, then non-essential ones are paused lowest priority first, as one incident (never the essential one)", () => {
    const reason = "overheat: 80 °C ≥ 75 °C; pausing non-essential workers (uploader, logger) until below 70 °C";
    given(...boot)
      .when(crossed(1000))
      .then([decision("dec.incident.opened", { worker: "uploader", reason, policy: "overheat" }, "#a"), ...pause("uploader", reason, "#a"), ...pause("logger", reason, "#a")]);
  });

  it("given an overheat, when the temperature crosses again, then nothing more is decided", () => {
    given(...boot, crossed(1000)).when(crossed(2000, 85)).thenNothing();
  });

  it("given paused workers, when the temperature recovers, then exactly those are resumed (highest priority first) and the incident resolved", () => {
    const cross = crossed(1000);
    const h0 = given(...boot).when(cross);
    const incident = h0.decisions[0]!.incident!;
    const paused = h0.decisions.filter((d) => eventName(d) === "cmd.worker.pause");
    const outcomes = paused.map((c, i) => at(1100 + i, "out.worker.paused", { worker: workerOfPause(c), command: c.id, requestedBy: "decider" }, c.incident));
    const reason = "temperature back to 50 °C, below 70 °C: resuming uploader, logger";
    const { state } = given(...boot, cross, ...outcomes)
      .when(recovered(5000))
      .then([...resume("logger", reason, incident), ...resume("uploader", reason, incident), decision("dec.incident.resolved", { worker: "uploader", reason }, incident)]);
    assert.equal(state.health?.overheat, undefined);
    assert.equal(state.outcomes?.["overheat/pause"]?.succeeded, 1, "a pause that let the device cool counts as a success");
  });

  it("given an overheat, when a sample below the recovery line arrives (the health service restarted and lost its hysteresis), then the workers are resumed too", () => {
    const reason = "temperature back to 65 °C, below 70 °C: resuming uploader, logger";
    given(...boot, crossed(1000))
      .when(sample(3000, { tempC: 65 }))
      .then([...resume("logger", reason, "#a"), ...resume("uploader", reason, "#a"), decision("dec.incident.resolved", { worker: "uploader", reason }, "#a")]);
    given(...boot, crossed(1000)).when(sample(3000, { tempC: 72 })).thenNothing(); // between the lines: still hot
  });

  it("given an overheat, when a non-essential worker is restarted, then it is paused again in the same incident; an essential one is left alone", () => {
    const cross = crossed(1000);
    const incident = given(...boot).when(cross).decisions[0]!.incident!;
    given(...boot, cross)
      .when(at(2000, "out.worker.restarted", { worker: "logger", command: "c", requestedBy: "decider", pid: 21 }))
      .then(pause("logger", "overheat: logger started while the device is still above 70 °C", incident));
    given(...boot, crossed(1000)).when(at(2000, "out.worker.restarted", { worker: "control", command: "c", requestedBy: "decider", pid: 22 })).thenNothing();
  });

  it("given only essential workers, when it overheats, then nothing is paused", () => {
    given(started(0, "control", 12)).when(crossed(1000)).thenNothing();
  });
});
