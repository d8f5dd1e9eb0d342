import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { decodeEvent, encodeEvent, makeEvent, InvalidEventError } from "./codec.js";
import { derivedId } from "./envelope.js";
import { deadLetterSubject, parseSubject, subjectFor } from "./subjects.js";

const enc = (s: string) => new TextEncoder().encode(s);

describe("event envelope", () => {
  it("builds a CloudEvents 1.0 event on the subject of its kind and type", () => {
    const e = makeEvent("edge-001", "vigil/edge-001/supervisor", "obs.worker.exited", {
      worker: "sensor", pid: 42, code: null, signal: "SIGKILL", expected: false, uptimeMs: 1200,
    }, { incident: "inc-1" });
    assert.equal(e.specversion, "1.0");
    assert.equal(e.type, "io.vigil.obs.worker.exited");
    assert.equal(e.subject, "vigil.edge-001.obs.worker.exited");
    assert.equal(e.incident, "inc-1");
    assert.equal(e.datacontenttype, "application/json");
    const back = decodeEvent(e.subject, encodeEvent(e));
    assert.deepEqual(back, e);
  });

  it("refuses data that fails its schema, naming the field", () => {
    assert.throws(
      () => makeEvent("edge-001", "s", "cmd.worker.restart", { worker: "bad name!" } as never),
      (err: Error) => err instanceof InvalidEventError && /data\.worker/.test(err.message),
    );
  });

  it("names what is wrong with a received payload", () => {
    const cases: Array<[string, RegExp]> = [
      ["not json", /not JSON/],
      ["{}", /not a Vigil CloudEvent: specversion/],
      [JSON.stringify({ ...makeEvent("d", "s", "obs.worker.stable", { worker: "w", pid: 1, uptimeMs: 1 }), type: "io.vigil.obs.nope" }), /unknown event type/],
      [JSON.stringify({ ...makeEvent("d", "s", "obs.worker.stable", { worker: "w", pid: 1, uptimeMs: 1 }), data: { worker: "w" } }), /data\.pid/],
    ];
    for (const [payload, reason] of cases) {
      assert.throws(() => decodeEvent("vigil.d.obs.worker.stable", enc(payload)), reason, payload);
    }
  });

  it("refuses an event published on a subject that is not its own", () => {
    const e = makeEvent("d", "s", "obs.worker.stable", { worker: "w", pid: 1, uptimeMs: 1 });
    assert.throws(() => decodeEvent("vigil.d.cmd.worker.restart", encodeEvent(e)), /belongs on vigil\.d\.obs\.worker\.stable/);
  });
});

describe("ids and subjects", () => {
  it("derives the same id from the same parts, a different one otherwise", () => {
    assert.equal(derivedId("a", "b"), derivedId("a", "b"));
    assert.notEqual(derivedId("a", "b"), derivedId("ab"));
    assert.match(derivedId("x"), /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it("builds and parses vigil.<device>.<kind>.<type…>", () => {
    assert.equal(subjectFor("edge-001", "cmd", "worker.restart"), "vigil.edge-001.cmd.worker.restart");
    assert.deepEqual(parseSubject("vigil.edge-001.out.worker.restarted"), { device: "edge-001", kind: "out", name: "worker.restarted" });
    assert.equal(parseSubject("vigil.edge-001.zzz.x"), undefined);
    assert.equal(deadLetterSubject("e"), "vigil.e.sys.deadletter");
  });
});
