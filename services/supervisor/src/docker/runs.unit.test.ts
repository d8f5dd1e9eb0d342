import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "@vigil/events";
import { RunTable, signalOf } from "./runs.js";
import type { DockerDriverEvents } from "./types.js";

function table(now: { t: number }) {
  const c = parseConfig({ containers: [{ name: "plc", image: "plc:1" }] }, { env: {} }).containers[0]!;
  const seen: Array<[string, unknown]> = [];
  const events: DockerDriverEvents = {
    onStarted: (worker, pid, at) => void seen.push(["started", { worker, pid, at }]),
    onExited: (info) => void seen.push(["exited", info]),
    onStable: (worker, pid, uptimeMs) => void seen.push(["stable", { worker, pid, uptimeMs }]),
    onPidsChanged: () => undefined,
    onHealth: () => undefined,
    onNetworks: () => undefined,
  };
  return { runs: new RunTable(new Map([["plc", c]]), events, { now: () => now.t }), seen };
}

describe("docker driver: the run table", () => {
  it("times a run with the injected clock and reports its exit once, with the signal read from 128+n", () => {
    const now = { t: 1_000 };
    const { runs, seen } = table(now);
    runs.track("plc", "c1", 42, false);
    assert.deepEqual(runs.status("plc"), { status: "running", pid: 42, containerId: "c1" });
    const run = runs.get("plc")!;
    now.t = 3_500;
    runs.ended("plc", run, 137, true);
    runs.ended("plc", run, 137, true); // the die event and a settle both saw it
    runs.clearTimers();
    assert.deepEqual(seen, [
      ["started", { worker: "plc", pid: 42, at: 1_000 }],
      ["exited", { worker: "plc", pid: 42, code: 137, signal: "SIGKILL", expected: false, uptimeMs: 2_500, containerId: "c1", oom: true }],
    ]);
    assert.deepEqual(runs.status("plc"), { status: "stopped" });
  });

  it("finds a run by container id and maps exit codes to signals only above 128", () => {
    const { runs } = table({ t: 0 });
    runs.track("plc", "c1", 42, true);
    assert.equal(runs.byId("c1")?.[0], "plc");
    assert.equal(runs.byId("c2"), undefined);
    assert.equal(runs.status("plc").status, "paused");
    runs.clearTimers();
    assert.equal(signalOf(143), "SIGTERM");
    assert.equal(signalOf(1), null);
    assert.equal(signalOf(128), null);
  });
});
