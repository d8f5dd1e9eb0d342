import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { makeEvent } from "@vigil/events";
import { formatEvent, table } from "./format.js";
import { parseSince } from "./events.js";

describe("CLI output", () => {
  it("prints one readable line per event with its sequence, time and incident", () => {
    const e = makeEvent("d", "s", "obs.worker.exited", { worker: "sensor", pid: 9, code: null, signal: "SIGKILL", expected: false, uptimeMs: 12 }, { time: "2026-01-01T10:00:00.123Z", incident: "abcdef0123" });
    assert.equal(formatEvent({ ...e, seq: 4 }), "#4 10:00:00.123 obs sensor (pid 9) exited: signal SIGKILL after 12 ms [incident abcdef01]");
    const c = makeEvent("d", "s", "cmd.worker.restart", { worker: "sensor", delayMs: 200, requestedBy: "decider" }, { time: "2026-01-01T10:00:00.123Z" });
    assert.match(formatEvent(c), /cmd command: worker.restart sensor in 200 ms \(by decider\)/);
  });

  it("says when the supervisor's degraded-mode reflex handled an exit, and when degraded mode begins and ends", () => {
    const t = { time: "2026-01-01T10:00:00.123Z" };
    const x = makeEvent("d", "s", "obs.worker.exited", { worker: "sensor", pid: 9, code: null, signal: "SIGKILL", expected: false, uptimeMs: 12, reflex: { action: "restart", attempt: 1, delayMs: 100 } }, t);
    assert.match(formatEvent(x), /sensor \(pid 9\) exited: signal SIGKILL after 12 ms — degraded: restarted locally in 100 ms$/);
    const d = makeEvent("d", "s", "dec.remediation.decided", { worker: "sensor", policy: "crash-restart", action: "restart", attempt: 1, delayMs: 100, reason: "r", handledBy: "supervisor-reflex" }, t);
    assert.match(formatEvent(d), /decided: restart sensor \(policy crash-restart, attempt 1, delay 100 ms\), already done by supervisor-reflex$/);
    assert.match(formatEvent(makeEvent("d", "s", "sys.supervisor.degraded", { unreachable: ["decider"], reason: "no heartbeat from the decider for 2000 ms", since: 1 }, t)), /supervisor DEGRADED: no heartbeat/);
    assert.match(formatEvent(makeEvent("d", "s", "sys.supervisor.restored", { degradedMs: 5000, reflexRestarts: 1 }, t)), /back under the decider after 5000 ms \(1 local restart\(s\)\)/);
  });

  it("aligns tables", () => {
    assert.equal(table(["A", "BB"], [["xxx", "y"]]), "A    BB\nxxx  y");
  });

  it("reads --since as a duration or a time, and says what it accepts", () => {
    assert.equal(parseSince("10m", 1_000_000).getTime(), 400_000);
    assert.equal(parseSince("2026-01-01T00:00:00Z").toISOString(), "2026-01-01T00:00:00.000Z");
    assert.throws(() => parseSince("yesterday"), /use a duration like 30s/);
  });
});
