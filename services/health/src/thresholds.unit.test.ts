import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, parseConfig, resolveThreshold } from "@vigil/events";
import { stepThreshold, ThresholdTracker } from "./thresholds.js";

const t = { above: 75, recoverBelow: 70 };

describe("thresholds with hysteresis", () => {
  it("given normal, when the value reaches the threshold, then crossed, once", () => {
    const tr = new ThresholdTracker();
    assert.deepEqual([60, 74.9, 75, 80, 90].map((v) => tr.step("temperature", v, t)), [undefined, undefined, "crossed", undefined, undefined]);
  });

  it("given crossed, when it dips below the threshold but not below the recovery line, then nothing; below it, recovered", () => {
    const tr = new ThresholdTracker();
    tr.step("temperature", 80, t);
    assert.deepEqual([74, 70, 72, 69.9, 71].map((v) => tr.step("temperature", v, t)), [undefined, undefined, undefined, "recovered", undefined]);
  });

  it("a missing reading (no sensor, garbage) changes nothing", () => {
    assert.deepEqual(stepThreshold("crossed", null, t), { level: "crossed", transition: undefined });
  });

  it("keys are independent (one per disk)", () => {
    const tr = new ThresholdTracker();
    tr.step("disk:/", 95, t);
    assert.equal(tr.level("disk:/"), "crossed");
    assert.equal(tr.level("disk:/data"), "normal");
  });

  it("resolves hysteresis or an explicit recovery line", () => {
    assert.deepEqual(resolveThreshold({ above: 90, hysteresis: 10 }, 5), { above: 90, recoverBelow: 80 });
    assert.deepEqual(resolveThreshold({ above: 90, recoverBelow: 85 }, 5), { above: 90, recoverBelow: 85 });
    assert.deepEqual(resolveThreshold({ above: 90 }, 5), { above: 90, recoverBelow: 85 });
  });

  it("bad thresholds in config are refused with the field named", () => {
    const bad = (health: object, re: RegExp) => assert.throws(() => parseConfig({ health }, { env: {} }), (err: Error) => err instanceof ConfigError && re.test(err.message));
    bad({ thresholds: { temperature: { above: 70, recoverBelow: 80 } } }, /health\.thresholds\.temperature\.recoverBelow: \(80\) must not be above the crossing threshold above \(70\)/);
    bad({ thresholds: { cpu: { above: 90, hysteresis: -5 } } }, /health\.thresholds\.cpu\.hysteresis: must not be negative/);
    bad({ thresholds: { memory: { above: 150 } } }, /health\.thresholds\.memory: above must be a percentage/);
    bad({ thresholds: { disk: { above: 90, hysteresis: 5, recoverBelow: 80 } } }, /contradicts hysteresis/);
    bad({ intervalMs: 10 }, /health\.intervalMs/);
    bad({ anomaly: { warmupSamples: 500, windowSamples: 100 } }, /health\.anomaly\.warmupSamples/);
    assert.throws(() => parseConfig({ policies: { cpu: { thresholdPct: -1 } } }, { env: {} }), /policies\.cpu\.thresholdPct/);
  });
});
