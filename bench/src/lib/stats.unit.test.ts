import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mean, median, percentile, summarize } from "./stats.js";

describe("bench statistics", () => {
  it("takes nearest-rank percentiles (no interpolation)", () => {
    const s = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    assert.equal(percentile(s, 50), 5);
    assert.equal(percentile(s, 95), 10);
    assert.equal(percentile(s, 99), 10);
    assert.equal(percentile(s, 10), 1);
    assert.equal(percentile(s, 1), 1);
    assert.equal(percentile(Float64Array.from([0.5, 1.5]), 50), 0.5);
    assert.ok(Number.isNaN(percentile([], 50)));
  });

  it("takes the mean and the median", () => {
    assert.equal(mean([1, 2, 6]), 3);
    assert.equal(mean([]), 0);
    assert.equal(median([5, 1, 3]), 3);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(median([])));
  });

  it("summarizes in a fixed key order, rounded", () => {
    const s = summarize([3.14159, 1.00049, 2.5], [50, 95, 99], 3);
    assert.deepEqual(Object.keys(s), ["n", "min", "p50", "p95", "p99", "max", "mean"]);
    assert.deepEqual(s, { n: 3, min: 1, p50: 2.5, p95: 3.142, p99: 3.142, max: 3.142, mean: 2.214 });
    assert.deepEqual(summarize([12.34, 5.66], [50, 99], 1), { n: 2, min: 5.7, p50: 5.7, p99: 12.3, max: 12.3, mean: 9 });
  });
});
