import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "@vigil/events";
import { initialProbeState, stepProbe, type ProbeState } from "./probes.js";

const p = { failureThreshold: 3, successThreshold: 2 };
function run(results: boolean[], s: ProbeState = initialProbeState) {
  const emits: Array<string | undefined> = [];
  for (const ok of results) {
    const r = stepProbe(s, ok, p);
    s = r.state;
    emits.push(r.emit);
  }
  return { emits, state: s };
}

describe("probe thresholds", () => {
  it("given failureThreshold 3, then the third consecutive failure reports failed (and every third after that)", () => {
    assert.deepEqual(run([false, false, false, false, false, false]).emits, [undefined, undefined, "failed", undefined, undefined, "failed"]);
  });

  it("a success before the threshold starts the count over", () => {
    assert.deepEqual(run([false, false, true, false, false]).emits, [undefined, undefined, undefined, undefined, undefined]);
  });

  it("given a failing probe, then it recovers after successThreshold successes in a row", () => {
    const { state } = run([false, false, false]);
    assert.deepEqual(run([true, false, true, true], state).emits, [undefined, undefined, undefined, "recovered"]);
  });

  it("config: exactly one probe kind, sane timing", () => {
    const w = (probe: object) => ({ workers: [{ name: "api", command: "x", probe }] });
    assert.throws(() => parseConfig(w({ periodMs: 1000 }), { env: {} }), /workers\[0\]\.probe: needs exactly one of http, tcp or exec \(got none\)/);
    assert.throws(() => parseConfig(w({ http: { url: "http://x" }, tcp: { port: 1 } }), { env: {} }), /got http, tcp/);
    assert.throws(() => parseConfig(w({ http: { url: "ftp://x" } }), { env: {} }), /probe\.http\.url: must be an http/);
    assert.throws(() => parseConfig(w({ tcp: { port: 80 }, periodMs: 100, timeoutMs: 500 }), { env: {} }), /probe\.timeoutMs: \(500\) must not exceed periodMs/);
    assert.throws(() => parseConfig(w({ http: { url: "http://x", bodyMatch: "(" } }), { env: {} }), /bodyMatch: is not a valid regular expression/);
    const ok = parseConfig(w({ exec: { command: "true" } }), { env: {} }).workers[0]!.probe!;
    assert.deepEqual([ok.periodMs, ok.timeoutMs, ok.failureThreshold, ok.successThreshold, ok.initialDelayMs], [10_000, 1_000, 3, 1, 0]);
  });
});
