import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "@vigil/events";
import { gateAlerts, RefractoryGate } from "./alert-episodes.js";
import { AnomalyDetector } from "./anomaly.js";

describe("alert episodes (refractory gate)", () => {
  it("reports the first flagged sample and holds back flags within the period after it", () => {
    const f = [false, true, true, false, true, false, false, true, false];
    assert.deepEqual(gateAlerts(f, 3), [false, true, false, false, false, false, false, true, false]);
  });

  it("reports every flagged sample with a period of 0", () => {
    const f = [true, true, false, true];
    assert.deepEqual(gateAlerts(f, 0), f);
  });

  it("reports a lasting problem again once per period, so it is never silenced", () => {
    const out = gateAlerts(new Array<boolean>(10).fill(true), 4);
    assert.deepEqual(out.flatMap((a, i) => (a ? [i] : [])), [0, 5]);
  });

  it("rejects a period that is not a whole number ≥ 0, naming it", () => {
    assert.throws(() => new RefractoryGate(-1), /refractorySamples must be a whole number ≥ 0, got -1/);
    assert.throws(() => new RefractoryGate(1.5), /refractorySamples/);
  });

  it("the detector marks a flagged sample inside the period as held, not anomalous", () => {
    const d = new AnomalyDetector(["x"], { warmupSamples: 20, windowSamples: 40, retrainEvery: 1000, threshold: 0.99, trees: 20, noveltyZ: 0, rangeMargin: 0.5, refractorySamples: 5 }, [{ metric: "x", kind: "value" }]);
    for (let i = 0; i < 20; i++) d.push([10 + (i % 5)]);
    const first = d.push([100])!;
    const second = d.push([100])!;
    assert.equal(first.anomalous, true);
    assert.equal(first.by, "range");
    assert.equal(second.anomalous, false);
    assert.equal(second.held, true);
    for (let i = 0; i < 4; i++) d.push([100]);
    assert.equal(d.push([100])!.anomalous, true, "reported again after the period");
  });

  it("the health config carries rangeMargin and refractorySamples to the detector (off by default), and refuses a bad period", () => {
    const defaults = parseConfig({}, { env: {} }).health.anomaly;
    assert.equal(defaults.refractorySamples, 0);
    assert.equal(defaults.rangeMargin, undefined);
    const a = parseConfig({ health: { anomaly: { rangeMargin: 0.5, refractorySamples: 3, warmupSamples: 20, windowSamples: 40, threshold: 0.99, noveltyZ: 0 } } }, { env: {} }).health.anomaly;
    const d = new AnomalyDetector(["x"], a, [{ metric: "x", kind: "value" }]);
    for (let i = 0; i < 20; i++) d.push([10 + (i % 5)]);
    const flags = [100, 100, 100, 100, 100].map((x) => d.push([x])!.anomalous);
    assert.deepEqual(flags, [true, false, false, false, true]);
    assert.throws(() => parseConfig({ health: { anomaly: { refractorySamples: -2 } } }, { env: {} }), /refractorySamples/);
  });
});
