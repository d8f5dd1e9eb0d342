import { describe, it } from "node:test";
import { eventName } from "@vigil/events";
import { anyString, decision, scenario } from "../../core/given.test-helper.js";

const { at, given, started, sample } = scenario({
  workers: [{ name: "small", command: "x" }, { name: "big", command: "x" }, { name: "core", command: "x", essential: true }],
  policies: { memory: { consecutiveSamples: 2 } },
});
const boot = [started(0, "small", 10), started(0, "big", 11), started(0, "core", 12)];
const sizes = (ms: number, memPct = 50) => sample(ms, { memPct, workers: [["small", 10, 1, 10e6], ["big", 11, 1, 300e6], ["core", 12, 1, 900e6]] });
const crossed = (ms: number) => at(ms, "obs.health.threshold.crossed", { metric: "memory", value: 93, above: 90, recoverBelow: 85 });
const restartBig = (reason: string | typeof anyString, attempt: number, incident: string) => [
  decision("dec.remediation.decided", { worker: "big", policy: "memory", action: "restart", attempt, delayMs: 0, reason }, incident),
  decision("cmd.worker.restart", { worker: "big", delayMs: 0, reason, requestedBy: "decider" }, incident),
];

describe("memory policy", () => {
  it("given worker sizes, when memory crosses its threshold, then the largest non-essential worker is restarted (never the essential one)", () => {
    const reason = "memory at 93 % (≥ 90 %): restarting the largest non-essential worker big (286 MiB)";
    given(...boot, sizes(1))
      .when(crossed(2))
      .then([decision("dec.incident.opened", { worker: "big", reason, policy: "memory" }, "#a"), ...restartBig(reason, 0, "#a")]);
  });

  it("given memory stays high, then after consecutiveSamples samples it acts again; when it falls below the recovery line, the incident resolves", () => {
    const pre = [...boot, sizes(1)];
    const cross = crossed(2);
    const d = given(...pre).when(cross).decisions;
    const cmd = d.find((x) => eventName(x) === "cmd.worker.restart")!;
    const h = [...pre, cross, at(3, "out.worker.restarted", { worker: "big", command: cmd.id, requestedBy: "decider", pid: 13 }, cmd.incident)];
    const high = (ms: number) => sample(ms, { memPct: 92, workers: [["small", 10, 1, 10e6], ["big", 13, 1, 20e6], ["core", 12, 1, 900e6]] });
    const h4 = high(4);
    given(...h).when(h4).thenNothing();
    given(...h, h4).when(high(5)).then(restartBig(anyString, 1, cmd.incident!));
    given(...h, h4)
      .when(sample(5, { memPct: 70 }))
      .then([decision("dec.incident.resolved", { worker: "big", reason: "memory back to 70 %, below 85 %" }, cmd.incident)]);
  });
});
