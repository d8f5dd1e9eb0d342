import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CATALOG, type EventName } from "./catalog.js";
import { decodeEvent, encodeEvent, InvalidEventError, makeEvent } from "./codec.js";
import { EVENT_OWNERS, eventSubject, sourceMismatch } from "./owners.js";

const D = "edge-1";
const exited = (source: string) => makeEvent(D, source, "obs.worker.exited", { worker: "sensor", pid: 9, code: null, signal: "SIGKILL", expected: false, uptimeMs: 5 });
const beat = (source: string, service: string) => makeEvent(D, source, "sys.service.heartbeat", { service, pid: 1, uptimeMs: 1, rssBytes: 1 });

describe("EVENT_OWNERS: who may publish each event type", () => {
  it("every catalog type has at least one owner", () => {
    for (const n of Object.keys(CATALOG) as EventName[]) assert.ok(EVENT_OWNERS[n].length > 0, n);
    assert.deepEqual(Object.keys(EVENT_OWNERS).sort(), Object.keys(CATALOG).sort());
  });

  it("lifecycle events go on their service's own subject, and decode only there", () => {
    const hb = beat(`vigil/${D}/decider`, "decider");
    assert.equal(hb.subject, `vigil.${D}.sys.service.decider.heartbeat`);
    assert.equal(hb.type, "io.vigil.sys.service.heartbeat");
    assert.equal(decodeEvent(hb.subject, encodeEvent(hb)).id, hb.id);
    // The decider's heartbeat data on the supervisor's subject: refused, naming where it belongs.
    const moved = encodeEvent({ ...hb, subject: `vigil.${D}.sys.service.supervisor.heartbeat` });
    assert.throws(() => decodeEvent(`vigil.${D}.sys.service.supervisor.heartbeat`, moved), (e: Error) => e instanceof InvalidEventError && /belongs on vigil\.edge-1\.sys\.service\.decider\.heartbeat/.test(e.message));
    assert.equal(eventSubject(D, "obs.worker.exited"), `vigil.${D}.obs.worker.exited`);
  });

  it("a source naming a service that does not own the type is a mismatch naming both", () => {
    assert.equal(sourceMismatch(exited(`vigil/${D}/supervisor`), "obs.worker.exited"), undefined);
    const why = sourceMismatch(exited(`vigil/${D}/netmon`), "obs.worker.exited");
    assert.match(why ?? "", /\(service netmon\) may not publish obs\.worker\.exited: only supervisor may/);
    assert.match(sourceMismatch(exited(`vigil/other/supervisor`), "obs.worker.exited") ?? "", /another device/);
  });

  it("a heartbeat is accepted only from the service it names", () => {
    assert.equal(sourceMismatch(beat(`vigil/${D}/decider`, "decider"), "sys.service.heartbeat"), undefined);
    assert.match(sourceMismatch(beat(`vigil/${D}/supervisor`, "decider"), "sys.service.heartbeat") ?? "", /of service decider: only decider may/);
    assert.match(sourceMismatch(beat(`vigil/${D}/health`, "health"), "sys.service.heartbeat") ?? "", /only supervisor, decider may/);
  });

  it("admin-side tools (not a Vigil service) are accepted: only admin's rights can have published them", () => {
    assert.equal(sourceMismatch(makeEvent(D, `vigil/${D}/chaos-load`, "obs.demo.reading", { sensor: "load", seq: 1, value: 1 }), "obs.demo.reading"), undefined);
    assert.equal(sourceMismatch(exited(`vigil/${D}/bench`), "obs.worker.exited"), undefined);
    assert.equal(sourceMismatch(beat(`vigil/${D}/bench`, "bench"), "sys.service.heartbeat"), undefined);
  });
});
