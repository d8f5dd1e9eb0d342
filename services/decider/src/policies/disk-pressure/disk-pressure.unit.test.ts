import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { openIncidents, type VigilEvent } from "@vigil/events";
import { replay } from "../../core/decider.js";
import { anyString, decision, matching, scenario } from "../../core/given.test-helper.js";

// Disk pressure (issue 14): prune logs, then downsample telemetry, then pause the top writers; undone on recovery.
const { decider, at, given, started } = scenario({
  workers: [
    { name: "camera", command: "x" },
    { name: "logger", command: "x" },
    { name: "sensor", command: "x" },
    { name: "plc", command: "x", essential: true },
  ],
  policies: { disk: { downsampleFactor: 10, pauseWorkers: 2 } },
});
const threshold = { metric: "disk", target: "/data", above: 90, recoverBelow: 85 } as const;
const crossed = (ms: number, value: number) => at(ms, "obs.health.threshold.crossed", { ...threshold, value });
const recovered = (ms: number, value: number) => at(ms, "obs.health.threshold.recovered", { ...threshold, value });
const sample = (ms: number, usedPct: number) =>
  at(ms, "obs.health.sample", { cpuPct: 5, load1: 0.1, memPct: 30, tempC: 40, disks: [{ mount: "/data", usedPct }], workers: [], intervalMs: 1000 });
const pruned = (ms: number) =>
  at(ms, "out.logs.pruned", { command: "c", removedFiles: 4, freedBytes: 1000, writers: [{ worker: "logger", bytes: 900 }, { worker: "plc", bytes: 800 }, { worker: "sensor", bytes: 100 }] });
const running = [started(0, "camera", 1), started(0, "logger", 2), started(0, "sensor", 3), started(0, "plc", 4)];

/** Crossed at 1 s, pruned, still full at 2 s (downsample), still full at 3 s (pause). */
function throughAllSteps(): VigilEvent[] {
  return [...running, crossed(1000, 93), pruned(1050), sample(2000, 92), sample(3000, 92)];
}

describe("disk-pressure policy", () => {
  it("given running workers, when a watched mount crosses its threshold, then one incident opens and rotated logs are pruned first", () => {
    const reason = "disk /data at 93 % ≥ 90 %: pruning rotated logs beyond the newest";
    given(...running)
      .when(crossed(1000, 93))
      .then([
        decision("dec.incident.opened", { worker: "device", reason: "disk /data at 93 % ≥ 90 %", policy: "disk-pressure" }, "#a"),
        decision("dec.disk.step", { mount: "/data", step: "prune-logs", usedPct: 93, reason }, "#a"),
        decision("cmd.logs.prune", { keepRotated: 1, reason, requestedBy: "decider" }, "#a"),
      ]);
  });

  it("given the prune, when a sample taken an interval later is still over, then telemetry is told to downsample; a sample in the same interval waits", () => {
    const h = [...running, crossed(1000, 93), pruned(1050)];
    const incident = replay(decider, h).state.disk!["/data"]!.incident!;
    given(...h).when(sample(1100, 93)).thenNothing();
    given(...h)
      .when(sample(2000, 92))
      .then([
        decision("dec.disk.step", { mount: "/data", step: "downsample", usedPct: 92, reason: matching(/still at 92 % ≥ 90 % after pruning logs: telemetry forwards 10× fewer/) }, incident),
        decision("cmd.telemetry.downsample", { factor: 10, reason: anyString, requestedBy: "decider" }, incident),
      ]);
  });

  it("given prune and downsample, when still over, then the non-essential workers that write the most are paused (never an essential one)", () => {
    const h = [...running, crossed(1000, 93), pruned(1050), sample(2000, 92)];
    const incident = replay(decider, h).state.disk!["/data"]!.incident!;
    const reason = "disk /data still at 92 % ≥ 90 % after pruning logs and downsampling: pausing the non-essential workers that write the most (logger, sensor) until below 85 %";
    const pause = (w: string) => [
      decision("dec.remediation.decided", { worker: w, policy: "disk-pressure", action: "pause", attempt: 0, delayMs: 0, reason }, incident),
      decision("cmd.worker.pause", { worker: w, delayMs: 0, reason, requestedBy: "decider" }, incident),
    ];
    given(...h)
      .when(sample(3000, 92))
      .then([decision("dec.disk.step", { mount: "/data", step: "pause-workers", usedPct: 92, reason, workers: ["logger", "sensor"] }, incident), ...pause("logger"), ...pause("sensor")]);
    // And no fourth step: the stream's own limits are the last line.
    given(...throughAllSteps()).when(sample(4000, 95)).thenNothing();
  });

  it("given every step taken, when the mount recovers, then telemetry's sampling is restored, the paused workers resumed and the one incident resolved", () => {
    const h = [...throughAllSteps(), at(3100, "out.worker.paused", { worker: "logger", command: "p1", requestedBy: "decider" }), at(3100, "out.worker.paused", { worker: "sensor", command: "p2", requestedBy: "decider" })];
    const incident = replay(decider, h).state.disk!["/data"]!.incident!;
    const reason = "disk /data back to 80 %, below 85 %: telemetry back to its configured sampling, resuming logger, sensor (pruned logs stay pruned)";
    const resume = (w: string) => [
      decision("dec.remediation.decided", { worker: w, policy: "disk-pressure", action: "resume", attempt: 0, delayMs: 0, reason }, incident),
      decision("cmd.worker.resume", { worker: w, delayMs: 0, reason, requestedBy: "decider" }, incident),
    ];
    const { state } = given(...h)
      .when(recovered(9000, 80))
      .then([
        decision("dec.disk.step", { mount: "/data", step: "undo", usedPct: 80, reason, workers: ["logger", "sensor"] }, incident),
        decision("cmd.telemetry.downsample", { factor: 1, reason, requestedBy: "decider" }, incident),
        ...resume("sensor"),
        ...resume("logger"),
        decision("dec.incident.resolved", { worker: "logger", reason }, incident),
      ]);
    assert.deepEqual(state.disk, {});
    assert.equal(openIncidents(state).length, 0);
    assert.equal(state.workers.device, undefined, "the device-level incident makes no worker entry");
    // Every decision of the whole episode sits in the one incident.
    const all = replay(decider, [...h, recovered(9000, 80)]).decisions.filter((d) => d.type.includes(".disk.") || d.type.includes("logs") || d.type.includes("telemetry"));
    assert.deepEqual([...new Set(all.map((d) => d.incident))], [incident]);
  });

  it("given only the prune was needed, when a sample is below the recovery line, then the incident is resolved with nothing else to undo", () => {
    const h = [...running, crossed(1000, 93), pruned(1050)];
    const incident = replay(decider, h).state.disk!["/data"]!.incident!;
    given(...h)
      .when(sample(2000, 70))
      .then([
        decision("dec.disk.step", { mount: "/data", step: "undo", usedPct: 70, reason: matching(/nothing to undo/), workers: [] }, incident),
        decision("dec.incident.resolved", { worker: "device", reason: anyString }, incident),
      ]);
  });

  it("does nothing for other metrics, for a second crossing of the same mount, or when disabled", () => {
    given(...running).when(at(1000, "obs.health.threshold.crossed", { metric: "memory", above: 90, recoverBelow: 85, value: 95 })).thenNothing();
    given(...running, crossed(1000, 93)).when(crossed(1500, 94)).thenNothing();
    const off = scenario({ workers: [{ name: "camera", command: "x" }], policies: { disk: { enabled: false } } });
    off.given().when(off.at(1000, "obs.health.threshold.crossed", { ...threshold, value: 93 })).thenNothing();
  });
});
