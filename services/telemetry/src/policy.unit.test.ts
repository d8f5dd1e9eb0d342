import { test } from "node:test";
import assert from "node:assert/strict";
import { backoffMs, bisect, chunkBySize, judgeResponse, lostBetween, retryAfterMs, shouldForward, subjectSuffix } from "./policy.js";

const NOW = Date.parse("2026-01-01T00:00:00Z");

test("given a 2xx, when judged, then the batch is delivered", () => {
  assert.deepEqual(judgeResponse(200, undefined, "{}", NOW, 100), { kind: "delivered" });
  assert.deepEqual(judgeResponse(204, undefined, "", NOW, 100), { kind: "delivered" });
});

test("given a 429 with Retry-After, when judged, then we wait as long as the cloud asks (seconds or a date)", () => {
  assert.deepEqual(judgeResponse(429, "3", "", NOW, 100), { kind: "throttled", waitMs: 3000 });
  assert.deepEqual(judgeResponse(429, new Date(NOW + 1500).toUTCString(), "", NOW, 100), { kind: "throttled", waitMs: 1000 }); // HTTP dates have 1 s resolution
  assert.deepEqual(judgeResponse(429, undefined, "", NOW, 100), { kind: "throttled", waitMs: 100 });
});

test("given a 4xx about the content, when judged, then the batch is blamed with the cloud's reason", () => {
  const v = judgeResponse(422, undefined, JSON.stringify({ error: "event 3 invalid: data.pid: expected number" }), NOW, 100);
  assert.deepEqual(v, { kind: "blamed", reason: "422: event 3 invalid: data.pid: expected number" });
  assert.equal(judgeResponse(413, undefined, "", NOW, 100).kind, "blamed");
  assert.equal(judgeResponse(400, undefined, "not json", NOW, 100).kind, "blamed");
});

test("given 401/403, 5xx, 404 or 408, when judged, then it is a failure (retry, counts against the breaker)", () => {
  const auth = judgeResponse(401, undefined, JSON.stringify({ error: "signature does not match" }), NOW, 100);
  assert.equal(auth.kind, "failed");
  assert.match((auth as { reason: string }).reason, /credentials \(401: signature does not match\).*telemetry\.secret/);
  for (const s of [403, 404, 408, 500, 502, 503]) assert.equal(judgeResponse(s, undefined, "", NOW, 100).kind, "failed", String(s));
});

test("Retry-After: unreadable or absent is undefined, huge values are capped", () => {
  assert.equal(retryAfterMs(undefined, NOW), undefined);
  assert.equal(retryAfterMs("soon", NOW), undefined);
  assert.equal(retryAfterMs("99999", NOW), 600_000);
  assert.equal(retryAfterMs(new Date(NOW - 5000).toUTCString(), NOW), 0);
});

test("backoff doubles from the base up to the cap, with jitter in the upper half", () => {
  assert.equal(backoffMs(0, 100, 10_000, 0), 50);
  assert.equal(backoffMs(0, 100, 10_000, 1), 100);
  assert.equal(backoffMs(3, 100, 10_000, 1), 800);
  assert.equal(backoffMs(20, 100, 10_000, 1), 10_000);
  assert.equal(backoffMs(1000, 100, 10_000, 0.5), 7_500);
});

test("downsampling: one in N of a rule's subject, none for 0, everything else always", () => {
  const rules = { "obs.health.sample": 3, "obs.noise": 0 };
  const forwarded = [0, 1, 2, 3, 4, 5, 6].filter((seen) => shouldForward("obs.health.sample", rules, seen));
  assert.deepEqual(forwarded, [0, 3, 6]);
  assert.equal(shouldForward("obs.noise", rules, 0), false);
  assert.equal(shouldForward("obs.worker.exited", rules, 5), true);
  assert.equal(subjectSuffix("vigil.edge-001.obs.health.sample"), "obs.health.sample");
});

test("given a jump in delivered sequences over sequences the stream no longer has, then exactly those are lost", () => {
  // Delivered 100, next delivered 5000, the stream now starts at 4001: 101..4000 were discarded.
  assert.deepEqual(lostBetween(100, 5000, 4001), { count: 3900, fromSeq: 101, toSeq: 4000 });
  // The stream has discarded even what we now received: everything in between is gone.
  assert.deepEqual(lostBetween(100, 200, 300), { count: 99, fromSeq: 101, toSeq: 199 });
});

test("given a jump over sequences that still exist (other subjects), then nothing is lost", () => {
  assert.equal(lostBetween(100, 150, 1), undefined);
  assert.equal(lostBetween(100, 101, 500), undefined);
});

test("bisect halves a batch; chunkBySize keeps each run within the byte budget", () => {
  assert.deepEqual(bisect([1, 2, 3, 4, 5]), [[1, 2, 3], [4, 5]]);
  assert.deepEqual(bisect([1, 2]), [[1], [2]]);
  assert.deepEqual(chunkBySize([40, 40, 40, 40], 100), [[0, 2], [2, 4]]);
  assert.deepEqual(chunkBySize([500, 10], 100), [[0, 1], [1, 2]]); // an event larger than the budget goes alone
  assert.deepEqual(chunkBySize([], 100), []);
});
