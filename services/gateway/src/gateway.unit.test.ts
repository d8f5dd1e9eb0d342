import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { hashToken, makeEvent, type DeciderState } from "@vigil/events";
import { authenticate, bearerToken, originAllowed } from "./auth.js";
import { countEvent, newCounters, renderMetrics } from "./metrics.js";
import { parseRequest, subjectMatches, validFilter } from "./protocol.js";
import { take } from "./rate-limit.js";
import { healthPoint, stageOf, workerRows } from "./views.js";

const F = "vigil.d1.>";

describe("protocol: parsing frames", () => {
  it("given a valid subscribe from a sequence, when parsed, then the request carries filters and start", () => {
    const r = parseRequest(JSON.stringify({ v: 1, id: "a", op: "subscribe", filters: ["vigil.d1.obs.>"], from: { seq: 5 } }), F);
    assert.deepEqual(r, { ok: true, req: { id: "a", op: "subscribe", filters: ["vigil.d1.obs.>"], from: { seq: 5 } } });
  });
  it("given no filters and no start, then the device's subjects, live", () => {
    const r = parseRequest('{"id":1,"op":"subscribe"}', F);
    assert.deepEqual(r, { ok: true, req: { id: "1", op: "subscribe", filters: [F], from: "new" } });
  });
  it("given garbage, then an error naming the problem, with the request id when there is one", () => {
    const cases: Array<[string, string, string | null, RegExp]> = [
      ["{x", "bad_json", null, /not JSON/],
      ["[1]", "bad_request", null, /JSON object/],
      ['{"op":"ping"}', "bad_request", null, /needs an id/],
      ['{"id":"1","op":"nope"}', "unknown_op", "1", /not one of/],
      ['{"id":"1","op":"subscribe","filters":["other.>"]}', "bad_request", "1", /not a subject filter/],
      ['{"id":"1","op":"subscribe","from":{"seq":0}}', "bad_request", "1", /from.seq/],
      ['{"id":"1","op":"command","action":"exec","worker":"a"}', "bad_request", "1", /action: one of restart, pause, resume, kill/],
      ['{"id":"1","op":"command","action":"kill","worker":"../sh"}', "bad_request", "1", /worker/],
      ['{"id":"1","op":"replay","incident":"x","speed":-1}', "bad_request", "1", /speed/],
      ['{"id":"1","v":9,"op":"ping"}', "unsupported_version", "1", /version 1/],
    ];
    for (const [text, code, id, msg] of cases) {
      const r = parseRequest(text, F);
      assert.equal(r.ok, false, text);
      if (!r.ok) {
        assert.equal(r.error.code, code, text);
        assert.equal(r.error.id, id, text);
        assert.match(r.error.message, msg, text);
      }
    }
  });
  it("matches NATS subject filters like the server does", () => {
    assert.ok(subjectMatches("vigil.>", "vigil.d.obs.worker.exited"));
    assert.ok(subjectMatches("vigil.*.obs.>", "vigil.d.obs.worker.exited"));
    assert.ok(!subjectMatches("vigil.*.obs.>", "vigil.d.cmd.worker.restart"));
    assert.ok(subjectMatches("vigil.d.obs.worker.*", "vigil.d.obs.worker.exited"));
    assert.ok(!subjectMatches("vigil.d.obs.worker.*", "vigil.d.obs.worker.exited.x"));
    assert.ok(!subjectMatches("vigil.d.>", "vigil.d"));
    assert.ok(validFilter("vigil.*.obs.>") && !validFilter("vigil.>.x") && !validFilter("nats.>") && !validFilter("vigil..x"));
  });
});

describe("auth", () => {
  const tokens = [
    { name: "ops", role: "operator" as const, sha256: hashToken("secret-operator") },
    { name: "wall", role: "viewer" as const, sha256: hashToken("secret-viewer") },
  ];
  it("finds the principal by the token's hash, and nothing for a wrong or missing token", () => {
    assert.deepEqual(authenticate("secret-viewer", tokens), { name: "wall", role: "viewer" });
    assert.deepEqual(authenticate("secret-operator", tokens), { name: "ops", role: "operator" });
    assert.equal(authenticate("secret", tokens), undefined);
    assert.equal(authenticate(undefined, tokens), undefined);
    assert.equal(bearerToken("Bearer abc"), "abc");
    assert.equal(bearerToken("Basic abc"), undefined);
  });
  it("allows the gateway's own origin, configured ones and non-browser clients only", () => {
    assert.ok(originAllowed(undefined, "h:8080", []));
    assert.ok(originAllowed("http://h:8080", "h:8080", []));
    assert.ok(!originAllowed("http://evil", "h:8080", []));
    assert.ok(originAllowed("https://ops.example", "h:8080", ["https://ops.example"]));
  });
});

describe("rate limit: a token bucket", () => {
  it("given a burst of 2 at 60/min, then the third at once is refused and one is allowed a second later", () => {
    const lim = { perMinute: 60, burst: 2 };
    let r = take(undefined, 0, lim);
    assert.ok(r.ok);
    r = take(r.bucket, 0, lim);
    assert.ok(r.ok);
    r = take(r.bucket, 0, lim);
    assert.ok(!r.ok);
    assert.equal(r.retryAfterMs, 1000);
    r = take(r.bucket, 1000, lim);
    assert.ok(r.ok);
  });
});

describe("views and metrics", () => {
  const state: DeciderState = {
    workers: { sensor: { status: "running", pid: 42, attempt: 0, restartTimes: [], restarts: 2, startedAt: 1 } },
    incidents: { i1: { id: "i1", worker: "sensor", status: "open", reason: "killed", openedAt: "2026-01-01T00:00:00.000Z" } },
  };
  it("lists declared workers with the decider's state, and the supervisor's report where the decider knows nothing", () => {
    const rows = workerRows(
      [{ name: "sensor", essential: true } as any, { name: "pump" } as any],
      state,
      { at: "t", workers: [{ name: "pump", status: "running", pid: 7, restarts: 0 }] },
    );
    assert.deepEqual(rows.map((r) => [r.name, r.status, r.pid, r.restarts, r.essential]), [
      ["sensor", "running", 42, 2, true],
      ["pump", "running", 7, 0, false],
    ]);
  });
  it("classifies an incident's events into its causal chain", () => {
    const s = (t: string) => stageOf({ type: `io.vigil.${t}` });
    assert.deepEqual(["obs.worker.exited", "dec.incident.opened", "dec.remediation.decided", "cmd.worker.restart", "out.worker.restarted", "obs.worker.stable", "dec.incident.resolved"].map(s), ["exit", "opened", "decision", "command", "outcome", "stable", "resolved"]);
  });
  it("reads chart points from health samples, and draws nothing from other events", () => {
    const e = makeEvent("d1", "vigil/d1/health", "obs.health.sample" as any, { cpuPct: 12.5, load1: 0.1, memPct: 40, tempC: 55, disks: [], workers: [], intervalMs: 1000 } as any);
    assert.deepEqual(healthPoint(e), { t: Date.parse(e.time), cpu: 12.5, mem: 40, temp: 55 });
    assert.equal(healthPoint(makeEvent("d1", "s", "obs.worker.started", { worker: "a", pid: 1, command: "x" })), undefined);
  });
  it("renders Prometheus text: events by kind and type, consumer lag, restarts, open incidents, breaker", () => {
    const c = newCounters();
    countEvent(c, makeEvent("d1", "s", "obs.worker.started", { worker: "a", pid: 1, command: "x" }));
    countEvent(c, makeEvent("d1", "s", "obs.worker.started", { worker: "a", pid: 2, command: "x" }));
    countEvent(c, makeEvent("d1", "s", "sys.telemetry.breaker.opened" as any, { reason: "x", backlog: 1, resetTimeoutMs: 1 } as any));
    const text = renderMetrics({ device: "d1", counters: c, consumers: [{ name: "decider", pending: 3, ackPending: 1, redelivered: 0 }], state, clients: 2, subscriptions: 3, droppedEvents: 0 });
    assert.match(text, /^vigil_events_total\{kind="obs",type="obs.worker.started"\} 2$/m);
    assert.match(text, /^vigil_consumer_pending_messages\{consumer="decider"\} 3$/m);
    assert.match(text, /^vigil_worker_restarts_total\{worker="sensor"\} 2$/m);
    assert.match(text, /^vigil_incidents_open 1$/m);
    assert.match(text, /^vigil_telemetry_breaker_state\{state="open"\} 1$/m);
    assert.match(text, /^vigil_gateway_clients 2$/m);
  });
});
