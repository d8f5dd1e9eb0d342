import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { makeEvent } from "@vigil/events";
import { compareDecisions, summarizeDecision } from "./redecide.js";

const D = "d1";
const exit = makeEvent(D, `vigil/${D}/supervisor`, "obs.worker.exited", { worker: "s", pid: 5, code: null, signal: "SIGKILL", expected: false, uptimeMs: 10 }, { incident: "inc" });
const decided = (delayMs: number) =>
  makeEvent(D, `vigil/${D}/decider`, "dec.remediation.decided", { worker: "s", policy: "crash-restart", action: "restart", attempt: 1, delayMs, reason: "r" }, { incident: "inc", causation: exit.id, correlation: "inc" });

describe("re-decide: recorded vs current decisions", () => {
  it("given the same decisions, then each trigger is marked same", () => {
    const d = compareDecisions([exit, decided(100)], [decided(100)]);
    assert.equal(d.length, 1);
    assert.equal(d[0]!.same, true);
  });
  it("given a policy that now waits longer, then the trigger is marked as differing, with both sides", () => {
    const d = compareDecisions([exit, decided(100)], [decided(400)]);
    assert.equal(d[0]!.same, false);
    assert.deepEqual([d[0]!.recorded.map(summarizeDecision), d[0]!.redecided.map(summarizeDecision)], [["decide restart s (crash-restart, attempt 1, delay 100 ms)"], ["decide restart s (crash-restart, attempt 1, delay 400 ms)"]]);
  });
  it("given a decider that would no longer act, then the difference shows nothing on its side", () => {
    const d = compareDecisions([exit, decided(100)], []);
    assert.equal(d[0]!.same, false);
    assert.equal(d[0]!.redecided.length, 0);
  });
});
