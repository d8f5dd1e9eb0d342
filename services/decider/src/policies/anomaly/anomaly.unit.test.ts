import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { scenario } from "./given.test-helper.js";

const { at, given, started, dataOf } = scenario({ workers: [{ name: "spinner", command: "x" }], policies: { anomaly: { minScore: 0.7, minWorkerCpuPct: 50 } } });
const anomaly = (score: number, worker?: string, workerCpuPct?: number) =>
  at(1000, "obs.health.anomaly", { score, threshold: 0.62, feature: "cpuPct", deviation: 6, ...(worker ? { worker, workerCpuPct } : {}) });

describe("anomaly policy", () => {
  it("given a running worker, when an anomaly is attributed to it with enough confidence, then it is restarted", () => {
    const { names, decisions } = given(started(0, "spinner", 10)).when(anomaly(0.8, "spinner", 97));
    assert.deepEqual(names, ["dec.incident.opened", "dec.remediation.decided", "cmd.worker.restart"]);
    assert.equal(dataOf<{ policy: string }>(decisions[1]).policy, "anomaly");
  });

  it("when the score is low, or the worker barely uses CPU, or nobody managed is to blame, then nothing is done", () => {
    const g = given(started(0, "spinner", 10));
    assert.deepEqual(g.when(anomaly(0.65, "spinner", 97)).names, []);
    assert.deepEqual(g.when(anomaly(0.9, "spinner", 3)).names, []);
    assert.deepEqual(g.when(anomaly(0.9)).names, []);
    assert.deepEqual(g.when(anomaly(0.9, "stranger", 99)).names, [], "an undeclared name is never acted on");
  });
});
