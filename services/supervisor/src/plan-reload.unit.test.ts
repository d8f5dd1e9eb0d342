import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { diffWorkers, plan, startOrder, type Intent, type WorkerFacts, type WorkerSpec } from "./plan.js";

/** A process worker with the settings a reload compares (only `args` varies here) and its dependencies. */
const w = (name: string, o: { args?: string; dependsOn?: string[]; restartWithDependency?: boolean } = {}): WorkerSpec => ({
  name,
  kind: "process",
  settings: { command: '"node"', args: o.args ?? "[]" },
  dependsOn: o.dependsOn ?? [],
  restartWithDependency: o.restartWithDependency ?? false,
});
const running = (name: string, pid: number): WorkerFacts => ({ name, status: "running", pid });
const reload = (previous: WorkerSpec[]): Intent => ({ kind: "converge", only: "process", previous });
const steps = (p: ReturnType<typeof plan>) => (p.ok ? p.steps.map((s) => `${s.action} ${"worker" in s ? s.worker : ""}`) : [`refused: ${p.reason}`]);

describe("reload planner (given previous, desired and current → steps)", () => {
  it("given one worker added, one removed, one changed and one unchanged, then four steps: stop removed, stop changed, start changed, start added; the unchanged one is untouched", () => {
    const previous = [w("keep"), w("gone"), w("change", { args: '["1"]' })];
    const desired = [w("keep"), w("change", { args: '["2"]' }), w("fresh")];
    const current = [running("keep", 1), running("gone", 2), running("change", 3)];
    assert.deepEqual(steps(plan(desired, current, reload(previous))), ["stop gone", "stop change", "start change", "start fresh"]);
    assert.deepEqual(diffWorkers(previous, desired), { added: ["fresh"], removed: ["gone"], changed: [{ worker: "change", fields: ["args"] }], unchanged: ["keep"] });
  });

  it("given nothing changed, then no step at all", () => {
    const specs = [w("a"), w("b", { dependsOn: ["a"] })];
    assert.deepEqual(steps(plan(specs, [running("a", 1), running("b", 2)], reload(specs))), []);
  });

  it("given a changed worker that is not running, then it only starts (with its new settings)", () => {
    assert.deepEqual(steps(plan([w("a", { args: '["2"]' })], [{ name: "a", status: "exited" }], reload([w("a")]))), ["start a"]);
  });

  it("given an env-only change, then the worker restarts and the diff names the field", () => {
    const before: WorkerSpec = { ...w("a"), settings: { command: '"node"', env: '{"A":"1","B":"2"}' } };
    const sameEnvOtherOrder: WorkerSpec = { ...w("a"), settings: { command: '"node"', env: '{"A":"1","B":"2"}' } };
    const after: WorkerSpec = { ...w("a"), settings: { command: '"node"', env: '{"A":"1","B":"3"}' } };
    assert.deepEqual(diffWorkers([before], [sameEnvOtherOrder]).unchanged, ["a"]);
    assert.deepEqual(diffWorkers([before], [after]).changed, [{ worker: "a", fields: ["env"] }]);
  });

  it("given a worker the operator stopped, then a reload does not start it, and says why (held)", () => {
    const p = plan([w("sensor"), w("other")], [{ name: "sensor", status: "stopped", stoppedByOperator: true }], reload([w("sensor")]));
    assert.deepEqual(steps(p), ["start other"]);
    assert.deepEqual(p.ok && p.held, [{ worker: "sensor", reason: "stopped by the operator (vigil start to run it again)" }]);
  });

  it("given a dependency held by the operator, then its stopped dependents are held too", () => {
    const p = plan([w("db"), w("api", { dependsOn: ["db"] })], [{ name: "db", status: "stopped", stoppedByOperator: true }], { kind: "converge", only: "process" });
    assert.deepEqual(steps(p), []);
    assert.deepEqual(p.ok && p.held?.map((h) => h.worker), ["db", "api"]);
  });
});

describe("dependency order", () => {
  it("given ui → api → db declared backwards, when booting, then db, api, ui start in that order, each after its dependency is ready", () => {
    const desired = [w("ui", { dependsOn: ["api"] }), w("api", { dependsOn: ["db"] }), w("db")];
    assert.deepEqual(startOrder(desired).map((x) => x.name), ["db", "api", "ui"]);
    assert.deepEqual(steps(plan(desired, [], { kind: "converge", only: "process" })), ["start db", "ready db", "start api", "ready api", "start ui"]);
  });

  it("given independent workers, then declaration order is kept", () => {
    assert.deepEqual(startOrder([w("b"), w("a"), w("c", { dependsOn: ["a"] })]).map((x) => x.name), ["b", "a", "c"]);
  });

  it("given a dependency that changed, then its dependents restart only when restartWithDependency: stops dependents first, starts them after it is ready", () => {
    const previous = [w("db"), w("api", { dependsOn: ["db"], restartWithDependency: true }), w("ui", { dependsOn: ["db"] })];
    const desired = [w("db", { args: '["--new"]' }), previous[1]!, previous[2]!];
    const current = [running("db", 1), running("api", 2), running("ui", 3)];
    assert.deepEqual(steps(plan(desired, current, reload(previous))), ["stop api", "stop db", "start db", "ready db", "start api"]);
  });

  it("given a restart command for a dependency, then dependents with restartWithDependency restart around it (transitively)", () => {
    const desired = [w("db"), w("api", { dependsOn: ["db"], restartWithDependency: true }), w("ui", { dependsOn: ["api"], restartWithDependency: true }), w("log", { dependsOn: ["db"] })];
    const current = [running("db", 1), running("api", 2), running("ui", 3), running("log", 4)];
    assert.deepEqual(steps(plan(desired, current, { kind: "command", action: "restart", worker: "db" })), ["stop ui", "stop api", "stop db", "start db", "ready db", "start api", "ready api", "start ui"]);
  });

  it("given a reflex restart of a worker the operator stopped, then nothing", () => {
    assert.deepEqual(steps(plan([w("s")], [{ name: "s", status: "exited", stoppedByOperator: true }], { kind: "reflex-restart", worker: "s" })), []);
  });
});
