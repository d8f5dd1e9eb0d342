import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "@vigil/events";
import { AnomalyDetector } from "./anomaly.js";
import { RollingRange } from "./rolling-range.js";

describe("rolling range (the range rule's baseline)", () => {
  it("given a span of 3, when samples pass, then min and max are those of the last 3 only", () => {
    const r = new RollingRange(3);
    for (const x of [9, 1, 5, 4, 6]) r.push([x, -x]);
    assert.deepEqual(r.bounds(), { min: [4, -6], max: [6, -4] });
    assert.equal(r.samples, 3);
  });

  it("given span 0, when samples pass, then the bounds cover every sample since the start", () => {
    const r = new RollingRange(0);
    for (let i = 0; i < 1000; i++) r.push([i === 10 ? -50 : i % 7]);
    assert.deepEqual(r.bounds(), { min: [-50], max: [6] });
    assert.equal(r.samples, 1000);
  });

  it("agrees with a brute-force min/max over the window on random data", () => {
    let seed = 5;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 100;
    const xs: number[] = [];
    const r = new RollingRange(17);
    for (let i = 0; i < 500; i++) {
      const x = Math.round(rnd());
      xs.push(x);
      r.push([x]);
      const w = xs.slice(-17);
      assert.deepEqual(r.bounds(), { min: [Math.min(...w)], max: [Math.max(...w)] });
    }
  });

  it("rejects a span that is not a whole number ≥ 0, naming the setting", () => {
    assert.throws(() => new RollingRange(-1), /baselineSamples must be a whole number ≥ 0, got -1/);
  });
});

describe("anomaly detection: the range rule against a baseline longer than the window", () => {
  // A peak of 100 early on, then ordinary values 10..14 for longer than the training window (40).
  const history = [...Array.from({ length: 20 }, (_, i) => 10 + (i % 5)), 100, ...Array.from({ length: 100 }, (_, i) => 10 + (i % 5))];
  const settings = { warmupSamples: 20, windowSamples: 40, retrainEvery: 10, threshold: 0.99, trees: 20, noveltyZ: 0, rangeMargin: 0.5 };

  it("given the window forgot an earlier peak, when the peak comes back, then the window-only rule alerts", () => {
    const d = new AnomalyDetector(["x"], settings, [{ metric: "x", kind: "value" }]);
    for (const x of history) d.push([x]);
    assert.equal(d.push([100])!.anomalous, true);
  });

  it("given baselineSamples 0 (every sample since the start), when the same peak comes back, then it is no anomaly", () => {
    const d = new AnomalyDetector(["x"], { ...settings, baselineSamples: 0 }, [{ metric: "x", kind: "value" }]);
    for (const x of history) d.push([x]);
    const again = d.push([100])!;
    assert.equal(again.rangeExcess, 0);
    assert.equal(again.anomalous, false);
  });

  it("given baselineSamples 0, when a value beyond everything seen arrives, then the range rule reports it", () => {
    const d = new AnomalyDetector(["x"], { ...settings, baselineSamples: 0 }, [{ metric: "x", kind: "value" }]);
    for (const x of history) d.push([x]);
    const beyond = d.push([200])!;
    assert.ok(beyond.rangeExcess > 0.5, `excess ${beyond.rangeExcess}`);
    assert.equal(beyond.anomalous, true);
    assert.equal(beyond.by, "range");
  });

  it("given health.anomaly.baselineSamples in the config, when the service builds its detector from it, then the setting takes effect; a bad value is an error naming it", () => {
    assert.equal(parseConfig({}, { env: {} }).health.anomaly.baselineSamples, undefined, "off by default: the shipped behaviour is unchanged");
    const a = parseConfig({ health: { anomaly: { ...settings, baselineSamples: 0 } } }, { env: {} }).health.anomaly;
    const d = new AnomalyDetector(["x"], a, [{ metric: "x", kind: "value" }]);
    for (const x of history) d.push([x]);
    assert.equal(d.push([100])!.anomalous, false);
    assert.throws(() => parseConfig({ health: { anomaly: { baselineSamples: -5 } } }, { env: {} }), /baselineSamples/);
  });
});
