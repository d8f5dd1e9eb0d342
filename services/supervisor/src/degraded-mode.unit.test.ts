import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { RestartPolicySchema } from "@vigil/events";
import { initial, isDegraded, transition, type DegradedModeConfig, type DegradedModeDecision, type DegradedModeInput, type DegradedModeState } from "./degraded-mode.js";

// coolDownMs 0: a crash loop stops for good (the cool-down case sets it).
const policy = RestartPolicySchema.parse({ backoffBaseMs: 100, backoffFactor: 2, backoffCapMs: 1000, maxRestarts: 3, windowMs: 10_000, stableMs: 5_000, coolDownMs: 0 });
const cfg: DegradedModeConfig = { enabled: true, afterMs: 5_000, policyOf: () => policy };

/** given inputs since a boot at 0, when one more, then its decisions and the state after it */
function given(...history: DegradedModeInput[]) {
  let c = cfg;
  return {
    withConfig(next: DegradedModeConfig) {
      c = next;
      return this;
    },
    when(input: DegradedModeInput): { decisions: DegradedModeDecision[]; state: DegradedModeState } {
      const before = history.reduce((s: DegradedModeState, i) => transition(s, i, c).state, initial(0));
      return transition(before, input, c);
    },
  };
}

const exit = (at: number, worker = "sensor", extra: Partial<Extract<DegradedModeInput, { type: "exit" }>> = {}): DegradedModeInput => ({ type: "exit", at, worker, exitId: `exit-${worker}-${at}`, expected: false, stopping: false, incident: `inc-${at}`, previousPid: 7, ...extra });
const seen = (at: number): DegradedModeInput => ({ type: "decider-seen", at });
const tick = (at: number): DegradedModeInput => ({ type: "tick", at });

describe("degraded mode state machine: entering and leaving", () => {
  it("given the decider heard within afterMs, when a tick, then nothing: the decider is in charge", () => {
    const { decisions, state } = given(seen(3_000)).when(tick(7_000));
    assert.deepEqual(decisions, []);
    assert.equal(isDegraded(state), false);
  });

  it("given no decider heartbeat since boot, when a tick afterMs later, then enter degraded mode since the boot", () => {
    const { decisions, state } = given().when(tick(5_000));
    assert.equal(decisions.length, 1);
    assert.deepEqual({ ...decisions[0], reason: undefined }, { type: "enter", unreachable: ["decider"], since: 0, reason: undefined });
    assert.equal(isDegraded(state), true);
  });

  it("given the bus went down, when a tick before afterMs, then nothing yet; afterMs after the disconnect, then enter because of the bus", () => {
    assert.deepEqual(given(seen(1_000), { type: "bus-down", at: 2_000 }).when(tick(6_999)).decisions, []);
    const { decisions } = given(seen(1_000), { type: "bus-down", at: 2_000 }, tick(6_999)).when(tick(7_000));
    assert.equal(decisions[0]?.type, "enter");
    assert.deepEqual(decisions[0]?.type === "enter" && decisions[0].unreachable, ["bus"]);
  });

  it("given degraded with a local restart done, when the bus comes back (the decider gets afterMs again), then leave, reporting how long and how many local restarts", () => {
    const h = [{ type: "bus-down", at: 1_000 } as const, tick(6_000), { type: "reflex-restarted", worker: "sensor" } as const];
    const back = given(...h).when({ type: "bus-up", at: 8_000 });
    assert.deepEqual(back.decisions, [{ type: "leave", degradedMs: 7_000, reflexRestarts: 1 }]);
    assert.equal(isDegraded(back.state), false);
  });

  it("given degraded mode disabled, when the decider is silent for long, then never degraded", () => {
    const { decisions, state } = given().withConfig({ ...cfg, enabled: false }).when(tick(60_000));
    assert.deepEqual(decisions, []);
    assert.equal(isDegraded(state), false);
  });
});

describe("degraded mode state machine: the local reflex", () => {
  it("given the decider in charge, when a worker crashes, then no local restart: the crash awaits the decider's answer", () => {
    const { decisions, state } = given(seen(1_000)).when(exit(2_000));
    assert.deepEqual(decisions, []);
    assert.deepEqual(state.unanswered.sensor, { exitId: "exit-sensor-2000", at: 2_000, incident: "inc-2000", previousPid: 7 });
  });

  it("given degraded, when a worker crashes, then restart it locally at once, and the exit carries the verdict", () => {
    const { decisions } = given(tick(5_000)).when(exit(6_000));
    assert.deepEqual(decisions, [{ type: "reflex-restart", worker: "sensor", delayMs: 0, attempt: 0, late: false, verdict: { action: "restart", attempt: 0, delayMs: 0 }, exitId: "exit-sensor-6000", incident: "inc-6000", previousPid: 7 }]);
  });

  it("given a crash reported to the decider, when degraded mode begins before its answer, then the reflex answers it, the backoff counted from the crash", () => {
    const h = [seen(0), exit(1_000), { type: "restarted", worker: "sensor", at: 900, requestedBy: "decider" } as const];
    // The decider restarted an earlier crash (attempt 1 → 100 ms backoff); its answer to this one never comes.
    const { decisions, state } = given(...h).when(tick(5_020));
    assert.equal(decisions[0]?.type, "enter");
    assert.deepEqual(decisions[1], { type: "reflex-restart", worker: "sensor", delayMs: 0, attempt: 1, late: true, exitId: "exit-sensor-1000", incident: "inc-1000", previousPid: 7 });
    assert.deepEqual(state.unanswered, {});
    assert.equal(state.answeredLocally.sensor, 1_000);
  });

  it("given the reflex answered a crash late, when the decider's restart for that crash arrives, then refuse it; one for a later crash runs", () => {
    const h = [seen(0), exit(1_000), tick(6_000)];
    assert.deepEqual(given(...h).when({ type: "decider-restart", worker: "sensor", crashAt: 1_000 }).decisions, [{ type: "refuse-late-restart", worker: "sensor" }]);
    assert.deepEqual(given(...h).when({ type: "decider-restart", worker: "sensor", crashAt: 1_001 }).decisions, []);
  });

  it("given a command for the worker was accepted, when degraded mode begins, then its crash is the decider's, not the reflex's", () => {
    const { decisions } = given(seen(0), exit(1_000), { type: "command-accepted", worker: "sensor" }).when(tick(5_000));
    assert.deepEqual(decisions.map((d) => d.type), ["enter"]);
  });

  it("given maxRestarts local restarts inside the window, when it crashes again, then a crash loop: no restart", () => {
    const h = [tick(5_000), exit(5_100), exit(5_200), exit(5_300)];
    const { decisions } = given(...h).when(exit(5_400));
    assert.deepEqual(decisions, [{ type: "crash-loop", worker: "sensor", restarts: 3, windowMs: 10_000, late: false, verdict: { action: "escalate", restarts: 3, windowMs: 10_000 } }]);
  });

  it("given restart.coolDownMs, when the reflex finds a crash loop, then it reports the escalation and plans the slow retry coolDownMs later", () => {
    const slow: DegradedModeConfig = { ...cfg, policyOf: () => ({ ...policy, coolDownMs: 60_000 }) };
    const h = [tick(5_000), exit(5_100), exit(5_200), exit(5_300)];
    const { decisions } = given(...h).withConfig(slow).when(exit(5_400));
    assert.deepEqual(decisions, [
      { type: "crash-loop", worker: "sensor", restarts: 3, windowMs: 10_000, late: false, verdict: { action: "escalate", restarts: 3, windowMs: 10_000, retryInMs: 60_000 } },
      { type: "reflex-restart", worker: "sensor", delayMs: 60_000, attempt: 3, late: false, exitId: "exit-sensor-5400", incident: "inc-5400", previousPid: 7 },
    ]);
  });

  it("given a stable run after local restarts, when it crashes again, then the backoff starts over", () => {
    const h = [tick(5_000), exit(5_100), exit(5_200), { type: "stable", worker: "sensor" } as const];
    const d = given(...h).when(exit(12_000)).decisions[0];
    assert.equal(d?.type === "reflex-restart" && d.attempt, 0);
  });

  it("given degraded, when an expected exit or one during shutdown, then nothing is restarted", () => {
    assert.deepEqual(given(tick(5_000)).when(exit(6_000, "sensor", { expected: true })).decisions, []);
    assert.deepEqual(given(tick(5_000)).when(exit(6_000, "sensor", { stopping: true })).decisions, []);
  });
});
