import { test } from "node:test";
import assert from "node:assert/strict";
import { makeEvent } from "@vigil/events";
import { FaultsSchema, pickFault } from "./faults.js";
import { sign, verify } from "./signature.js";
import { validateBatch, validateEvent } from "./validate.js";

const ev = () => makeEvent("edge-001", "vigil/edge-001/test", "obs.worker.stable", { worker: "w", pid: 1, uptimeMs: 5 });

test("a signature made with the secret verifies; another secret, another body or no header do not", () => {
  const body = Buffer.from("[1,2,3]");
  const sig = sign("s3cret-s3cret-s3cret", body);
  assert.match(sig, /^sha256=[0-9a-f]{64}$/);
  assert.equal(verify("s3cret-s3cret-s3cret", body, sig), true);
  assert.equal(verify("other-secret-other", body, sig), false);
  assert.equal(verify("s3cret-s3cret-s3cret", Buffer.from("[1,2]"), sig), false);
  assert.equal(verify("s3cret-s3cret-s3cret", body, undefined), false);
  assert.equal(verify("s3cret-s3cret-s3cret", body, "sha256=00"), false);
});

test("a valid event passes; each kind of bad event is refused naming the problem", () => {
  const e = ev();
  assert.equal(validateEvent(e).ok, true);
  const bad = (x: unknown) => {
    const r = validateEvent(x);
    assert.equal(r.ok, false);
    return (r as { reason: string }).reason;
  };
  assert.match(bad({ ...e, specversion: "0.3" }), /specversion/);
  assert.match(bad({ ...e, type: "io.vigil.obs.nope" }), /unknown event type/);
  assert.match(bad({ ...e, data: { worker: "w", pid: "x", uptimeMs: 1 } }), /data\.pid/);
  assert.match(bad({ ...e, subject: "vigil.other.obs.worker.stable" }), /should be vigil\.edge-001\.obs\.worker\.stable/);
  assert.match(bad("just a string"), /not a Vigil CloudEvent/);
});

test("a service's heartbeat, on the subject that names the service, passes; on the shared subject it is refused", () => {
  const hb = makeEvent("edge-001", "vigil/edge-001/decider", "sys.service.heartbeat", { service: "decider", pid: 7, uptimeMs: 1, rssBytes: 1 });
  assert.equal(hb.subject, "vigil.edge-001.sys.service.decider.heartbeat");
  assert.equal(validateEvent(hb).ok, true);
  const r = validateEvent({ ...hb, subject: "vigil.edge-001.sys.service.heartbeat" });
  assert.equal(r.ok, false);
});

test("a batch must be an array; one bad event refuses the batch and names its index and id", () => {
  assert.equal(validateBatch({}).ok, false);
  const good = ev();
  const r = validateBatch([good, { ...ev(), data: {} }]);
  assert.equal(r.ok, false);
  const f = r as { error: string; rejected: Array<{ index: number; id?: string }> };
  assert.equal(f.rejected[0]!.index, 1);
  assert.match(f.error, /index 1/);
  assert.deepEqual(validateBatch([good]), { ok: true, events: [good] });
});

test("faults: hang wins, then the error rate decides by the random draw", () => {
  const f = FaultsSchema.parse({ errorRate: 0.3, status: 503, retryAfterS: 2 });
  assert.deepEqual(pickFault(f, 0.1), { kind: "error", status: 503, retryAfterS: 2 });
  assert.deepEqual(pickFault(f, 0.5), { kind: "none" });
  assert.deepEqual(pickFault({ ...f, hang: true }, 0.9), { kind: "hang" });
  assert.equal(FaultsSchema.safeParse({ errorRate: 2 }).success, false);
  assert.equal(FaultsSchema.safeParse({ nope: 1 }).success, false);
});
