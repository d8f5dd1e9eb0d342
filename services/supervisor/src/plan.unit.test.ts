import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { planCommand } from "./plan.js";

describe("command planner", () => {
  it("restarts a running worker by stopping then starting it, an exited one by starting it", () => {
    assert.deepEqual(planCommand("restart", "s", { declared: true, status: "running", pid: 1 }), { ok: true, outcome: "out.worker.restarted", steps: [{ action: "stop" }, { action: "start" }] });
    assert.deepEqual(planCommand("restart", "s", { declared: true, status: "exited" }, { delayMs: 200 }), { ok: true, outcome: "out.worker.restarted", steps: [{ action: "wait", ms: 200 }, { action: "start" }] });
  });

  it("plans nothing for a command that is already satisfied, and still reports the outcome", () => {
    assert.deepEqual(planCommand("pause", "s", { declared: true, status: "paused", pid: 1 }), { ok: true, outcome: "out.worker.paused", steps: [] });
    assert.deepEqual(planCommand("stop", "s", { declared: true, status: "stopped" }), { ok: true, outcome: "out.worker.stopped", steps: [] });
  });

  it("rejects commands for undeclared workers, naming the ones that exist", () => {
    const p = planCommand("restart", "rm -rf", { declared: false, status: "stopped" }, { declared: ["sensor"] });
    assert.equal(p.ok, false);
    assert.match((p as { reason: string }).reason, /unknown worker "rm -rf".*declared: sensor/);
  });

  it("rejects pausing or killing a worker that is not running", () => {
    assert.equal(planCommand("pause", "s", { declared: true, status: "stopped" }).ok, false);
    assert.equal(planCommand("kill", "s", { declared: true, status: "exited" }).ok, false);
  });
});
