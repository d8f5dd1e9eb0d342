import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { connectBus, eventName, is, loadConfig, readPidStat, type VigilEvent } from "@vigil/events";
import { freePort, startNatsServer, watchEvents, type EventLog } from "@vigil/events/testing";
import { createDecider, replay } from "@vigil/decider";
import { runVigil, vigilUp, writeConfig } from "./e2e-helpers.js";

/** The process state letter from /proc (T = stopped by SIGSTOP; Z = a zombie nobody reaped). */
function procState(pid: number): string | undefined {
  return readPidStat(pid)?.state;
}
const alive = (pid: number) => ![undefined, "Z", "X"].includes(procState(pid));
const data = <T>(e: VigilEvent) => e.data as T;
const worker = (e: VigilEvent) => data<{ worker?: string }>(e).worker;
const policy = (e: VigilEvent) => data<{ policy?: string }>(e).policy;

/** Polls /proc until `pred` holds (the state of real processes is what is asserted; no event says "SIGSTOP took effect"). */
async function until(what: string, pred: () => boolean, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - t0;
}

function assertReplayMatches(configFile: string, events: EventLog) {
  const all = events.events;
  const recorded = all.filter((e) => /\.(dec|cmd)\./.test(e.subject) && e.source.endsWith("/decider"));
  const replayed = replay(createDecider(loadConfig(configFile, {})), all).decisions;
  assert.ok(recorded.length > 0);
  assert.deepEqual(
    replayed.map((e) => [e.id, eventName(e), e.incident, e.data]),
    recorded.map((e) => [e.id, eventName(e), e.incident, e.data]),
  );
}

const sleeper = (name: string, extra: object = {}) => ({ name, command: "sleep", args: ["600"], ...extra });

describe("vigil up: health, thermal self-preservation, CPU fail-safe and probes (real nats-server, real processes)", () => {
  it("80 °C in a thermal zone → non-essential workers stopped (T) within two intervals, essential running; 50 °C → resumed; one incident; garbage in the file → reported, no crash", async () => {
    const srv = await startNatsServer();
    const interval = 500;
    const cfg = writeConfig({
      device: "e2e-heat",
      health: { intervalMs: interval, thermalDir: "thermal", disks: ["/"], anomaly: { enabled: false } },
      workers: [sleeper("logger", { priority: 5 }), sleeper("control", { essential: true }), sleeper("uploader", { priority: 1 })],
    });
    const zone = join(dirname(cfg), "thermal", "thermal_zone0", "temp");
    mkdirSync(dirname(zone), { recursive: true });
    writeFileSync(zone, "45000\n");
    const vigil = await vigilUp(cfg, srv.url);
    const nc = await connectBus({ url: srv.url }, "test");
    const events = await watchEvents(nc);
    try {
      await events.waitFor("a sample that knows all three workers", (e) => is(e, "obs.health.sample") && data<{ workers: unknown[] }>(e).workers.length === 3, 20_000);
      const pid = (name: string) => data<{ pid: number }>(events.events.find((e) => is(e, "obs.worker.started") && worker(e) === name)!).pid;
      const [logger, control, uploader] = [pid("logger"), pid("control"), pid("uploader")];

      writeFileSync(zone, "80000\n");
      const took = await until("logger and uploader stopped (T)", () => procState(logger) === "T" && procState(uploader) === "T", 10_000);
      assert.ok(took <= 2 * interval, `paused ${took} ms after the write (two intervals: ${2 * interval} ms)`);
      assert.equal(procState(control), "S", "the essential worker keeps running");
      await events.waitForCount("paused outcomes", (e) => is(e, "out.worker.paused"), 2);

      writeFileSync(zone, "50000\n");
      await events.waitForCount("resumed outcomes", (e) => is(e, "out.worker.resumed"), 2);
      await until("logger and uploader running again", () => procState(logger) === "S" && procState(uploader) === "S", 5_000);
      const resolved = await events.waitFor("overheat incident resolved", (e) => is(e, "dec.incident.resolved"));

      // One incident: opened, the decisions, the commands and their outcomes all carry its id.
      const opened = events.events.find((e) => is(e, "dec.incident.opened"))!;
      assert.equal(policy(opened), "overheat");
      const incident = opened.incident!;
      const inIncident = events.events.filter((e) => e.incident === incident);
      const decisions = inIncident.filter((e) => e.source.endsWith("/decider")).map((e) => `${eventName(e)} ${worker(e)}`);
      assert.deepEqual(decisions, [
        "dec.incident.opened uploader",
        "dec.remediation.decided uploader", // lowest priority first
        "cmd.worker.pause uploader",
        "dec.remediation.decided logger",
        "cmd.worker.pause logger",
        "dec.remediation.decided logger", // highest priority first
        "cmd.worker.resume logger",
        "dec.remediation.decided uploader",
        "cmd.worker.resume uploader",
        "dec.incident.resolved uploader",
      ]);
      const outcomes = inIncident.filter((e) => /\.out\./.test(e.subject)).map((e) => `${eventName(e)} ${worker(e)}`);
      assert.deepEqual(outcomes.sort(), ["out.worker.paused logger", "out.worker.paused uploader", "out.worker.resumed logger", "out.worker.resumed uploader"]);
      assert.equal(resolved.incident, incident);
      assert.ok(!events.events.some((e) => /\.cmd\./.test(e.subject) && worker(e) === "control"), "no command ever named the essential worker");
      const crossed = events.events.find((e) => is(e, "obs.health.threshold.crossed") && data<{ metric: string }>(e).metric === "temperature")!;
      assert.deepEqual(data(crossed), { metric: "temperature", value: 80, above: 75, recoverBelow: 70 });

      // Garbage in the zone file: reported (event naming the file), and sampling goes on.
      writeFileSync(zone, "not-a-number\n");
      const problem = await events.waitFor("thermal problem", (e) => is(e, "obs.health.problem"));
      assert.equal(data<{ path: string }>(problem).path, zone);
      await events.waitFor("sampling continues", (e) => e.seq > problem.seq && is(e, "obs.health.sample") && data<{ tempC: null }>(e).tempC === null);
      assert.ok(alive(logger) && alive(control) && alive(uploader));
      assertReplayMatches(cfg, events);
    } finally {
      await events.close();
      await nc.close();
      const stopped = await vigil.stop();
      await srv.cleanup();
      assert.equal(stopped, 0);
    }
  });

  it("a worker spinning the CPU → restarted (cpu-failsafe), again, then stopped and escalated; an unmanaged busy process is reported and never touched", async () => {
    const srv = await startNatsServer();
    const unmanaged = spawn("sh", ["-c", "while :; do :; done"], { stdio: "ignore" });
    const cfg = writeConfig({
      device: "e2e-cpu",
      health: { intervalMs: 300, thermalDir: "none", disks: ["/"], thresholds: { cpu: { above: 40, hysteresis: 10 } }, anomaly: { enabled: false } },
      // 25 % of one core: a busy loop gets at least that even on a loaded 2-core CI machine; `sleep` gets ~0.
      policies: { cpu: { thresholdPct: 25, consecutiveSamples: 3 }, escalation: { maxAttempts: 2 } },
      workers: [{ name: "spinner", command: "sh", args: ["-c", "while :; do :; done"] }, sleeper("steady")],
    });
    const vigil = await vigilUp(cfg, srv.url);
    const nc = await connectBus({ url: srv.url }, "test");
    const events = await watchEvents(nc);
    try {
      const restart = await events.waitFor("cpu-failsafe restart", (e) => is(e, "cmd.worker.restart"), 45_000);
      assert.equal(worker(restart), "spinner");
      const decided = events.events.find((e) => is(e, "dec.remediation.decided") && e.incident === restart.incident)!;
      assert.equal(policy(decided), "cpu-failsafe");
      assert.match(data<{ reason: string }>(decided).reason, /spinner \(pid \d+\) used \d+ % CPU \(≥ 25 %\) for 3 samples: restart/);
      const opened = events.events.find((e) => is(e, "dec.incident.opened") && e.incident === restart.incident)!;
      assert.equal(policy(opened), "cpu-failsafe");
      await events.waitFor("spinner restarted", (e) => is(e, "out.worker.restarted") && e.incident === restart.incident);

      // It spins again after each restart: after maxAttempts restarts Vigil stops it and escalates.
      const escalated = await events.waitFor("escalation", (e) => is(e, "dec.incident.escalated"), 30_000);
      assert.equal(escalated.incident, restart.incident);
      await events.waitFor("spinner stopped", (e) => is(e, "out.worker.stopped") && worker(e) === "spinner");
      const cmds = events.events.filter((e) => /\.cmd\./.test(e.subject));
      assert.deepEqual(cmds.map((e) => `${eventName(e)} ${worker(e)}`), ["cmd.worker.restart spinner", "cmd.worker.restart spinner", "cmd.worker.stop spinner"]);
      assert.ok(cmds.every((e) => e.incident === restart.incident && data<{ requestedBy: string }>(e).requestedBy === "decider"));

      // The unmanaged spinner: reported as a hot process with no worker name, and still running.
      const seen = events.events.find((e) => is(e, "obs.health.sample") && (data<{ hot?: Array<{ pid: number; worker?: string }> }>(e).hot ?? []).some((p) => p.pid === unmanaged.pid && !p.worker));
      assert.ok(seen, "the unmanaged busy process is reported in the samples");
      const crossed = events.events.find((e) => is(e, "obs.health.threshold.crossed") && data<{ metric: string }>(e).metric === "cpu");
      assert.ok(crossed, "device CPU crossing reported");
      assert.ok(alive(unmanaged.pid!), "never touched");
      assert.ok(alive(data<{ pid: number }>(events.events.find((e) => is(e, "obs.worker.started") && worker(e) === "steady")!).pid), "the quiet worker was left alone");
      assertReplayMatches(cfg, events);
    } finally {
      unmanaged.kill("SIGKILL");
      await events.close();
      await nc.close();
      const stopped = await vigil.stop();
      await srv.cleanup();
      assert.equal(stopped, 0);
    }
  });

  it("a worker whose HTTP endpoint stops answering → restarted after failureThreshold probes; the probe recovers and the incident resolves", async () => {
    const srv = await startNatsServer();
    const port = await freePort();
    const cfg = writeConfig({
      device: "e2e-probe",
      health: { intervalMs: 1000, thermalDir: "none", disks: ["/"], anomaly: { enabled: false } },
      workers: [
        {
          name: "api",
          command: process.execPath,
          args: ["api.js"],
          env: { PORT: String(port), ANSWERS: "4" },
          probe: { http: { url: `http://127.0.0.1:${port}/health`, bodyMatch: "^ok" }, periodMs: 200, timeoutMs: 150, failureThreshold: 3, initialDelayMs: 100 },
        },
      ],
    });
    // A tiny HTTP server that answers ANSWERS requests, then stops answering (hangs) while staying alive.
    writeFileSync(
      join(dirname(cfg), "api.js"),
      `let n = 0;
require("node:http").createServer((req, res) => { if (++n <= Number(process.env.ANSWERS)) res.end("ok " + n); }).listen(Number(process.env.PORT), "127.0.0.1");
`,
    );
    const vigil = await vigilUp(cfg, srv.url);
    const nc = await connectBus({ url: srv.url }, "test");
    const events = await watchEvents(nc);
    try {
      const started = await events.waitFor("api started", (e) => is(e, "obs.worker.started"), 20_000);
      const failed = await events.waitFor("probe failed", (e) => is(e, "obs.probe.failed"), 20_000);
      assert.deepEqual({ ...data<object>(failed), error: "" }, { worker: "api", pid: data<{ pid: number }>(started).pid, probe: "http", failures: 3, failureThreshold: 3, error: "" });
      assert.match(data<{ error: string }>(failed).error, /no answer within 150 ms/);
      const restart = await events.waitFor("restart", (e) => is(e, "cmd.worker.restart"));
      assert.equal(worker(restart), "api");
      assert.equal(restart.causation, failed.id, "decided from the probe failure");
      const decided = events.events.find((e) => is(e, "dec.remediation.decided") && e.incident === restart.incident)!;
      assert.equal(policy(decided), "probe");
      const restarted = await events.waitFor("api restarted", (e) => is(e, "out.worker.restarted"));
      assert.notEqual(data<{ pid: number }>(restarted).pid, data<{ pid: number }>(started).pid);
      const recovered = await events.waitFor("probe recovered", (e) => is(e, "obs.probe.recovered"));
      assert.equal(data<{ pid: number }>(recovered).pid, data<{ pid: number }>(restarted).pid);
      const resolved = await events.waitFor("incident resolved", (e) => is(e, "dec.incident.resolved"));
      assert.equal(resolved.incident, restart.incident);
      assertReplayMatches(cfg, events);
    } finally {
      await events.close();
      await nc.close();
      const stopped = await vigil.stop();
      await srv.cleanup();
      assert.equal(stopped, 0);
    }
  });

  it("bad thresholds in the config → exit 2 with the field and the problem named", async () => {
    const cfg = writeConfig({ health: { thresholds: { temperature: { above: 70, recoverBelow: 80 }, cpu: { above: 90, hysteresis: -1 } } } });
    const r = await runVigil(["up", "--config", cfg], { VIGIL_NATS_URL: "nats://127.0.0.1:1" });
    assert.equal(r.code, 2);
    const out = r.stdout + r.stderr;
    assert.match(out, /health\.thresholds\.temperature\.recoverBelow: \(80\) must not be above the crossing threshold above \(70\)/);
    assert.match(out, /health\.thresholds\.cpu\.hysteresis: must not be negative/);
  });
});
