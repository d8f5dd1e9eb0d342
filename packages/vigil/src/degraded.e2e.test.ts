import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { connectBus, eventName, is, loadConfig, readPidStat, type VigilEvent } from "@vigil/events";
import { nextReconnect, startNatsServer, watchEvents, type EventLog } from "@vigil/events/testing";
import { createDecider, replay } from "@vigil/decider";
import { vigilUp, writeConfig } from "./e2e-helpers.js";
import { serviceMain } from "./paths.js";

// Degraded mode (docs/degraded-mode.md). vigil up runs only the supervisor (VIGIL_UP_SERVICES), so
// the test owns the decider process: it can kill -9 it and keep it down, then start it again.

const data = <T>(e: VigilEvent) => e.data as T;
const pidOf = (e: VigilEvent) => data<{ pid: number }>(e).pid;
const alive = (pid: number) => !["Z", "X"].includes(readPidStat(pid)?.state ?? "X");

function startDecider(cfg: string, natsUrl: string): ChildProcess {
  return spawn(process.execPath, [serviceMain("decider")], { env: { ...process.env, VIGIL_CONFIG: cfg, VIGIL_NATS_URL: natsUrl, VIGIL_LOG_LEVEL: "warn" }, stdio: "ignore" });
}
function killNow(c: ChildProcess, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  return new Promise((r) => {
    c.once("exit", () => r());
    c.kill(signal);
  });
}
const deciderBeat = (after = 0) => (e: VigilEvent & { seq: number }) => is(e, "sys.service.heartbeat") && data<{ service: string }>(e).service === "decider" && e.seq > after;

/** Waits for a line in a file (the bus is down: the log is all there is to watch). */
async function waitForLine(file: string, re: RegExp, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(existsSync(file) && re.test(readFileSync(file, "utf8")))) {
    if (Date.now() > until) throw new Error(`no line matching ${re} in ${file} within ${timeoutMs} ms:\n${existsSync(file) ? readFileSync(file, "utf8").slice(-2000) : "(no file)"}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The decisions in the stream equal what a fresh decider computes from its inputs (replay stays exact). */
function assertReplayMatches(cfg: string, events: EventLog) {
  const recorded = events.events.filter((e) => /\.(dec|cmd)\./.test(e.subject) && e.source.endsWith("/decider"));
  const replayed = replay(createDecider(loadConfig(cfg, {})), events.events).decisions;
  assert.deepEqual(
    replayed.map((e) => [e.id, eventName(e), e.incident, e.data]),
    recorded.map((e) => [e.id, eventName(e), e.incident, e.data]),
  );
}

const config = (device: string) => ({
  device,
  workers: [{ name: "sensor", command: "sleep", args: ["600"], restart: { stableMs: 1000 } }],
  supervisor: { degraded: { afterMs: 2000 } },
  decider: { heartbeatMs: 500 },
});

/** A nats-server, the decider as the test's own process (to kill and start again), and vigil up running only the supervisor. */
async function degradedSystem(device: string) {
  const srv = await startNatsServer();
  const cfg = writeConfig(config(device));
  let decider = startDecider(cfg, srv.url);
  const vigil = await vigilUp(cfg, srv.url, { VIGIL_UP_SERVICES: "supervisor" });
  const nc = await connectBus({ url: srv.url }, "test");
  return {
    srv,
    cfg,
    vigil,
    nc,
    /** The decider, started again (the one before must be gone). */
    restartDecider() {
      decider = startDecider(cfg, srv.url);
    },
    async stop(events: EventLog) {
      await events.close();
      const stopped = await vigil.stop();
      await killNow(decider, "SIGTERM");
      await nc.close();
      await srv.cleanup();
      assert.equal(stopped, 0, vigil.output());
    },
    get decider() {
      return decider;
    },
  };
}

describe("degraded mode, end to end (real nats-server, real processes)", () => {
  it("decider stopped: a killed worker is restarted by the supervisor's reflex; the decider, back, records the incident without a second restart", async () => {
    const sys = await degradedSystem("e2e-deg1");
    const events = await watchEvents(sys.nc);
    try {
      const started = await events.waitFor("sensor started", (e) => is(e, "obs.worker.started"), 20_000);
      await events.waitFor("the decider's heartbeat", deciderBeat(), 20_000);
      await killNow(sys.decider);
      const degraded = await events.waitFor("the supervisor in degraded mode", (e) => is(e, "sys.supervisor.degraded"), 20_000);
      assert.deepEqual(data<{ unreachable: string[] }>(degraded).unreachable, ["decider"]);

      process.kill(pidOf(started), "SIGKILL");
      const exited = await events.waitFor("the exit, handled by the reflex", (e) => is(e, "obs.worker.exited"), 20_000);
      assert.deepEqual(data<{ reflex: unknown }>(exited).reflex, { action: "restart", attempt: 0, delayMs: 0 });
      const incident = exited.incident!;
      assert.ok(incident);
      const restarted = await events.waitFor("restarted locally", (e) => is(e, "out.worker.restarted") && e.incident === incident, 20_000);
      assert.equal(data<{ requestedBy: string }>(restarted).requestedBy, "supervisor-reflex");
      assert.equal(restarted.causation, exited.id);
      assert.ok(alive(pidOf(restarted)) && pidOf(restarted) !== pidOf(started), "running again with a new pid, with no decider");
      assert.ok(degraded.seq < exited.seq && exited.seq < restarted.seq);

      // The decider returns: it reads the whole history and records the incident, commanding nothing.
      const beforeReturn = events.events.at(-1)!.seq;
      sys.restartDecider();
      const recorded = await events.waitFor("the reflex's restart recorded", (e) => is(e, "dec.remediation.decided") && e.incident === incident, 30_000);
      assert.equal(data<{ handledBy: string }>(recorded).handledBy, "supervisor-reflex");
      assert.match(data<{ reason: string }>(recorded).reason, /restarted locally by the supervisor while degraded/);
      await events.waitFor("control handed back", (e) => is(e, "sys.supervisor.restored") && e.seq > beforeReturn, 20_000);
      await events.waitFor("incident resolved once stable", (e) => is(e, "dec.incident.resolved") && e.incident === incident, 20_000);
      const ofIncident = (name: string) => events.events.filter((e) => eventName(e) === name && e.incident === incident);
      assert.equal(ofIncident("dec.incident.opened").length, 1);
      assert.equal(ofIncident("cmd.worker.restart").length, 0, "no restart command for an exit the reflex handled");
      assert.equal(ofIncident("out.worker.restarted").length, 1, "restarted exactly once");
      assert.ok(alive(pidOf(restarted)), "the reflex's run is the one still running");

      // Control is the decider's again: the next crash is an ordinary decision and command.
      process.kill(pidOf(restarted), "SIGKILL");
      const next = await events.waitFor("the next exit", (e) => is(e, "obs.worker.exited") && pidOf(e) === pidOf(restarted), 20_000);
      assert.equal(data<{ reflex?: unknown }>(next).reflex, undefined);
      const cmd = await events.waitFor("a restart command from the decider", (e) => is(e, "cmd.worker.restart") && e.incident === next.incident, 20_000);
      await events.waitFor("restarted by the command", (e) => is(e, "out.worker.restarted") && data<{ command: string }>(e).command === cmd.id, 20_000);
      assertReplayMatches(sys.cfg, events);
    } finally {
      await sys.stop(events);
    }
  });

  it("a crash just after the decider died, before degraded mode: the reflex answers it once degraded, and the decider's late restart is refused", async () => {
    const sys = await degradedSystem("e2e-deg3");
    const events = await watchEvents(sys.nc);
    try {
      const started = await events.waitFor("sensor started", (e) => is(e, "obs.worker.started"), 20_000);
      await events.waitFor("the decider's heartbeat", deciderBeat(), 20_000);
      await killNow(sys.decider);
      process.kill(pidOf(started), "SIGKILL");
      const exited = await events.waitFor("the exit", (e) => is(e, "obs.worker.exited"), 20_000);
      assert.equal(data<{ reflex?: unknown }>(exited).reflex, undefined, "not degraded yet: the exit is the decider's to answer");
      const incident = exited.incident!;
      const degraded = await events.waitFor("degraded mode", (e) => is(e, "sys.supervisor.degraded"), 20_000);
      const restarted = await events.waitFor("restarted locally", (e) => is(e, "out.worker.restarted") && e.incident === incident, 20_000);
      assert.equal(data<{ requestedBy: string }>(restarted).requestedBy, "supervisor-reflex");
      assert.ok(exited.seq < degraded.seq && degraded.seq < restarted.seq);

      sys.restartDecider();
      const cmd = await events.waitFor("the decider's (late) restart command", (e) => is(e, "cmd.worker.restart") && e.incident === incident, 30_000);
      const rejected = await events.waitFor("refused as superseded", (e) => is(e, "out.command.rejected") && data<{ command: string }>(e).command === cmd.id, 20_000);
      assert.match(data<{ reason: string }>(rejected).reason, /superseded: sensor was restarted locally/);
      await events.waitFor("incident resolved once stable", (e) => is(e, "dec.incident.resolved") && e.incident === incident, 20_000);
      assert.equal(events.events.filter((e) => is(e, "out.worker.restarted") && e.incident === incident).length, 1, "restarted exactly once");
      assert.ok(alive(pidOf(restarted)));
      assertReplayMatches(sys.cfg, events);
    } finally {
      await sys.stop(events);
    }
  });

  it("NATS stopped: a killed worker is restarted locally; when the bus returns the outbox delivers it all in order and the decider records it without restarting again", async () => {
    const sys = await degradedSystem("e2e-deg2");
    const { srv, nc } = sys;
    let events = await watchEvents(nc);
    const log = join(sys.vigil.dir, "data", "logs", "supervisor.log");
    try {
      const started = await events.waitFor("sensor started", (e) => is(e, "obs.worker.started"), 20_000);
      await events.waitFor("the decider's heartbeat", deciderBeat(), 20_000);
      await events.close();
      await srv.stop();
      await waitForLine(log, /degraded mode: bus unreachable/, 20_000);
      process.kill(pidOf(started), "SIGKILL");
      await waitForLine(log, /restarting the worker locally/, 20_000);
      const back = nextReconnect(nc);
      await srv.restart();
      await back;
      events = await watchEvents(nc);
      const exited = await events.waitFor("the exit from the outbox", (e) => is(e, "obs.worker.exited") && pidOf(e) === pidOf(started), 30_000);
      assert.equal(data<{ reflex: { action: string } }>(exited).reflex.action, "restart");
      const incident = exited.incident!;
      const restarted = await events.waitFor("the local restart from the outbox", (e) => is(e, "out.worker.restarted") && e.incident === incident, 30_000);
      assert.equal(data<{ requestedBy: string }>(restarted).requestedBy, "supervisor-reflex");
      const degraded = events.events.find((e) => is(e, "sys.supervisor.degraded"))!;
      assert.deepEqual(data<{ unreachable: string[] }>(degraded).unreachable, ["bus"]);
      assert.ok(degraded.seq < exited.seq && exited.seq < restarted.seq, "in the order it happened");
      assert.ok(alive(pidOf(restarted)));
      await events.waitFor("the reflex's restart recorded", (e) => is(e, "dec.remediation.decided") && e.incident === incident, 30_000);
      await events.waitFor("incident resolved once stable", (e) => is(e, "dec.incident.resolved") && e.incident === incident, 30_000);
      await events.waitFor("control handed back", (e) => is(e, "sys.supervisor.restored"), 20_000);
      assert.equal(events.events.filter((e) => is(e, "cmd.worker.restart") && e.incident === incident).length, 0, "no second restart");
      assert.equal(events.events.filter((e) => is(e, "out.worker.restarted") && e.incident === incident).length, 1);
    } finally {
      await sys.stop(events);
    }
  });
});
