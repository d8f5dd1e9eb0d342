import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectBus, createLogger, createPublisher, is, parseConfig, readPidStat, startService, type EventName, type EventOf, type VigilEvent } from "@vigil/events";
import { nextReconnect, startNatsServer, watchEvents, type TestNatsServer } from "@vigil/events/testing";
import { startSupervisor } from "./service.js";

const log = createLogger("test", "silent");

/** The data of an event that must be of type `name` (narrowed by `is`, no cast). */
function dataOf<N extends EventName>(e: VigilEvent | undefined, name: N): EventOf<N>["data"] {
  if (!e || !is(e, name)) throw new Error(`expected ${name}, got ${e?.type ?? "nothing"}`);
  return e.data;
}

function procState(pid: number): string | undefined {
  return readPidStat(pid)?.state;
}

function alive(pid: number): boolean {
  const s = procState(pid);
  return s !== undefined && s !== "Z";
}

async function setup(srv: TestNatsServer, workers: unknown[]) {
  const dataDir = mkdtempSync(join(tmpdir(), "vigil-sup-"));
  const config = parseConfig({ device: "t1", dataDir, nats: { url: srv.url }, workers }, { env: {} });
  const svc = await startService("supervisor", config, startSupervisor, log);
  const nc = await connectBus({ url: srv.url }, "test");
  const events = await watchEvents(nc);
  const cmds = await createPublisher(nc, { device: "t1", source: "test", log });
  return { svc, nc, events, cmds, config };
}

const sleeper = (name: string, extra: object = {}) => ({ name, command: "sleep", args: ["600"], ...extra });

describe("supervisor process driver (real nats-server, real processes)", () => {
  it("starts declared workers and reports a kill -9 at once, with code, signal and an incident id", async () => {
    const srv = await startNatsServer();
    const { svc, nc, events, cmds } = await setup(srv, [sleeper("sensor")]);
    try {
      const started = await events.waitFor("sensor started", (e) => is(e, "obs.worker.started"));
      const pid = dataOf(started, "obs.worker.started").pid;
      assert.ok(alive(pid));
      process.kill(pid, "SIGKILL");
      const exited = await events.waitFor("sensor exited", (e) => is(e, "obs.worker.exited"));
      assert.deepEqual({ ...dataOf(exited, "obs.worker.exited"), uptimeMs: 0 }, { worker: "sensor", pid, code: null, signal: "SIGKILL", expected: false, uptimeMs: 0 });
      assert.ok(exited.incident, "an unexpected exit carries an incident id");
    } finally {
      await events.close();
      await svc.stop();
      await nc.close();
      await srv.cleanup();
    }
  });

  it("executes restart, pause (state T), resume and stop; each outcome names its command", async () => {
    const srv = await startNatsServer();
    const { svc, nc, events, cmds } = await setup(srv, [sleeper("sensor")]);
    try {
      const started = await events.waitFor("started", (e) => is(e, "obs.worker.started"));
      const pid1 = dataOf(started, "obs.worker.started").pid;
      const r = await cmds.emit("cmd.worker.restart", { worker: "sensor", requestedBy: "alice" }, { incident: "inc-x" });
      const restarted = await events.waitFor("restarted", (e) => is(e, "out.worker.restarted"));
      const d = dataOf(restarted, "out.worker.restarted");
      const pid2 = d.pid ?? assert.fail("the restart reports the new pid");
      assert.equal(d.command, r.event.id);
      assert.equal(d.previousPid, pid1);
      assert.notEqual(d.pid, pid1);
      assert.equal(d.requestedBy, "alice");
      assert.equal(restarted.incident, "inc-x");
      assert.equal(alive(pid1), false, "old process is gone");
      const stoppedForRestart = events.events.find((e) => is(e, "obs.worker.exited"));
      assert.equal(dataOf(stoppedForRestart, "obs.worker.exited").expected, true, "a commanded stop is not a crash");

      await cmds.emit("cmd.worker.pause", { worker: "sensor" });
      await events.waitFor("paused", (e) => is(e, "out.worker.paused"));
      assert.equal(procState(pid2), "T");
      await cmds.emit("cmd.worker.resume", { worker: "sensor" });
      await events.waitFor("resumed", (e) => is(e, "out.worker.resumed"));
      assert.notEqual(procState(pid2), "T");
      await cmds.emit("cmd.worker.stop", { worker: "sensor" });
      await events.waitFor("stopped", (e) => is(e, "out.worker.stopped"));
      assert.equal(alive(pid2), false);
    } finally {
      await events.close();
      await svc.stop();
      await nc.close();
      await srv.cleanup();
    }
  });

  it("rejects commands for undeclared workers and runs a command id at most once", async () => {
    const srv = await startNatsServer();
    const { svc, nc, events, cmds } = await setup(srv, [sleeper("sensor")]);
    try {
      await events.waitFor("started", (e) => is(e, "obs.worker.started"));
      await cmds.emit("cmd.worker.kill", { worker: "bash" });
      const rej = await events.waitFor("rejected", (e) => is(e, "out.command.rejected"));
      assert.match(dataOf(rej, "out.command.rejected").reason, /unknown worker "bash".*declared: sensor/);
      const first = await cmds.emit("cmd.worker.restart", { worker: "sensor" });
      await events.waitFor("restarted", (e) => is(e, "out.worker.restarted"));
      // The same command again, after JetStream's duplicate window would have let it through: a raw
      // re-publish with a different Nats-Msg-Id but the same event id.
      nc.publish(first.event.subject, JSON.stringify(first.event));
      await cmds.emit("cmd.worker.pause", { worker: "sensor" });
      await events.waitFor("paused (after the repeat)", (e) => is(e, "out.worker.paused"));
      assert.equal(events.events.filter((e) => is(e, "out.worker.restarted")).length, 1);
    } finally {
      await events.close();
      await svc.stop();
      await nc.close();
      await srv.cleanup();
    }
  });

  it("keeps workers running while NATS is down and delivers their exits from the outbox when it returns", async () => {
    const srv = await startNatsServer();
    const { svc, nc, events } = await setup(srv, [sleeper("a"), sleeper("b")]);
    try {
      const started = await events.waitForCount("both started", (e) => is(e, "obs.worker.started"), 2);
      const pids = started.map((e) => dataOf(e, "obs.worker.started").pid);
      await srv.stop();
      for (const pid of pids) {
        assert.ok(alive(pid), "workers keep running while the bus is down");
        process.kill(pid, "SIGKILL");
      }
      await new Promise((r) => setTimeout(r, 300)); // the outage lasts a while (no event to wait on: the bus is down)
      const back = nextReconnect(nc);
      await srv.restart();
      await back;
      const exits = await events.waitForCount("both exits from the outbox", (e) => is(e, "obs.worker.exited"), 2, 15_000);
      assert.deepEqual(exits.map((e) => dataOf(e, "obs.worker.exited").pid).sort(), [...pids].sort());
    } finally {
      await events.close();
      await svc.stop();
      await nc.close();
      await srv.cleanup();
    }
  });

  it("reports a program that cannot start as an exit with the error", async () => {
    const srv = await startNatsServer();
    const { svc, nc, events, cmds } = await setup(srv, [{ name: "ghost", command: "/nonexistent/program" }]);
    try {
      const exited = await events.waitFor("exit with error", (e) => is(e, "obs.worker.exited"));
      assert.match(dataOf(exited, "obs.worker.exited").error ?? "", /\/nonexistent\/program: ENOENT/);
      await cmds.emit("cmd.worker.start", { worker: "ghost" });
      const failed = await events.waitFor("command failed", (e) => is(e, "out.command.failed"));
      assert.match(dataOf(failed, "out.command.failed").error, /ENOENT/);
    } finally {
      await events.close();
      await svc.stop();
      await nc.close();
      await srv.cleanup();
    }
  });

  it("on shutdown stops every worker and its children: no orphans", async () => {
    const srv = await startNatsServer();
    const { svc, nc, events } = await setup(srv, [{ name: "tree", command: "sh", args: ["-c", "sleep 600 & sleep 600 & wait"] }]);
    try {
      const started = await events.waitFor("started", (e) => is(e, "obs.worker.started"));
      const pid = dataOf(started, "obs.worker.started").pid;
      const childrenOf = () => readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
      // The shell forks its two sleeps right after it starts; poll /proc until both exist.
      for (let i = 0; i < 200 && childrenOf().length < 2; i++) await new Promise((r) => setTimeout(r, 10));
      const children = childrenOf();
      assert.equal(children.length, 2);
      await svc.stop();
      assert.equal(alive(pid), false);
      for (const c of children) assert.equal(alive(c), false, `child ${c} of the worker is gone`);
    } finally {
      await events.close();
      await nc.close();
      await srv.cleanup();
    }
  });
});
