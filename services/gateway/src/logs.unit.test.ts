import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "@vigil/events";
import { MAX_LOG_LINES, parseLogQuery, resolveLog } from "./logs.js";
import { parseRequest } from "./protocol.js";

const config = parseConfig({ device: "d1", dataDir: "/data", workers: [{ name: "sensor", command: "sleep", args: ["1"] }] }, { env: {} });

describe("logs: which names have a log, and the lines/since parameters", () => {
  it("a declared worker and a Vigil service resolve to their files under the data dir; anything else does not", () => {
    assert.deepEqual(resolveLog(config, "sensor"), { name: "sensor", kind: "worker", file: "/data/supervisor/logs/sensor.log" });
    assert.deepEqual(resolveLog(config, "decider"), { name: "decider", kind: "service", file: "/data/logs/decider.log" });
    for (const name of ["nope", "__proto__", "constructor", "toString", "..", "../sensor", "sensor/..", "", "Sensor"]) assert.equal(resolveLog(config, name), undefined, name);
  });
  it("lines: default 100, capped at MAX_LOG_LINES, a whole number ≥ 0 or an error naming it; since: a duration or an ISO time", () => {
    assert.deepEqual(parseLogQuery(undefined, undefined), { ok: true, query: { lines: 100 } });
    assert.deepEqual(parseLogQuery("0", null), { ok: true, query: { lines: 0 } });
    assert.deepEqual(parseLogQuery(99_999, undefined), { ok: true, query: { lines: MAX_LOG_LINES } });
    for (const bad of ["-1", "1.5", "abc", "", -1, 1.5, true]) {
      const r = parseLogQuery(bad, undefined);
      assert.ok(!r.ok && /^lines:/.test(r.message), String(bad));
    }
    const r = parseLogQuery("5", "10m");
    assert.ok(r.ok && r.query.sinceMs !== undefined && Math.abs(Date.now() - 600_000 - r.query.sinceMs) < 5_000);
    assert.deepEqual(parseLogQuery("5", "2026-01-01T00:00:00Z"), { ok: true, query: { lines: 5, sinceMs: Date.parse("2026-01-01T00:00:00Z") } });
    for (const bad of ["yesterday", "10 minutes", 5, "x".repeat(100)]) {
      const q = parseLogQuery(undefined, bad);
      assert.ok(!q.ok && /^since:/.test(q.message), String(bad));
    }
  });
  it("the WebSocket logs op: name, lines, since, follow parsed; bad ones answered naming the field", () => {
    assert.deepEqual(parseRequest('{"id":"l","op":"logs","name":"sensor","lines":5,"follow":true}', "vigil.d1.>"), { ok: true, req: { id: "l", op: "logs", name: "sensor", query: { lines: 5 }, follow: true } });
    assert.deepEqual(parseRequest('{"id":"l","op":"logs","name":"sensor"}', "vigil.d1.>"), { ok: true, req: { id: "l", op: "logs", name: "sensor", query: { lines: 100 }, follow: false } });
    const cases: Array<[string, RegExp]> = [
      ['{"id":"l","op":"logs"}', /^name:/],
      ['{"id":"l","op":"logs","name":"../etc/passwd"}', /^name:/],
      ['{"id":"l","op":"logs","name":"sensor","lines":"lots"}', /^lines:/],
      ['{"id":"l","op":"logs","name":"sensor","since":"soon"}', /^since:/],
      ['{"id":"l","op":"logs","name":"sensor","follow":1}', /^follow:/],
    ];
    for (const [text, msg] of cases) {
      const r = parseRequest(text, "vigil.d1.>");
      assert.ok(!r.ok && r.error.code === "bad_request" && r.error.id === "l" && msg.test(r.error.message), text);
    }
  });
});
