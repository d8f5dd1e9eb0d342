import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { eventName, is } from "@vigil/events";
import { anyString, decision, matching, scenario } from "../../core/given.test-helper.js";

const { at, given, started } = scenario({ workers: [{ name: "base", command: "x" }] });
const applied = (ms: number, version = 7, window = 10) => at(ms, "out.deployment.applied", { version, change: "c", workers: ["filter"], healthWindowSeconds: window, failed: 0 });
const crashed = (ms: number) => at(ms, "obs.worker.exited", { worker: "filter", pid: 21, code: 1, signal: null, expected: false, uptimeMs: 300 });
const beat = (ms: number) => at(ms, "sys.service.heartbeat", { service: "supervisor", pid: 5, uptimeMs: ms, rssBytes: 1 });

describe("deployment policy: the health gate (clock-free, event time)", () => {
  it("given an applied deployment whose workers run, when the first event after the window comes, then it is healthy", () => {
    given(started(0, "filter", 21), applied(100)).when(beat(5_000)).thenNothing();
    given(started(0, "filter", 21), applied(100)).when(beat(10_200)).then([decision("dec.deployment.healthy", { version: 7, workers: ["filter"], windowMs: 10_000 })]);
  });

  it("when a deployed worker crashes inside the window, then a rollback under the crash's own incident (one incident)", () => {
    const h = [started(0, "filter", 21), applied(100)];
    const r = given(...h).when(crashed(2_000));
    const inc = r.decisions.find((d) => eventName(d) === "dec.incident.opened")!.incident;
    const rb = r.decisions.filter((d) => is(d, "cmd.deployment.rollback"));
    assert.equal(rb.length, 1);
    assert.equal(rb[0]!.incident, inc, "the rollback runs under the incident crash-restart opened for the same exit");
    assert.equal(r.decisions.filter((d) => eventName(d) === "dec.incident.opened").length, 1);
    assert.match(rb[0]!.data.reason, /filter exited with code 1 1\.9 s into the 10 s health window of deployment 7/);
    // Decided once: the window is closed by its own decision, a heartbeat after it says nothing.
    given(...h, crashed(2_000), ...r.decisions).when(beat(20_000)).thenNothing();
  });

  it("when a deployed worker is not running at the window's end, then a rollback in a new incident of the deployment policy", () => {
    given(applied(100))
      .when(beat(10_500))
      .then([
        decision("dec.incident.opened", { worker: "filter", reason: matching(/filter not running at the end of the 10 s health window/), policy: "deployment" }, "#a"),
        decision("cmd.deployment.rollback", { version: 7, worker: "filter", reason: anyString, requestedBy: "decider" }, "#a"),
      ]);
  });

  it("when the rollback's own apply arrives, then the incident is resolved", () => {
    const h = [started(0, "filter", 21), applied(100)];
    const crash = crashed(2_000);
    const d = given(...h).when(crash).decisions;
    const rb = d.find((x) => eventName(x) === "cmd.deployment.rollback")!;
    const back = at(3_000, "out.deployment.applied", { version: 6, change: "r", workers: ["old"], healthWindowSeconds: 0, failed: 0, rollback: true, from: 7 }, rb.incident);
    given(...h, crash, ...d).when(back).then([decision("dec.incident.resolved", { worker: "filter", reason: "deployment 7 rolled back to version 6" }, rb.incident)]);
  });
});
