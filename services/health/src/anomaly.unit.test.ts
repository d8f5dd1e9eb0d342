import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { AnomalyDetector } from "./anomaly.js";
import { allFeatures, FeatureExtractor, featureNames } from "./features.js";

/** Deterministic noise (the detector itself is randomised; the data need not be). */
function rng(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
}
const settings = { warmupSamples: 60, windowSamples: 120, retrainEvery: 30, threshold: 0.6, trees: 100, noveltyZ: 12 };

describe("anomaly detection (isolation forest)", () => {
  it("derives features: value, delta, rolling std, drift, and how long every metric has been frozen", () => {
    assert.deepEqual(featureNames(allFeatures(["cpu"])), ["cpu", "cpu.delta", "cpu.std8", "cpu.drift32", "frozen"]);
    const f = new FeatureExtractor(["x", "y"], allFeatures(["x"]));
    f.push([1, 5]);
    assert.deepEqual(f.push([3, 5]).slice(0, 2), [3, 2]);
    f.push([3, 5]);
    assert.equal(f.push([3, 5]).at(-1), 2, "two samples in a row identical to the one before");
  });

  it("scores nothing during warm-up, then flags a spike, naming the deviating feature", () => {
    const r = rng(7);
    const d = new AnomalyDetector(["cpuPct", "memPct"], settings, [{ metric: "cpuPct", kind: "value" }, { metric: "memPct", kind: "value" }, { metric: "memPct", kind: "drift32" }]);
    const scores: number[] = [];
    for (let i = 0; i < 100; i++) {
      const s = d.push([20 + r() * 10, 40 + r()]);
      if (i < 59) assert.equal(s, undefined);
      else if (s) scores.push(s.score);
    }
    assert.ok(scores.every((x) => x < 0.7), "ordinary samples score as ordinary");
    const spike = d.push([99, 40.5])!;
    assert.ok(spike.anomalous, `spike flagged (score ${spike.score}, deviation ${spike.deviation})`);
    assert.equal(spike.feature, "cpuPct");
    assert.ok(spike.deviation > 3);
  });

  it("flags a stuck reader (every metric frozen) through the novelty rule", () => {
    const r = rng(3);
    const d = new AnomalyDetector(["cpuPct", "memPct"], settings, [{ metric: "cpuPct", kind: "value" }, { kind: "frozen" }]);
    for (let i = 0; i < 80; i++) d.push([20 + r() * 10, 40 + r()]);
    d.push([25, 40.2]);
    const stuck = d.push([25, 40.2])!;
    assert.equal(stuck.anomalous, true);
    assert.equal(stuck.feature, "frozen");
    assert.equal(stuck.by, "novelty");
  });
});

describe("anomaly detection: the range rule", () => {
  it("flags a value beyond the training range by more than rangeMargin of it, and not one inside", () => {
    const r = rng(11);
    const d = new AnomalyDetector(["cpuPct"], { ...settings, threshold: 0.99, noveltyZ: 0, rangeMargin: 0.5 }, [{ metric: "cpuPct", kind: "value" }]);
    for (let i = 0; i < 80; i++) d.push([20 + r() * 10]);
    const inside = d.push([25])!;
    assert.equal(inside.rangeExcess, 0);
    assert.equal(inside.anomalous, false);
    const far = d.push([60])!; // ≥ 30 above a ~10-wide range: excess ≥ 3
    assert.ok(far.rangeExcess > 0.5, `excess ${far.rangeExcess}`);
    assert.equal(far.anomalous, true);
    assert.equal(far.by, "range");
  });
});
