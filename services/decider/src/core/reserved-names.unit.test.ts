import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { eventName, InvalidEventError, type DeciderState, type VigilEvent } from "@vigil/events";
import { scenario } from "./given.test-helper.js";

/**
 * Names that collide with what every object inherits. NameSchema refuses them on the bus, but a
 * snapshot (or an event) from before that rule may hold them: the fold must treat them as ordinary keys.
 */
const RESERVED = ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf"];

const workers = [{ name: "sensor", command: "x", restart: { backoffBaseMs: 100, maxRestarts: 3, windowMs: 60_000, stableMs: 1000 } }];

describe("built-in property names as worker names and incident ids", () => {
  const { at, given, started, sample, decider } = scenario({ workers });
  /** An event built for a valid name (makeEvent would refuse the reserved one), then renamed. */
  const renamed = <E extends { data: { worker: string } }>(e: E, worker: string): E => ({ ...e, data: { ...e.data, worker } });
  /** A health sample of these workers (built for valid names, then renamed). */
  const sampleOf = (ms: number, figures: Array<[string, number, number]>): VigilEvent => {
    const e = sample(ms, { workers: figures.map(([, pid, cpu]) => [`w${pid}`, pid, cpu]) });
    return { ...e, data: { ...e.data, workers: e.data.workers.map((w, i) => ({ ...w, worker: figures[i]![0] })) } };
  };
  /** `r[key]` typed as the entry (TypeScript types `.constructor` on a Record as Function). */
  const entry = <T>(r: Record<string, T> | undefined, key: string): T | undefined => r?.[key];
  const history = () => [
    started(0, "sensor", 10),
    ...RESERVED.map((w, i) => renamed(at(10 + i, "obs.worker.started", { worker: "placeholder", pid: 100 + i, command: "x" }), w)),
    sampleOf(100, [["sensor", 10, 5], ...RESERVED.map((w, i): [string, number, number] => [w, 100 + i, 1])]),
  ];

  it("given workers named like Object.prototype's properties, when they start and are sampled, then each is its own entry and sensor's state is intact", () => {
    const { state } = given(...history());
    assert.equal(Object.getPrototypeOf(state.workers), Object.prototype, "the prototype was not replaced");
    for (const [i, w] of RESERVED.entries()) {
      assert.ok(Object.hasOwn(state.workers, w), `${w} is an own entry`);
      assert.equal(state.workers[w]!.pid, 100 + i);
      assert.ok(Object.hasOwn(state.health!.workers, w), `${w}'s health sample is an own entry`);
      assert.equal(state.health!.workers[w]!.pid, 100 + i, `${w}'s health sample`);
    }
    assert.equal(Object.getPrototypeOf(state.health!.workers), Object.prototype, "the health map's prototype was not replaced");
    assert.equal(state.workers.sensor!.pid, 10);
    assert.equal(state.health!.workers.sensor!.cpuPct, 5);
  });

  it("given such workers, when sensor crashes, then it is restarted as usual (they change nothing)", () => {
    const { names, state } = given(...history()).when(at(200, "obs.worker.exited", { worker: "sensor", pid: 10, code: 1, signal: null, expected: false, uptimeMs: 5 }));
    assert.deepEqual(names, ["dec.incident.opened", "dec.remediation.decided", "cmd.worker.restart"]);
    assert.equal(state.workers.sensor!.status, "restarting");
    assert.equal(entry(state.workers, "constructor")!.pid, 101, "constructor untouched");
  });

  it("given a worker named toString that never started, when it exits unexpectedly, then deciding fails with a clear validation error, not a TypeError", () => {
    const { state } = given(started(0, "sensor", 10));
    for (const w of RESERVED) {
      const exit = renamed(at(50, "obs.worker.exited", { worker: "placeholder", pid: 5, code: 1, signal: null, expected: false, uptimeMs: 5 }), w);
      // Before: workerOf found Object.prototype (no restartTimes) and restartVerdict threw "Cannot read properties of undefined".
      assert.throws(() => decider.step(state, exit), (err: Error) => err instanceof InvalidEventError && err.message.includes(`"${w}" is reserved`), w);
    }
  });

  it("given incidents with ids like __proto__ and constructor, when they open, get an action and resolve, then they are own entries and closing one leaves the others", () => {
    const { state } = given(started(0, "sensor", 10));
    const fold = (s: DeciderState, e: VigilEvent) => decider.evolve(s, e);
    // Unknown ids find nothing (not Object.prototype or its toString): resolving or escalating them changes nothing.
    for (const id of RESERVED) {
      assert.deepEqual(fold(state, at(5, "dec.incident.resolved", { worker: "sensor", reason: "r" }, id)), state, `resolving unknown ${id}`);
      assert.deepEqual(fold(state, at(5, "dec.incident.escalated", { worker: "sensor", reason: "r", restarts: 0, windowMs: 0 }, id)).incidents, state.incidents, `escalating unknown ${id}`);
    }
    const opened = RESERVED.map((id, i) => at(10 + i, "dec.incident.opened", { worker: "sensor", reason: "r", policy: "probe" }, id));
    const acted = RESERVED.map((id, i) => at(20 + i, "dec.remediation.decided", { worker: "sensor", policy: "probe", action: "restart", attempt: 0, delayMs: 0, reason: "r" }, id));
    let s = [...opened, ...acted].reduce(fold, state);
    assert.equal(Object.getPrototypeOf(s.incidents), Object.prototype);
    for (const id of RESERVED) assert.equal(s.incidents[id]!.status, "open", id);
    assert.equal(s.outcomes!["probe/restart"]!.attempts, RESERVED.length, "each new attempt counted once");
    s = fold(s, at(40, "dec.incident.resolved", { worker: "sensor", reason: "ok" }, "__proto__"));
    assert.equal(s.incidents.__proto__!.status, "resolved");
    assert.equal(entry(s.incidents, "constructor")!.status, "open");
    assert.equal(s.workers.sensor!.pid, 10);
  });

  it("given a snapshot holding such names (JSON from before the rule), when it is loaded and folded on, then the entries survive the round trip", () => {
    const before = given(...history()).state;
    const loaded = JSON.parse(JSON.stringify(before)) as DeciderState;
    for (const w of RESERVED) assert.ok(Object.hasOwn(loaded.workers, w), `${w} survives JSON`);
    const next = decider.step(loaded, at(300, "obs.worker.exited", { worker: "sensor", pid: 10, code: 1, signal: null, expected: false, uptimeMs: 5 }));
    assert.deepEqual(next.decisions.map((d) => eventName(d)), ["dec.incident.opened", "dec.remediation.decided", "cmd.worker.restart"]);
    assert.equal(next.state.workers.__proto__!.pid, 100);
    assert.equal(Object.getPrototypeOf(next.state.workers), Object.prototype);
    assert.equal(next.state.workers.sensor!.status, "restarting");
  });
});
