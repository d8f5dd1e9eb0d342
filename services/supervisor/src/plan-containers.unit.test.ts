import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "@vigil/events";
import { diffWorkers, plan, type Intent, type WorkerFacts, type WorkerSpec } from "./plan.js";
import { containerSpec } from "./workloads.js";

/** A container workload as the config declares it (schema defaults applied), as the planner sees it. */
const c = (name: string, o: object = {}): WorkerSpec => containerSpec(parseConfig({ device: "d1", containers: [{ name, image: "app:1", ...o }] }, { env: {} }).containers[0]!);
const running = (name: string, pid: number): WorkerFacts => ({ name, status: "running", pid });
const reload = (previous: WorkerSpec[]): Intent => ({ kind: "converge", only: "container", previous });
const steps = (p: ReturnType<typeof plan>) => (p.ok ? p.steps.map((s) => `${s.action} ${"worker" in s ? s.worker : ""}`) : [`refused: ${p.reason}`]);

describe("reload planner for containers (given previous, desired and current containers → steps)", () => {
  it("given one container added, one removed, one changed and one unchanged, then: stop the removed and the changed, delete both, start the changed (recreated) and the added; the unchanged one is untouched", () => {
    const previous = [c("keep"), c("gone"), c("change")];
    const desired = [c("keep"), c("change", { image: "app:2" }), c("fresh")];
    const current = [running("keep", 1), running("gone", 2), running("change", 3)];
    assert.deepEqual(steps(plan(desired, current, reload(previous))), ["stop gone", "stop change", "remove gone", "remove change", "start change", "start fresh"]);
    assert.deepEqual(diffWorkers(previous, desired), { added: ["fresh"], removed: ["gone"], changed: [{ worker: "change", fields: ["image"] }], unchanged: ["keep"] });
  });

  it("given the same containers, then no step at all (each keeps its container)", () => {
    const specs = [c("a"), c("b", { env: { MODE: "x" } })];
    assert.deepEqual(steps(plan(specs, [running("a", 1), running("b", 2)], reload(specs))), []);
  });

  it("given a changed container that is not running, then its stale container is deleted and it starts from the new declaration", () => {
    assert.deepEqual(steps(plan([c("a", { env: { MODE: "2" } })], [{ name: "a", status: "exited" }], reload([c("a")]))), ["remove a", "start a"]);
  });

  it("given a removed container that is not running, then only its container is deleted (the engine still holds it)", () => {
    assert.deepEqual(steps(plan([], [{ name: "gone", status: "exited" }], reload([c("gone")]))), ["remove gone"]);
  });

  it("given a changed container the operator stopped, then its old container is deleted but it is not started (held)", () => {
    const p = plan([c("cam", { image: "cam:2" })], [{ name: "cam", status: "stopped", stoppedByOperator: true }], reload([c("cam", { image: "cam:1" })]));
    assert.deepEqual(steps(p), ["remove cam"]);
    assert.deepEqual(p.ok && p.held?.map((h) => h.worker), ["cam"]);
  });

  it("given boot (no previous declaration), then containers only start: nothing is deleted", () => {
    assert.deepEqual(steps(plan([c("a"), c("b")], [], { kind: "converge", only: "container" })), ["start a", "start b"]);
  });

  it("given what a container is created from changes (image, command, env, labels, cpus, memory, networks, vNICs), then it is changed, naming the field; env in another order is not a change", () => {
    const base = c("a", { env: { A: "1", B: "2" } });
    const changes: Array<[object, string]> = [
      [{ image: "app:2" }, "image"],
      [{ command: ["run", "--fast"] }, "command"],
      [{ env: { A: "1", B: "3" } }, "env"],
      [{ labels: { team: "ops" } }, "labels"],
      [{ cpus: 0.5 }, "cpus"],
      [{ memory: "64m" }, "memory"],
      [{ internalNetwork: false }, "internalNetwork"],
      [{ vnics: [{ name: "lan", parentInterface: "eth1" }] }, "vnics"],
    ];
    for (const [change, field] of changes) {
      assert.deepEqual(diffWorkers([base], [c("a", { env: { A: "1", B: "2" }, ...change })]).changed, [{ worker: "a", fields: [field] }], field);
    }
    assert.deepEqual(diffWorkers([base], [c("a", { env: { B: "2", A: "1" } })]).unchanged, ["a"]);
  });

  it("given only Vigil's own settings change (restart policy, stopGraceMs, essential, priority), then the container is not touched: they apply live", () => {
    const after = c("a", { restart: { maxRestarts: 9 }, stopGraceMs: 100, essential: true, priority: 5 });
    assert.deepEqual(diffWorkers([c("a")], [after]).unchanged, ["a"]);
    assert.deepEqual(steps(plan([after], [running("a", 1)], reload([c("a")]))), []);
  });
});
