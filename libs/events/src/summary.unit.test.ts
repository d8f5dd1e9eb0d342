import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CATALOG, type DataInput, type EventName } from "./catalog.js";
import { makeEvent } from "./codec.js";
import { isRoutine, stageOf, summarise } from "./summary.js";

const iface = { name: "eth0", state: "up", ipv4: [{ address: "192.168.1.20", prefix: 24, subnet: "192.168.1.0/24" }] };
const vnic = { vnic: "lan", parentInterface: "eth0", network: "vigil-eth0-192.168.1.0-24", subnet: "192.168.1.0/24", mode: "dhcp" as const, ip: "192.168.1.77" };
const top = { pid: 42, name: "sensor", cpuPct: 93.5, worker: "sensor" };
const cmd = { worker: "sensor", delayMs: 200, requestedBy: "decider" };
const out = { worker: "sensor", command: "c1", requestedBy: "alice", pid: 43, previousPid: 42 };

/** One valid example of every type in the catalog: a type missing here fails typecheck (and the runtime check below). */
const EXAMPLES: { [N in EventName]: DataInput<N> } = {
  "obs.worker.started": { worker: "sensor", pid: 42, command: "node sensor.js" },
  "obs.worker.exited": { worker: "sensor", pid: 42, code: null, signal: "SIGKILL", expected: false, uptimeMs: 1200 },
  "obs.worker.stable": { worker: "sensor", pid: 42, uptimeMs: 30_000 },
  "obs.demo.reading": { sensor: "temp1", seq: 3, value: 21.5 },
  "obs.health.sample": { cpuPct: 12.5, load1: 0.4, memPct: 41, tempC: null, disks: [{ mount: "/", usedPct: 50 }], workers: [{ worker: "sensor", pid: 42, cpuPct: 3, rssBytes: 30_000_000 }], intervalMs: 5000 },
  "obs.health.threshold.crossed": { metric: "cpu", value: 97, above: 90, recoverBelow: 80, top },
  "obs.health.threshold.recovered": { metric: "disk", target: "/data", value: 70, above: 90, recoverBelow: 80 },
  "obs.health.anomaly": { score: 0.81, threshold: 0.7, feature: "cpuPct", deviation: 4.2, worker: "sensor", workerCpuPct: 90 },
  "obs.health.problem": { what: "thermal", path: "/sys/class/thermal/thermal_zone0/temp", error: "not a number" },
  "obs.probe.failed": { worker: "api", pid: 50, probe: "http", failures: 3, failureThreshold: 3, error: "connect ECONNREFUSED" },
  "obs.probe.recovered": { worker: "api", probe: "http", successes: 1, latencyMs: 4.2 },
  "obs.container.networks": { worker: "plc", containerId: "abc", vnics: [vnic] },
  "obs.container.health": { worker: "plc", containerId: "abc", status: "unhealthy" },
  "dec.disk.step": { mount: "/data", step: "prune-logs", usedPct: 93, reason: "over 90 %" },
  "cmd.logs.prune": { keepRotated: 1 },
  "out.logs.pruned": { command: "c1", removedFiles: 3, freedBytes: 1000, writers: [{ worker: "logger", bytes: 900 }] },
  "cmd.telemetry.downsample": { factor: 10 },
  "out.telemetry.downsampled": { command: "c2", factor: 10, rules: { "obs.health.sample": 100 }, forwarding: true },
  "cmd.incident.ack": { incident: "inc-1", requestedBy: "ops" },
  "dec.incident.acknowledged": { worker: "sensor", by: "ops", reason: "known" },
  "sys.docker.unavailable": { socketPath: "/var/run/docker.sock", error: "ENOENT", workloads: ["plc"] },
  "sys.docker.available": { socketPath: "/var/run/docker.sock", version: "24.0.7", adopted: [] },
  "cmd.container.reattach": { worker: "plc", interface: "eth0", subnet: "10.0.0.0/24" },
  "out.container.reattached": { worker: "plc", command: "c2", vnics: [vnic], warnings: ["mac kept"] },
  "obs.net.discovery": { interfaces: [iface, { name: "wlan0", state: "down", ipv4: [] }] },
  "obs.net.changed": { interface: "eth0", before: iface, after: { ...iface, ipv4: [{ address: "10.0.0.5", prefix: 24, subnet: "10.0.0.0/24" }] } },
  "obs.net.online": { endpoint: "1.1.1.1:53", latencyMs: 12 },
  "obs.net.offline": { endpoint: "1.1.1.1:53", error: "timeout" },
  "cmd.net.discover": { requestedBy: "alice" },
  "dec.remediation.decided": { worker: "sensor", policy: "crash-restart", action: "restart", attempt: 1, delayMs: 200, reason: "exited with SIGKILL" },
  "dec.incident.opened": { worker: "sensor", reason: "sensor exited (SIGKILL)" },
  "dec.incident.resolved": { worker: "sensor", reason: "stable for 30 s" },
  "dec.incident.escalated": { worker: "sensor", reason: "crash loop", restarts: 5, windowMs: 60_000 },
  "cmd.worker.restart": cmd,
  "cmd.worker.start": cmd,
  "cmd.worker.stop": cmd,
  "cmd.worker.pause": cmd,
  "cmd.worker.resume": cmd,
  "cmd.worker.kill": { ...cmd, signal: "SIGKILL" },
  "out.worker.restarted": out,
  "out.worker.started": out,
  "out.worker.stopped": out,
  "out.worker.paused": out,
  "out.worker.resumed": out,
  "out.worker.killed": out,
  "out.command.rejected": { command: "c3", action: "restart", worker: "nope", reason: "not declared" },
  "out.command.failed": { command: "c4", action: "restart", worker: "sensor", error: "EPERM" },
  "sys.service.started": { service: "decider", pid: 10, version: "0.1.0" },
  "sys.service.stopped": { service: "decider", pid: 10, reason: "SIGTERM" },
  "sys.service.heartbeat": { service: "supervisor", pid: 11, uptimeMs: 60_000, rssBytes: 50_000_000, workers: [{ name: "sensor", status: "running", pid: 42, restarts: 1 }] },
  "sys.supervisor.degraded": { unreachable: ["decider"], reason: "no heartbeat from the decider for 2000 ms", since: 1 },
  "sys.supervisor.restored": { degradedMs: 5000, reflexRestarts: 1 },
  "sys.telemetry.breaker.opened": { reason: "HTTP 503", backlog: 120, resetTimeoutMs: 30_000 },
  "sys.telemetry.breaker.closed": { backlog: 3, openMs: 45_000 },
  "sys.telemetry.upload.failed": { status: 401, error: "unauthorized", events: 50, firstSeq: 100, lastSeq: 149, retryInMs: 2000 },
  "sys.telemetry.lost": { count: 10, fromSeq: 1, toSeq: 10, reason: "stream limits" },
  "sys.store.damaged": { stream: "VIGIL", file: "jetstream/$G/streams/VIGIL/msgs/3.blk", movedTo: "/data/nats-damaged/x/VIGIL/3.blk", keptRecords: 120, lostCount: 30, fromSeq: 9121, toSeq: 9150, unreadableBytes: 4200, reason: "the record at byte 17280 (144 bytes) runs past the end (21480)" },
  "sys.telemetry.heartbeat": {
    device: "edge-1",
    pid: 12,
    uptimeMs: 1,
    hostUptimeS: 100,
    cpu: { cores: 2, load1: 0.5, percent: 20 },
    memory: { totalBytes: 4e9, freeBytes: 2e9, rssBytes: 5e7 },
    versions: { vigil: "0.1.0", node: "20" },
    backlog: 7,
    breaker: "closed",
    forwarded: 100,
    resent: 0,
    deadLettered: 0,
    lost: 0,
  },
  "dec.config.planned": { change: "c5", configPath: "/etc/vigil.yaml", diff: { added: ["b"], removed: ["c"], changed: [{ worker: "d", fields: ["args"] }], unchanged: ["a"] }, steps: [{ action: "stop", worker: "c" }], held: [] },
  "dec.config.rejected": { change: "c6", configPath: "/etc/vigil.yaml", error: "workers[0].command: Required" },
  "out.config.step": { change: "c5", step: 1, of: 4, action: "stop", worker: "c", ok: true, durationMs: 12 },
  "out.config.applied": { change: "c5", steps: 4, failed: 0, durationMs: 40 },
  "sys.supervisor.limits": { enforced: false, reason: "no cgroup v2 memory controller", workers: ["hog"] },
  "sys.alerts.target.failing": { target: "pager", error: "ECONNREFUSED", pending: 2 },
  "sys.alerts.target.recovered": { target: "pager", failingMs: 42_000, failedAttempts: 5 },
  "sys.fleet.uplink": { state: "disconnected", hub: ["nats://hub:7422"], domain: "edge-1", error: "Authorization Violation" },
  "dec.deployment.received": { version: 3, key: "ed25519:AAAA", workers: ["sensor"], healthWindowSeconds: 30 },
  "dec.deployment.refused": { version: 2, code: "old-version", reason: "version 2 is not above 3" },
  "dec.deployment.applying": { version: 3, change: "c1", workers: ["sensor"] },
  "out.deployment.applied": { version: 3, change: "c1", workers: ["sensor"], healthWindowSeconds: 30, failed: 0 },
  "dec.deployment.healthy": { version: 3, workers: ["sensor"], windowMs: 30_000 },
  "cmd.deployment.rollback": { version: 3, worker: "sensor", reason: "sensor crashed" },
  "dec.deployment.rolled-back": { from: 3, to: 2, reason: "sensor crashed", change: "c2" },
  "dec.remote.accepted": { op: "restart", worker: "sensor", operator: "alice@ops", key: "ed25519:AAAA" },
  "dec.remote.refused": { op: "restart", reason: "replayed" },
  "sys.deadletter": { consumer: "decider", reason: "bad json", subject: "vigil.edge-1.obs.worker.exited", streamSeq: 9, payload: "{" },
};

describe("summarise: one readable line per event type", () => {
  it("has a valid example for every type in CATALOG, and each summary is words, not JSON", () => {
    for (const name of Object.keys(CATALOG) as EventName[]) {
      assert.ok(Object.hasOwn(EXAMPLES, name), `no example event for ${name}`);
      // makeEvent validates the example against the catalog's schema (and throws naming the field).
      const e = makeEvent("edge-1", "test", name, EXAMPLES[name] as never);
      const line = summarise(e);
      assert.ok(line.length > 0 && line.length < 400, `${name}: "${line}"`);
      assert.doesNotMatch(line, /[{}]|\[object|undefined|NaN|does not match its schema/, `${name} summarised as "${line}"`);
      assert.throws(() => JSON.parse(line), SyntaxError, `${name} summarised as JSON: ${line}`);
    }
  });

  it("says what an exit, a sample without a thermal sensor and a discovery are", () => {
    const ex = makeEvent("d", "s", "obs.worker.exited", EXAMPLES["obs.worker.exited"]);
    assert.equal(summarise(ex), "sensor (pid 42) exited: signal SIGKILL after 1.2 s");
    assert.match(summarise(makeEvent("d", "s", "obs.health.sample", EXAMPLES["obs.health.sample"])), /cpu 12\.5 % · mem 41\.0 % · load 0\.40 · no thermal sensor/);
    assert.equal(summarise(makeEvent("d", "s", "obs.net.discovery", EXAMPLES["obs.net.discovery"])), "2 interfaces: eth0 up 192.168.1.20/24 · wlan0 down");
  });

  it("names an unknown type and data that does not fit, without throwing", () => {
    assert.equal(summarise({ type: "io.vigil.obs.nope", data: {} }), "event of unknown type io.vigil.obs.nope");
    assert.equal(summarise({ type: "io.vigil.obs.net.discovery", data: null }), "obs.net.discovery: data that does not match its schema");
  });

  it("marks heartbeats and samples as routine, and places events in an incident's chain", () => {
    assert.equal(isRoutine({ type: "io.vigil.sys.service.heartbeat" }), true);
    assert.equal(isRoutine({ type: "io.vigil.obs.health.sample" }), true);
    assert.equal(isRoutine({ type: "io.vigil.obs.worker.exited" }), false);
    assert.equal(stageOf({ type: "io.vigil.obs.worker.exited" }), "exit");
    assert.equal(stageOf({ type: "io.vigil.dec.remediation.decided" }), "decision");
    assert.equal(stageOf({ type: "io.vigil.cmd.worker.restart" }), "command");
    assert.equal(stageOf({ type: "io.vigil.out.worker.restarted" }), "outcome");
    assert.equal(stageOf({ type: "io.vigil.obs.health.sample" }), "other");
  });
});
