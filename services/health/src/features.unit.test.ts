import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { FeatureExtractor, featureNames, median } from "./features.js";

describe("features: rolling residual and lagged difference", () => {
  it("given a level series with one spike, when the residual is taken, then it is the spike minus the median before it (the spike does not move the median)", () => {
    const f = new FeatureExtractor(["x"], [{ metric: "x", kind: "resid", window: 4 }]);
    for (const x of [10, 10, 50, 10]) f.push([x]);
    // the 4 samples before: 10, 10, 50, 10 → median 10 (a mean would say 20)
    assert.deepEqual(f.push([13]), [3]);
  });

  it("given fewer samples than the window, when the residual is taken, then it uses the ones there are, and 0 for the first", () => {
    const f = new FeatureExtractor(["x"], [{ metric: "x", kind: "resid", window: 288 }]);
    assert.deepEqual(f.push([7]), [0]);
    f.push([9]);
    assert.deepEqual(f.push([20]), [12], "median of 7 and 9 is 8");
  });

  it("given a smooth ramp, when the lagged difference over 3 samples is taken, then it is x(t) − x(t−3), where delta stays 1", () => {
    const f = new FeatureExtractor(["x"], [{ metric: "x", kind: "lagdiff", window: 3 }, { metric: "x", kind: "delta" }]);
    const out = [0, 1, 2, 3, 4, 5].map((x) => f.push([x]));
    assert.deepEqual(out.at(-1), [3, 1]);
    assert.deepEqual(out[1], [1, 1], "before 3 samples have passed, the oldest one stands in");
  });

  it("names windowed features with their window, and defaults resid to 32 and lagdiff to 8", () => {
    assert.deepEqual(featureNames([{ metric: "cpu", kind: "resid", window: 288 }, { metric: "cpu", kind: "lagdiff" }, { metric: "cpu", kind: "resid" }]), ["cpu.resid288", "cpu.lagdiff8", "cpu.resid32"]);
  });

  it("keeps the history the longest window needs (a 100-sample residual sees 100 samples, not 32)", () => {
    const f = new FeatureExtractor(["x"], [{ metric: "x", kind: "resid", window: 100 }]);
    for (let i = 0; i < 60; i++) f.push([0]);
    for (let i = 0; i < 40; i++) f.push([1]);
    // 60 zeros and 40 ones before → median 0; with 32 kept it would be 1
    assert.deepEqual(f.push([5]), [5]);
  });

  it("rejects a window that is not a whole number ≥ 1, naming the feature", () => {
    assert.throws(() => new FeatureExtractor(["x"], [{ metric: "x", kind: "resid", window: 0 }]), /feature x\.resid0: window must be a whole number ≥ 1, got 0/);
    assert.throws(() => new FeatureExtractor(["x"], [{ metric: "x", kind: "lagdiff", window: 2.5 }]), /window must be a whole number/);
  });

  it("median of odd and even lists", () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
  });
});
