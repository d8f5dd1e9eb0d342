import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { makeEvent } from "@vigil/events";
import { addSources, deviceOfSource, deviceReport, formatReports, openIncidents, removeSources } from "./fleet-core.js";

const src = (d: string) => ({ name: "VIGIL", external: { api: `$JS.${d}.API`, deliver: `uplink.${d}` } });

describe("fleet: the fleet stream's sources", () => {
  it("given no sources, when two devices are added, then each is sourced from VIGIL through its domain", () => {
    const c = addSources([], ["dev-1", "dev-2"], "VIGIL");
    assert.deepEqual(c.sources, [src("dev-1"), src("dev-2")]);
    assert.deepEqual([c.changed, c.unchanged], [["dev-1", "dev-2"], []]);
  });
  it("given a sourced device, when it is added again, then nothing changes (its position is kept)", () => {
    const c = addSources([src("dev-1")], ["dev-1", "dev-1"], "VIGIL");
    assert.deepEqual([c.sources, c.changed, c.unchanged], [[src("dev-1")], [], ["dev-1"]]);
  });
  it("given two devices, when one is removed twice, then the second time reports it was not there", () => {
    const first = removeSources([src("dev-1"), src("dev-2")], ["dev-2"]);
    assert.deepEqual([first.sources, first.changed], [[src("dev-1")], ["dev-2"]]);
    const again = removeSources(first.sources, ["dev-2"]);
    assert.deepEqual([again.sources, again.changed, again.unchanged], [[src("dev-1")], [], ["dev-2"]]);
  });
  it("given a source written with the client's domain option or with external.api, then the device is found either way", () => {
    assert.equal(deviceOfSource({ name: "VIGIL", domain: "dev-9" }), "dev-9");
    assert.equal(deviceOfSource(src("dev-9")), "dev-9");
    assert.equal(deviceOfSource({ name: "OTHER" }), undefined);
  });
});

describe("fleet: what a device's sourced events say", () => {
  const D = "dev-1";
  const opened = (inc: string, worker: string) => makeEvent(D, `vigil/${D}/decider`, "dec.incident.opened", { worker, reason: "crashed" }, { incident: inc });
  it("given incidents opened, one resolved and one escalated, then only the third is open", () => {
    const events = [
      opened("i1", "a"),
      opened("i2", "b"),
      opened("i3", "c"),
      makeEvent(D, `vigil/${D}/decider`, "dec.incident.resolved", { worker: "a", reason: "stable" }, { incident: "i1" }),
      makeEvent(D, `vigil/${D}/decider`, "dec.incident.escalated", { worker: "b", reason: "flapping", restarts: 6, windowMs: 60_000 }, { incident: "i2" }),
    ];
    assert.deepEqual(openIncidents(events).map((i) => [i.id, i.worker]), [["i3", "c"]]);
  });
  it("given a source entry with lag and activity and the last events, then the report has them and the table shows them", () => {
    const hb = makeEvent(D, `vigil/${D}/supervisor`, "sys.service.heartbeat", { service: "supervisor", pid: 1, uptimeMs: 1, rssBytes: 1 }, { time: "2026-01-01T00:00:50.000Z" });
    const r = deviceReport(D, { name: "VIGIL", lag: 7, active: 2_000_000_000 } as never, { last: hb, heartbeat: hb, incidents: [opened("i3", "c")] });
    assert.deepEqual([r.sourced, r.lag, r.activeMs, r.lastHeartbeat, r.openIncidents.length], [true, 7, 2000, "2026-01-01T00:00:50.000Z", 1]);
    const table = formatReports([r, deviceReport("dev-2", undefined, { incidents: [] })], Date.parse("2026-01-01T00:01:00.000Z"));
    assert.match(table, /dev-1\s+yes\s+7\s+10s ago sys\.service\.heartbeat\s+10s ago\s+1 \(c\)\s+active 2s ago/);
    assert.match(table, /dev-2\s+no\s+-\s+never\s+never\s+0\s+-/);
  });
});
