import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, parseConfig, RestartPolicySchema } from "./config.js";
import { backoffDelay, countRestart, forgetRestarts, keepsRestartCount, REFLEX_REQUESTER, RESTART_TIMES_KEPT, resetWhenStable, restartsWithin, restartVerdict } from "./restart-backoff.js";

const p = RestartPolicySchema.parse({ backoffBaseMs: 100, backoffFactor: 2, backoffCapMs: 1000, maxRestarts: 3, windowMs: 10_000 });

describe("restart arithmetic shared by the decider and the supervisor's reflex", () => {
  it("backs off exponentially from an immediate first retry, up to the cap", () => {
    assert.deepEqual([0, 1, 2, 3, 10].map((a) => backoffDelay(a, p)), [0, 100, 200, 400, 1000]);
  });
  it("counts only the restarts inside the window", () => {
    assert.equal(restartsWithin([1_000, 5_000, 9_000], 12_000, 10_000), 2);
  });
  it("given fewer than maxRestarts in the window, restarts with the attempt's delay; given maxRestarts, escalates", () => {
    assert.deepEqual(restartVerdict({ attempt: 2, restartTimes: [1, 2] }, 10, p), { action: "restart", attempt: 2, delayMs: 200 });
    // restart.coolDownMs (default 300000): the escalation says when the slow retry comes.
    assert.deepEqual(restartVerdict({ attempt: 3, restartTimes: [1, 2, 3] }, 10, p), { action: "escalate", restarts: 3, windowMs: 10_000, retryInMs: 300_000 });
  });
  it("given coolDownMs 0, a crash loop stops restarts for good; given a worker cooling down, each try waits coolDownMs without re-counting the breaker", () => {
    assert.deepEqual(restartVerdict({ attempt: 3, restartTimes: [1, 2, 3] }, 10, { ...p, coolDownMs: 0 }), { action: "escalate", restarts: 3, windowMs: 10_000 });
    assert.deepEqual(restartVerdict({ attempt: 4, restartTimes: [1, 2, 3, 4], coolingDown: true }, 10, { ...p, coolDownMs: 5_000 }), { action: "restart", attempt: 4, delayMs: 5_000, coolDown: true });
    assert.equal(RestartPolicySchema.parse({}).coolDownMs, 300_000);
  });
});

describe("config: supervisor.degraded", () => {
  it("is on by default, after 10 s, with a 2 s decider heartbeat", () => {
    const c = parseConfig({ device: "d" }, { env: {} });
    assert.deepEqual(c.supervisor.degraded, { enabled: true, afterMs: 10_000 });
    assert.equal(c.decider.heartbeatMs, 2_000);
    assert.equal(parseConfig({ device: "d", supervisor: { degraded: { afterMs: 5000 } } }, { env: {} }).supervisor.heartbeatMs, 5_000);
  });
  it("refuses a wait shorter than two decider heartbeats, and unknown keys, naming the field", () => {
    assert.throws(() => parseConfig({ device: "d", supervisor: { degraded: { afterMs: 3000 } } }, { env: {} }), (e: Error) => e instanceof ConfigError && /supervisor\.degraded\.afterMs.*twice decider\.heartbeatMs \(2000 ms\)/.test(e.message));
    assert.throws(() => parseConfig({ device: "d", supervisor: { degraded: { after: 3000 } } }, { env: {} }), /supervisor\.degraded/);
  });
  it("given a restart, the attempt grows and the time is counted (the last RESTART_TIMES_KEPT only); other fields stay", () => {
    assert.deepEqual(countRestart({ attempt: 1, restartTimes: [5], flapping: true }, 9), { attempt: 2, restartTimes: [5, 9], flapping: true });
    const many = Array.from({ length: RESTART_TIMES_KEPT }, (_, i) => i);
    assert.deepEqual(countRestart({ attempt: 0, restartTimes: many }, 999).restartTimes, [...many.slice(1), 999]);
  });
  it("given a stable run, the backoff starts over but the window keeps its restarts; given a fresh start, both do", () => {
    assert.deepEqual(resetWhenStable({ attempt: 3, restartTimes: [1, 2, 3] }), { attempt: 0, restartTimes: [1, 2, 3] });
    assert.deepEqual(forgetRestarts({ attempt: 3, restartTimes: [1, 2, 3] }), { attempt: 0, restartTimes: [] });
  });
  it("the decider's and the reflex's restarts keep the count; an operator's does not", () => {
    assert.deepEqual(["decider", REFLEX_REQUESTER, "alice", undefined].map(keepsRestartCount), [true, true, false, false]);
  });
});
