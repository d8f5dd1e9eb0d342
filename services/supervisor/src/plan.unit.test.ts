import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { plan, type Intent, type WorkerFacts, type WorkerSpec } from "./plan.js";

const proc = (name: string): WorkerSpec => ({ name, kind: "process" });
const box = (name: string): WorkerSpec => ({ name, kind: "container" });
const cmd = (action: Extract<Intent, { kind: "command" }>["action"], worker: string, extra: { delayMs?: number; signal?: NodeJS.Signals } = {}): Intent => ({ kind: "command", action, worker, ...extra });

/** given desired and current, when the intent, then the plan */
const given = (desired: WorkerSpec[], current: WorkerFacts[] = []) => ({ when: (intent: Intent) => plan(desired, current, intent) });

describe("command planner", () => {
  it("restarts a running worker by stopping then starting it, an exited one by starting it", () => {
    assert.deepEqual(given([proc("s")], [{ name: "s", status: "running", pid: 1 }]).when(cmd("restart", "s")), { ok: true, outcome: "out.worker.restarted", steps: [{ action: "stop", worker: "s" }, { action: "start", worker: "s" }] });
    assert.deepEqual(given([proc("s")], [{ name: "s", status: "exited" }]).when(cmd("restart", "s", { delayMs: 200 })), { ok: true, outcome: "out.worker.restarted", steps: [{ action: "wait", ms: 200 }, { action: "start", worker: "s" }] });
  });

  it("plans nothing for a command that is already satisfied, and still reports the outcome", () => {
    assert.deepEqual(given([proc("s")], [{ name: "s", status: "paused", pid: 1 }]).when(cmd("pause", "s")), { ok: true, outcome: "out.worker.paused", steps: [] });
    assert.deepEqual(given([proc("s")], [{ name: "s", status: "stopped" }]).when(cmd("stop", "s")), { ok: true, outcome: "out.worker.stopped", steps: [] });
  });

  it("rejects commands for undeclared workers, naming the ones that exist", () => {
    const p = given([proc("sensor")]).when(cmd("restart", "rm -rf"));
    assert.equal(p.ok, false);
    assert.match(p.ok ? "" : p.reason, /unknown worker "rm -rf".*declared: sensor/);
  });

  it("rejects pausing or killing a worker that is not running", () => {
    assert.equal(given([proc("s")], [{ name: "s", status: "stopped" }]).when(cmd("pause", "s")).ok, false);
    assert.equal(given([proc("s")], [{ name: "s", status: "exited" }]).when(cmd("kill", "s")).ok, false);
  });
});

describe("planner over desired and current workers", () => {
  it("given a worker with no facts yet, when it is commanded, then it counts as stopped", () => {
    assert.deepEqual(given([proc("s")]).when(cmd("start", "s")), { ok: true, outcome: "out.worker.started", steps: [{ action: "start", worker: "s" }] });
    assert.deepEqual(given([proc("s")], [{ name: "s", status: "running", pid: 4 }]).when(cmd("kill", "s", { signal: "SIGTERM" })), { ok: true, outcome: "out.worker.killed", steps: [{ action: "kill", worker: "s", signal: "SIGTERM" }] });
  });

  it("given nothing running, when converging (boot), then every declared worker of the kind starts, in declaration order", () => {
    const desired = [proc("a"), box("plc"), proc("b")];
    assert.deepEqual(given(desired).when({ kind: "converge", only: "process" }), { ok: true, outcome: "obs.worker.started", steps: [{ action: "start", worker: "a" }, { action: "start", worker: "b" }] });
    assert.deepEqual(given(desired).when({ kind: "converge", only: "container" }), { ok: true, outcome: "obs.worker.started", steps: [{ action: "start", worker: "plc" }] });
  });

  it("given a running worker no longer declared and a declared one not running, when converging (a reload), then the removed one stops first and the running declared one is untouched", () => {
    const p = given([proc("a"), proc("c")], [{ name: "a", status: "running", pid: 1 }, { name: "old", status: "paused", pid: 2 }]).when({ kind: "converge" });
    assert.deepEqual(p, { ok: true, outcome: "obs.worker.started", steps: [{ action: "stop", worker: "old" }, { action: "start", worker: "c" }] });
  });

  it("given the reflex's backoff is over, when the worker is running again (someone started it), then nothing; when it is not, then a start", () => {
    assert.deepEqual(given([proc("s")], [{ name: "s", status: "running", pid: 9 }]).when({ kind: "reflex-restart", worker: "s" }), { ok: true, outcome: "out.worker.restarted", steps: [] });
    assert.deepEqual(given([proc("s")], [{ name: "s", status: "exited" }]).when({ kind: "reflex-restart", worker: "s" }), { ok: true, outcome: "out.worker.restarted", steps: [{ action: "start", worker: "s" }] });
    assert.equal(given([]).when({ kind: "reflex-restart", worker: "s" }).ok, false);
  });

  it("given a declared container, when reattached with a delay, then wait then reattach; a process worker or an unknown name is refused, naming the containers", () => {
    const desired = [proc("sensor"), box("plc")];
    assert.deepEqual(given(desired).when({ kind: "reattach", worker: "plc", interface: "eth1", subnet: "10.0.9.0/24", delayMs: 50 }), {
      ok: true,
      outcome: "out.container.reattached",
      steps: [{ action: "wait", ms: 50 }, { action: "reattach", worker: "plc", interface: "eth1", subnet: "10.0.9.0/24" }],
    });
    for (const worker of ["sensor", "nope"]) {
      const p = given(desired).when({ kind: "reattach", worker, interface: "eth1" });
      assert.match(p.ok ? "" : p.reason, new RegExp(`unknown container workload "${worker}".*declared: plc\\)`));
    }
  });
});
