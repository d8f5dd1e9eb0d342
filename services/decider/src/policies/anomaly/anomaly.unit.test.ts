import { describe, it } from "node:test";
import { decision, scenario } from "../../core/given.test-helper.js";

const { at, given, started } = scenario({ workers: [{ name: "spinner", command: "x" }], policies: { anomaly: { minScore: 0.7, minWorkerCpuPct: 50 } } });
const anomaly = (score: number, worker?: string, workerCpuPct?: number) =>
  at(1000, "obs.health.anomaly", { score, threshold: 0.62, feature: "cpuPct", deviation: 6, ...(worker ? { worker, workerCpuPct } : {}) });

describe("anomaly policy", () => {
  it("given a running worker, when an anomaly is attributed to it with enough confidence, then it is restarted", () => {
    const reason = "anomaly score 0.80 (≥ 0.7, most deviating: cpuPct) attributed to spinner at 97 % CPU: restart";
    given(started(0, "spinner", 10))
      .when(anomaly(0.8, "spinner", 97))
      .then([
        decision("dec.incident.opened", { worker: "spinner", reason, policy: "anomaly" }, "#a"),
        decision("dec.remediation.decided", { worker: "spinner", policy: "anomaly", action: "restart", attempt: 0, delayMs: 0, reason }, "#a"),
        decision("cmd.worker.restart", { worker: "spinner", delayMs: 0, reason, requestedBy: "decider" }, "#a"),
      ]);
  });

  it("when the score is low, or the worker barely uses CPU, or nobody managed is to blame, then nothing is done", () => {
    const g = given(started(0, "spinner", 10));
    g.when(anomaly(0.65, "spinner", 97)).thenNothing();
    g.when(anomaly(0.9, "spinner", 3)).thenNothing();
    g.when(anomaly(0.9)).thenNothing();
    g.when(anomaly(0.9, "stranger", 99)).thenNothing(); // an undeclared name is never acted on
  });
});
