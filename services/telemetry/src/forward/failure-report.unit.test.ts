import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createLogger, parseConfig } from "@vigil/events";
import { UploadFailure } from "./breaker.js";
import { createFailureReporter } from "./failure-report.js";
import type { Emit, ForwarderStats } from "./types.js";

const items = [
  { seq: 7, subject: "vigil.d.obs.x", data: new Uint8Array() },
  { seq: 9, subject: "vigil.d.obs.x", data: new Uint8Array() },
];

function reporter() {
  let now = 1_000_000;
  const emitted: unknown[] = [];
  const emit = (async (_name: string, data: unknown) => void emitted.push(data)) as Emit;
  const cfg = parseConfig({ device: "d", telemetry: { url: "http://127.0.0.1:1/", secret: "0123456789abcdef" } }, { env: {} }).telemetry;
  const r = createFailureReporter({ stream: "s", durable: "t", cfg, log: createLogger("test", "silent"), emit, stats: {} as ForwarderStats }, { now: () => now });
  return { r, emitted, advance: (ms: number) => (now += ms) };
}

describe("upload failure reports (time from the injected clock)", () => {
  it("reports the first failure of a streak, a new reason at once, the same reason again only after 30 s", () => {
    const { r, emitted, advance } = reporter();
    r.report(new UploadFailure("HTTP 503", 503), items, 250.4);
    assert.deepEqual(emitted, [{ status: 503, error: "HTTP 503", events: 2, firstSeq: 7, lastSeq: 9, retryInMs: 250 }]);
    advance(29_999);
    r.report(new UploadFailure("HTTP 503", 503), items, 500);
    assert.equal(emitted.length, 1, "the same reason within 30 s is not reported again");
    r.report(new Error("socket hang up"), items, 500);
    assert.equal(emitted.length, 2, "a new reason is reported at once");
    advance(30_000);
    r.report(new Error("socket hang up"), items, 500);
    assert.equal(emitted.length, 3, "the same reason after 30 s is reported again");
  });

  it("starts a new streak after a delivery", () => {
    const { r, emitted } = reporter();
    r.report(new Error("connect ECONNREFUSED"), items, 100);
    r.reset();
    r.report(new Error("connect ECONNREFUSED"), items, 100);
    assert.equal(emitted.length, 2);
  });
});
