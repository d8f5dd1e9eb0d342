import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { RestartPolicySchema } from "@vigil/events";
import { afterRestart, afterStable, degradedState, FRESH_HISTORY, reflexOnExit, type RestartHistory } from "./reflex.js";

// coolDownMs 0: a crash loop stops for good (the cool-down cases below set it).
const policy = RestartPolicySchema.parse({ backoffBaseMs: 100, backoffFactor: 2, backoffCapMs: 1000, maxRestarts: 3, windowMs: 10_000, stableMs: 5_000, coolDownMs: 0 });

describe("degraded mode: when the supervisor is on its own", () => {
  it("given a connected bus and a decider heard within afterMs, then the decider is in charge", () => {
    assert.equal(degradedState({ now: 10_000, afterMs: 5_000, deciderSeenAt: 6_000 }), undefined);
  });
  it("given no decider heartbeat for afterMs, then it is degraded since the last heartbeat", () => {
    const d = degradedState({ now: 11_000, afterMs: 5_000, deciderSeenAt: 6_000 });
    assert.deepEqual(d?.unreachable, ["decider"]);
    assert.equal(d?.since, 6_000);
    assert.match(d!.reason, /no heartbeat from the decider for 5000 ms \(limit 5000 ms\)/);
  });
  it("given the bus down for less than afterMs, then not yet (and the decider's silence does not count while the bus is down)", () => {
    assert.equal(degradedState({ now: 20_000, afterMs: 5_000, busDownSince: 16_000, deciderSeenAt: 1_000 }), undefined);
  });
  it("given the bus down for afterMs, then it is degraded because of the bus", () => {
    const d = degradedState({ now: 21_000, afterMs: 5_000, busDownSince: 16_000, deciderSeenAt: 15_000 });
    assert.deepEqual(d?.unreachable, ["bus"]);
    assert.equal(d?.since, 16_000);
  });
});

describe("degraded mode: the local restart reflex (the decider's backoff and breaker)", () => {
  it("given no restarts yet, when a worker crashes, then it is restarted at once", () => {
    const { verdict, next } = reflexOnExit(FRESH_HISTORY, 1_000, policy);
    assert.deepEqual(verdict, { action: "restart", attempt: 0, delayMs: 0 });
    assert.deepEqual(next, { attempt: 1, restartTimes: [1_000], flapping: false });
  });
  it("given repeated crashes, then the delay backs off exponentially, as the decider's", () => {
    let h: RestartHistory = FRESH_HISTORY;
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = reflexOnExit(h, 100 * i, policy);
      assert.equal(r.verdict.action, "restart");
      if (r.verdict.action === "restart") delays.push(r.verdict.delayMs);
      h = r.next;
    }
    assert.deepEqual(delays, [0, 100, 200]);
  });
  it("given maxRestarts inside the window, when it crashes again, then it is a crash loop: no restart, and none after", () => {
    let h: RestartHistory = FRESH_HISTORY;
    for (let i = 0; i < 3; i++) h = reflexOnExit(h, 100 * i, policy).next;
    const loop = reflexOnExit(h, 500, policy);
    assert.deepEqual(loop.verdict, { action: "escalate", restarts: 3, windowMs: 10_000 });
    assert.equal(loop.next.flapping, true);
    assert.equal(reflexOnExit(loop.next, 60_000, policy).verdict.action, "escalate", "stays given up until someone restarts it");
  });
  it("given the decider's restarts before the outage, then the reflex continues their count", () => {
    const h = afterRestart(afterRestart(FRESH_HISTORY, 100, "decider"), 200, "decider");
    assert.deepEqual(reflexOnExit(h, 300, policy).verdict, { action: "restart", attempt: 2, delayMs: 200 });
  });
  it("given a stable run, then the backoff starts over; given an operator's restart, the whole record does", () => {
    const h = afterRestart(afterRestart(FRESH_HISTORY, 100, "decider"), 200, "decider");
    assert.deepEqual(reflexOnExit(afterStable(h), 300, policy).verdict, { action: "restart", attempt: 0, delayMs: 0 });
    assert.deepEqual(afterRestart(h, 300, "alice"), FRESH_HISTORY);
  });
  it("given restart.coolDownMs, a crash loop escalates with the retry's delay, each failed retry waits coolDownMs again, and a stable run ends it (the decider's arithmetic)", () => {
    const slow = { ...policy, coolDownMs: 5_000 };
    let h: RestartHistory = FRESH_HISTORY;
    for (let i = 0; i < 3; i++) h = reflexOnExit(h, 100 * i, slow).next;
    const loop = reflexOnExit(h, 500, slow);
    assert.deepEqual(loop.verdict, { action: "escalate", restarts: 3, windowMs: 10_000, retryInMs: 5_000 });
    const again = reflexOnExit(loop.next, 6_000, slow);
    assert.deepEqual(again.verdict, { action: "restart", attempt: 3, delayMs: 5_000, coolDown: true });
    assert.equal(again.next.flapping, true, "still cooling down");
    assert.equal(afterStable(again.next).flapping, false);
  });
});
