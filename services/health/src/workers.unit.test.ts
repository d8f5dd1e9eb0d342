import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { makeEvent, type DataInput, type EventName } from "@vigil/events";
import { trackWorkers, type WorkerPids } from "./workers.js";

const ev = <N extends EventName>(name: N, data: DataInput<N>) => makeEvent("d", "t", name, data, { time: "2026-01-01T00:00:00.000Z" });
const fold = (...es: ReturnType<typeof ev>[]) => es.reduce<WorkerPids>(trackWorkers, {});

describe("worker pid tracking (from the supervisor's events only)", () => {
  it("learns pids from starts and restarts, pause state from outcomes, forgets exits and stops", () => {
    const p = fold(
      ev("obs.worker.started", { worker: "a", pid: 10, command: "x" }),
      ev("obs.worker.started", { worker: "b", pid: 20, command: "x" }),
      ev("out.worker.restarted", { worker: "a", command: "c", pid: 11 }),
      ev("out.worker.paused", { worker: "b", command: "c" }),
    );
    assert.deepEqual(Object.fromEntries(Object.entries(p).map(([k, v]) => [k, [v.pid, v.paused]])), { a: [11, false], b: [20, true] });
    const q = [ev("obs.worker.exited", { worker: "a", pid: 10, code: 0, signal: null, expected: true, uptimeMs: 1 })].reduce(trackWorkers, p);
    assert.equal(q.a?.pid, 11, "the exit of an old pid does not forget the new one");
    assert.deepEqual(Object.keys([ev("out.worker.stopped", { worker: "b", command: "c" })].reduce(trackWorkers, q)), ["a"]);
  });

  it("the supervisor's heartbeat corrects the picture", () => {
    const p = fold(ev("obs.worker.started", { worker: "a", pid: 10, command: "x" }));
    const hb = ev("sys.service.heartbeat", { service: "supervisor", pid: 1, uptimeMs: 1, rssBytes: 1, workers: [{ name: "a", status: "stopped", restarts: 0 }, { name: "b", status: "running", pid: 30, restarts: 0 }] });
    assert.deepEqual(Object.keys(trackWorkers(p, hb)), ["b"]);
  });

  it("given workers named __proto__, constructor and toString (a snapshot or event from before NameSchema refused them), then each is an own entry and the others stay intact", () => {
    const renamed = (e: ReturnType<typeof ev>, worker: string) => ({ ...e, data: { ...(e.data as object), worker } }) as ReturnType<typeof ev>;
    const names = ["__proto__", "constructor", "toString"];
    const p = fold(ev("obs.worker.started", { worker: "a", pid: 10, command: "x" }), ...names.map((w, i) => renamed(ev("obs.worker.started", { worker: "x", pid: 20 + i, command: "x" }), w)));
    assert.equal(Object.getPrototypeOf(p), Object.prototype, "the prototype was not replaced");
    assert.deepEqual(Object.keys(p).sort(), ["__proto__", "a", "constructor", "toString"]);
    assert.equal(Object.getOwnPropertyDescriptor(p, "__proto__")?.value.pid, 20);
    // An exit of a name never started finds nothing (not Object.prototype's toString), and forgets only that name.
    const q = fold(ev("obs.worker.started", { worker: "a", pid: 10, command: "x" }));
    assert.deepEqual(trackWorkers(q, renamed(ev("out.worker.paused", { worker: "x", command: "c" }), "toString")), q);
    const r = trackWorkers(p, renamed(ev("obs.worker.exited", { worker: "x", pid: 20, code: 0, signal: null, expected: true, uptimeMs: 1 }), "__proto__"));
    assert.deepEqual(Object.keys(r).sort(), ["a", "constructor", "toString"]);
  });
});
