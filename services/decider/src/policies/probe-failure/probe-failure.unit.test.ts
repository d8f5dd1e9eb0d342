import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { eventName } from "@vigil/events";
import { scenario } from "./given.test-helper.js";

const { at, given, started, dataOf } = scenario({ workers: [{ name: "api", command: "x" }] });
const failed = (ms: number, pid = 10, failures = 3) => at(ms, "obs.probe.failed", { worker: "api", pid, probe: "http", failures, failureThreshold: 3, error: "timeout after 200 ms" });
const recovered = (ms: number, pid = 11) => at(ms, "obs.probe.recovered", { worker: "api", pid, probe: "http", successes: 1 });

describe("probe policy", () => {
  it("given a running worker, when its probe reaches failureThreshold, then it is restarted in a new incident", () => {
    const { names, decisions } = given(started(0, "api", 10)).when(failed(1000));
    assert.deepEqual(names, ["dec.incident.opened", "dec.remediation.decided", "cmd.worker.restart"]);
    assert.match(dataOf<{ reason: string }>(decisions[0]).reason, /http probe of api failed 3 times/);
  });

  it("ignores a failure report about an earlier process, and about a paused worker", () => {
    assert.deepEqual(given(started(0, "api", 10)).when(failed(1000, 9)).names, []);
    const paused = at(500, "out.worker.paused", { worker: "api", command: "c", requestedBy: "op" });
    assert.deepEqual(given(started(0, "api", 10), paused).when(failed(1000)).names, []);
  });

  it("given a restart, when the probe recovers, then the incident is resolved", () => {
    const boot = started(0, "api", 10);
    const f = failed(1000);
    const d = given(boot).when(f).decisions;
    const cmd = d.find((x) => eventName(x) === "cmd.worker.restart")!;
    const h = [boot, f, at(1100, "out.worker.restarted", { worker: "api", command: cmd.id, requestedBy: "decider", pid: 11 }, cmd.incident)];
    const { names, decisions, state } = given(...h).when(recovered(3000));
    assert.deepEqual(names, ["dec.incident.resolved"]);
    assert.equal(decisions[0]!.incident, cmd.incident);
    assert.equal(state.incidents[cmd.incident!]?.status, "resolved");
    assert.equal(state.workers.api?.incident, undefined, "a probe incident is not the worker's crash incident");
  });

  it("given a restart the probe still fails after, then each further report restarts again until maxAttempts, then the worker is stopped and the incident escalated", () => {
    let h = [started(0, "api", 10)];
    let pid = 10;
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) {
      const f = failed(1000 * (i + 1), pid, 3 * (i + 1));
      const r = given(...h).when(f);
      seen.push(r.names.filter((n) => n?.startsWith("cmd.") || n === "dec.incident.escalated").join("+"));
      const cmd = r.decisions.find((x) => eventName(x)?.startsWith("cmd."))!;
      h = [...h, f, at(1000 * (i + 1) + 100, "out.worker.restarted", { worker: "api", command: cmd.id, requestedBy: "decider", pid: ++pid }, cmd.incident)];
    }
    assert.deepEqual(seen, ["cmd.worker.restart", "cmd.worker.restart", "cmd.worker.restart", "cmd.worker.stop+dec.incident.escalated"]);
  });
});
