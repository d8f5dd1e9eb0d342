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

  it("aligns tables", () => {
    assert.equal(table(["A", "BB"], [["xxx", "y"]]), "A    BB\nxxx  y");
  });

  it("reads --since as a duration or a time, and says what it accepts", () => {
    assert.equal(parseSince("10m", 1_000_000).getTime(), 400_000);
    assert.equal(parseSince("2026-01-01T00:00:00Z").toISOString(), "2026-01-01T00:00:00.000Z");
    assert.throws(() => parseSince("yesterday"), /use a duration like 30s/);
  });
});
