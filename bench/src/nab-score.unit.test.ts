import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { f1, scoreWindows } from "./nab-score.js";
import { parseTimestamp } from "./nab-data.js";

const times = Array.from({ length: 20 }, (_, i) => i * 1000);
const alertsAt = (...idx: number[]) => times.map((_, i) => idx.includes(i));

describe("NAB window scorer", () => {
  it("a window with an alert inside is detected (only the first alert counts), with its delay", () => {
    const s = scoreWindows(times, alertsAt(5, 6, 7), [[4000, 8000]]);
    assert.deepEqual([s.windows, s.detected, s.falsePositives, s.delays], [1, 1, 0, [1]]);
  });

  it("a window without an alert is missed", () => {
    const s = scoreWindows(times, alertsAt(), [[4000, 8000]]);
    assert.deepEqual([s.windows, s.detected, s.falsePositives], [1, 0, 0]);
    assert.equal(f1(s).recall, 0);
  });

  it("alerts outside every window are false positives, one per episode of consecutive alerts", () => {
    const s = scoreWindows(times, alertsAt(1, 2, 3, 12, 15, 16), [[5000, 8000]]);
    assert.equal(s.detected, 0);
    assert.equal(s.falsePositives, 3, "samples 1–3 are one episode, 12 another, 15–16 a third");
  });

  it("F1 pools detected windows against missed ones and false-positive episodes", () => {
    const s = scoreWindows(times, alertsAt(5, 12, 13), [[4000, 6000], [9000, 10000]]);
    assert.deepEqual([s.windows, s.detected, s.falsePositives], [2, 1, 1]);
    const q = f1(s);
    assert.equal(q.precision, 0.5);
    assert.equal(q.recall, 0.5);
    assert.equal(q.f1, 0.5);
  });

  it("alerts before `from` (the warm-up) are not scored", () => {
    const s = scoreWindows(times, alertsAt(1, 2), [[10_000, 12_000]], 5);
    assert.equal(s.falsePositives, 0);
  });

  it("reads NAB timestamps with and without fractional seconds", () => {
    assert.equal(parseTimestamp("2014-02-26 13:45:00.000000"), parseTimestamp("2014-02-26 13:45:00"));
    assert.equal(parseTimestamp("2014-02-26 13:45:00"), Date.UTC(2014, 1, 26, 13, 45));
  });
});
