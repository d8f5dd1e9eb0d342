import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { bugStatuses } from "./fuzz-bugs.js";

const run = (o: { crashes?: number; race?: string[]; probe?: string; deviations?: Record<string, number> } = {}) => ({
  config: { loader_crashes: o.crashes ?? 0 },
  sigterm_right_after_running: o.race ?? ["stopped cleanly (exit 0)"],
  http: { keep_alive_probes: { "after a 413 (body over maxFrameBytes, Content-Length)": o.probe ?? "closed by the gateway after HTTP/1.1 413 (Connection: close)" }, deviations: {} },
  websocket: { deviations: o.deviations ?? {} },
});

describe("fuzz report: bug statuses come from the run", () => {
  it("a clean run reports nothing open", () => {
    const s = bugStatuses(run());
    assert.ok(s.every((x) => !x.includes("**Open**")), s.join("\n"));
  });
  it("each bug shows as open when the run shows it", () => {
    const s = bugStatuses(run({ crashes: 2, race: ["stopped cleanly (exit 0)", "not stopped cleanly: exit by signal"], probe: "failed: socket hang up", deviations: { "x": 1 } }));
    assert.equal(s.filter((x) => x.includes("**Open**")).length, 4, s.join("\n"));
  });
});
