import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeEvent, EnvelopeSchema, InvalidEventError, makeEvent } from "./codec.js";
import { isIsoDateTimeWithOffset, isPlainValidEnvelope } from "./envelope-check.js";

const ev = () => makeEvent("edge-001", "vigil/edge-001/test", "obs.worker.stable", { worker: "w", pid: 1, uptimeMs: 5 }) as unknown as Record<string, unknown>;

/** Envelope variants, good and bad, field by field (what a broken or hostile publisher could send). */
function variants(): unknown[] {
  const e = ev();
  const values: unknown[] = [undefined, null, "", "x", "1.0", "application/json", "io.vigil.obs.worker.stable", "io.vigil.", 0, 1, true, [], {}, "a".repeat(128), "a".repeat(129), "a".repeat(257)];
  const times = ["2024-02-29T10:00:00Z", "2023-02-29T10:00:00Z", "2100-02-29T10:00:00Z", "2000-02-29T10:00:00.5Z", "2024-04-31T00:00:00Z", "2024-04-30T23:59:59+02:00", "2024-01-31T00:00:00-12:00", "2024-13-01T00:00:00Z", "2024-00-10T00:00:00Z", "2024-01-00T00:00:00Z", "2024-01-01T24:00:00Z", "2024-01-01T10:60:00Z", "2024-01-01T10:00:60Z", "2024-01-01T10:00Z", "2024-01-01t10:00:00Z", "2024-01-01T10:00:00+0100", "2024-01-01T10:00:00+24:00", "2024-01-01T10:00:00.Z", "2024-01-01 10:00:00Z", " 2024-01-01T10:00:00Z", "2024-01-01T10:00:00Z\n", "2024-01-01T10:00:00.123456789Z", "0000-02-29T00:00:00Z", "1900-02-29T00:00:00Z"];
  const out: unknown[] = [e, null, [], "s", 1, { ...e, extra: 1 }, { ...e, incident: "i", causation: "c", correlation: "r" }];
  for (const k of [...Object.keys(EnvelopeSchema.shape)]) {
    for (const v of values) out.push({ ...e, [k]: v });
    const without = { ...e };
    delete without[k];
    out.push(without);
  }
  for (const t of times) out.push({ ...e, time: t });
  return out;
}

test("the hand-written envelope check passes only what EnvelopeSchema passes, and passes the usual event", () => {
  assert.equal(isPlainValidEnvelope(ev()), true);
  let fast = 0;
  for (const v of variants()) {
    if (!isPlainValidEnvelope(v)) continue;
    fast++;
    const z = EnvelopeSchema.safeParse(v);
    assert.equal(z.success, true, `fast check passed what the schema refuses: ${JSON.stringify(v)}`);
    assert.deepEqual(z.data, v, `the schema would have changed it: ${JSON.stringify(v)}`);
  }
  assert.ok(fast > 10, `only ${fast} variants took the fast way`);
});

test("dates: the days of each month, leap years by the Gregorian rule, the offset forms the schema takes", () => {
  for (const [t, ok] of [
    ["2024-02-29T00:00:00Z", true],
    ["2023-02-29T00:00:00Z", false],
    ["2000-02-29T00:00:00Z", true],
    ["1900-02-29T00:00:00Z", false],
    ["2024-06-31T00:00:00Z", false],
    ["2024-07-31T00:00:00.001+05:30", true],
    ["2024-07-31T00:00:00", false],
  ] as const) {
    assert.equal(isIsoDateTimeWithOffset(t), ok, t);
    assert.equal(EnvelopeSchema.shape.time.safeParse(t).success, ok, `schema on ${t}`);
  }
});

test("decodeEvent: the usual event takes the fast way unchanged; the others still get the schema's error naming the field, or are stripped", () => {
  const e = ev();
  const bytes = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));
  assert.deepEqual(decodeEvent(e.subject as string, bytes(e)), e);
  assert.throws(() => decodeEvent(e.subject as string, bytes({ ...e, time: "yesterday" })), (err: Error) => err instanceof InvalidEventError && /not a Vigil CloudEvent: time: /.test(err.message));
  assert.throws(() => decodeEvent(e.subject as string, bytes({ ...e, id: "" })), /not a Vigil CloudEvent: id: /);
  assert.equal("extra" in decodeEvent(e.subject as string, bytes({ ...e, extra: 1 })), false, "an unknown key is stripped by the schema, as before");
});
