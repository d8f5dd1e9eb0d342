import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { jetstreamManager } from "@nats-io/jetstream";
import { connectBus, eventName, is, readPidStat, type VigilEvent } from "@vigil/events";
import { nextReconnect, startNatsServer, until, watchEvents, type EventLog } from "@vigil/events/testing";
import { createDecider, replay } from "@vigil/decider";
import { loadConfig } from "@vigil/events";
import { runVigil, vigilUp, writeConfig } from "./e2e-helpers.js";

/** The process state letter from /proc (Z = a zombie nobody reaped: as good as gone). */
function procState(pid: number): string | undefined {
  return readPidStat(pid)?.state;
}
const alive = (pid: number) => ![undefined, "Z", "X"].includes(procState(pid));
const data = <T>(e: VigilEvent) => e.data as T;
const pidOf = (e: VigilEvent) => data<{ pid: number }>(e).pid;

/** Every decision the recorded stream holds equals what a fresh decider computes from its inputs. */
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

describe("vigil up: the first reflex, end to end (real nats-server, real processes)", () => {
  it("kill -9 of a worker → exited → decision → restart command → restarted with a new pid, one incident, resolved once stable", async () => {
    const srv = await startNatsServer();
    const cfg = writeConfig({ device: "e2e-1", workers: [{ name: "sensor", command: "sleep", args: ["600"], restart: { stableMs: 500 } }] });
    const vigil = await vigilUp(cfg, srv.url);
    const nc = await connectBus({ url: srv.url }, "test");
    const events = await watchEvents(nc);
    try {
      const started = await events.waitFor("sensor started", (e) => is(e, "obs.worker.started"));
      process.kill(pidOf(started), "SIGKILL");
      const restarted = await events.waitFor("sensor restarted", (e) => is(e, "out.worker.restarted"));
      const exited = events.events.find((e) => is(e, "obs.worker.exited"))!;
      const decided = events.events.find((e) => is(e, "dec.remediation.decided"))!;
      const cmd = events.events.find((e) => is(e, "cmd.worker.restart"))!;
      const incident = exited.incident;
      assert.ok(incident);
      assert.deepEqual([exited, decided, cmd, restarted].map((e) => e.incident), [incident, incident, incident, incident]);
      assert.ok(exited.seq < decided.seq && decided.seq < cmd.seq && cmd.seq < restarted.seq, "in causal order in the stream");
      assert.equal(decided.causation, exited.id);
      assert.equal(data<{ command: string }>(restarted).command, cmd.id);
      assert.notEqual(pidOf(restarted), pidOf(started));
      process.kill(pidOf(restarted), 0); // the new pid is alive
      const resolved = await events.waitFor("incident resolved", (e) => is(e, "dec.incident.resolved"));
      assert.equal(resolved.incident, incident);

      const status = await runVigil(["status", "--json", "--config", cfg], { VIGIL_NATS_URL: srv.url });
      assert.equal(status.code, 0, status.stderr);
      const s = JSON.parse(status.stdout);
      assert.equal(s.workers[0].status, "running");
      assert.equal(s.workers[0].pid, pidOf(restarted));
      assert.equal(s.workers[0].restarts, 1);
      const table = await runVigil(["status", "--config", cfg], { VIGIL_NATS_URL: srv.url });
      assert.match(table.stdout, /sensor\s+running\s+\d+\s+1\s/);
      assertReplayMatches(cfg, events);
    } finally {
      await events.close();
      const stopped = await vigil.stop();
      await nc.close();
      await srv.cleanup();
      assert.equal(stopped, 0, vigil.output());
    }
  });

  it("a worker that exits at once every time backs off, is marked flapping and its incident escalated: no restart storm", async () => {
    const srv = await startNatsServer();
    // coolDownMs 0: the stop-for-good escalation (cool-down.e2e.test.ts has the slow retries).
    const restart = { backoffBaseMs: 50, backoffFactor: 2, maxRestarts: 4, windowMs: 60_000, stableMs: 5_000, coolDownMs: 0 };
    const cfg = writeConfig({ device: "e2e-2", workers: [{ name: "broken", command: "sh", args: ["-c", "exit 3"], restart }] });
    const vigil = await vigilUp(cfg, srv.url);
    const nc = await connectBus({ url: srv.url }, "test");
    const events = await watchEvents(nc);
    try {
      const escalated = await events.waitFor("incident escalated", (e) => is(e, "dec.incident.escalated"), 20_000);
      assert.match(data<{ reason: string }>(escalated).reason, /crash loop: broken exited with code 3 after 4 restarts/);
      const cmds = events.events.filter((e) => is(e, "cmd.worker.restart"));
      assert.deepEqual(cmds.map((e) => data<{ delayMs: number }>(e).delayMs), [0, 50, 100, 200]);
      assert.ok(events.events.filter((e) => /\.(obs|dec|cmd|out)\./.test(e.subject)).every((e) => !e.subject.includes(".obs.worker.") || e.incident === escalated.incident || is(e, "obs.worker.started")));
      const status = JSON.parse((await runVigil(["status", "--json", "--config", cfg], { VIGIL_NATS_URL: srv.url })).stdout);
      assert.equal(status.workers[0].status, "flapping");
    } finally {
      await events.close();
      const stopped = await vigil.stop();
      await nc.close();
      await srv.cleanup();
      assert.equal(stopped, 0, vigil.output());
      // After the escalation, nothing restarted it again.
      assert.equal(events.events.filter((e) => is(e, "cmd.worker.restart")).length, 4);
    }
  });

  it("kill -9 of the decider during a crash storm: no duplicate restart, no missed exit", async () => {
    const srv = await startNatsServer();
    const restart = { backoffBaseMs: 20, backoffFactor: 1, maxRestarts: 1000, windowMs: 60_000, stableMs: 60_000 };
    const cfg = writeConfig({ device: "e2e-3", workers: [{ name: "storm", command: "sh", args: ["-c", "sleep 0.15; exit 1"], restart }] });
    const vigil = await vigilUp(cfg, srv.url);
    const nc = await connectBus({ url: srv.url }, "test");
    const events = await watchEvents(nc);
    try {
      const deciderUp = await events.waitFor("decider started", (e) => is(e, "sys.service.started") && data<{ service: string }>(e).service === "decider");
      await events.waitForCount("a few restarts", (e) => is(e, "out.worker.restarted"), 5, 20_000);
      process.kill(data<{ pid: number }>(deciderUp).pid, "SIGKILL");
      await events.waitForCount("decider back", (e) => is(e, "sys.service.started") && data<{ service: string }>(e).service === "decider", 2, 20_000);
      const before = events.events.filter((e) => is(e, "out.worker.restarted")).length;
      await events.waitForCount("restarts after the decider came back", (e) => is(e, "out.worker.restarted"), before + 5, 20_000);
    } finally {
      assert.equal(await vigil.stop(), 0, vigil.output());
    }
    try {
      // Wait for the last outcome of the shutdown to be recorded, then check every exit and command.
      await events.waitFor("supervisor stopped", (e) => is(e, "sys.service.stopped") && data<{ service: string }>(e).service === "supervisor");
      const exits = events.events.filter((e) => is(e, "obs.worker.exited") && !data<{ expected: boolean }>(e).expected);
      const cmds = events.events.filter((e) => is(e, "cmd.worker.restart"));
      const outcomes = events.events.filter((e) => is(e, "out.worker.restarted"));
      const cmdIds = new Set(cmds.map((c) => c.id));
      assert.equal(cmdIds.size, cmds.length, "no command published twice");
      const outcomeCmds = outcomes.map((o) => data<{ command: string }>(o).command);
      assert.equal(new Set(outcomeCmds).size, outcomeCmds.length, "no command executed twice");
      // Every crash got exactly one restart decision (the last one may have been cut off by shutdown).
      const decidedFor = new Map<string, number>();
      for (const c of cmds) decidedFor.set(c.causation!, (decidedFor.get(c.causation!) ?? 0) + 1);
      const missed = exits.slice(0, -1).filter((e) => decidedFor.get(e.id) !== 1);
      assert.deepEqual(missed.map((e) => e.seq), [], "every exit decided exactly once");
      assertReplayMatches(cfg, events);
    } finally {
      await events.close();
      await nc.close();
      await srv.cleanup();
    }
  });

  it("NATS stopped for a while: workers keep running, exits during the outage reach the stream when it returns", async () => {
    const srv = await startNatsServer();
    const cfg = writeConfig({ device: "e2e-4", workers: [{ name: "a", command: "sleep", args: ["600"] }, { name: "b", command: "sleep", args: ["600"] }] });
    const vigil = await vigilUp(cfg, srv.url);
    const nc = await connectBus({ url: srv.url }, "test");
    let events = await watchEvents(nc);
    try {
      const started = await events.waitForCount("workers started", (e) => is(e, "obs.worker.started"), 2);
      // The supervisor starts its workers before its consumer: a bus stopped before the supervisor is
      // up ends its start, and the one vigil up starts again boots the workers afresh (another path).
      for (const s of ["supervisor", "decider"]) await events.waitFor(`${s} started`, (e) => is(e, "sys.service.started") && data<{ service: string }>(e).service === s, 30_000);
      await events.close();
      await srv.stop();
      const [a, b] = started.map(pidOf) as [number, number];
      process.kill(a, 0);
      process.kill(b, 0); // still running with the bus down
      process.kill(a, "SIGKILL");
      const back = nextReconnect(nc);
      await srv.restart();
      await back;
      events = await watchEvents(nc);
      const exit = await events.waitFor("exit recorded during the outage", (e) => is(e, "obs.worker.exited") && pidOf(e) === a, 20_000);
      assert.equal(data<{ signal: string }>(exit).signal, "SIGKILL");
      process.kill(b, 0); // the other one never stopped
      // And once the bus is back the decider catches up and heals it.
      await events.waitFor("a restarted", (e) => is(e, "out.worker.restarted") && data<{ worker: string }>(e).worker === "a", 20_000);
    } finally {
      await events.close();
      const stopped = await vigil.stop();
      await nc.close();
      await srv.cleanup();
      assert.equal(stopped, 0, vigil.output());
    }
  });

  it("a malformed message on vigil.> is dead-lettered with the reason and everything keeps going", async () => {
    const srv = await startNatsServer();
    const cfg = writeConfig({ device: "e2e-5", workers: [{ name: "sensor", command: "sleep", args: ["600"] }] });
    const vigil = await vigilUp(cfg, srv.url);
    const nc = await connectBus({ url: srv.url }, "test");
    const events = await watchEvents(nc);
    try {
      const started = await events.waitFor("started", (e) => is(e, "obs.worker.started"));
      nc.publish("vigil.e2e-5.cmd.worker.restart", '{"specversion":"1.0","type":"io.vigil.cmd.worker.restart"}');
      const dl = await events.waitFor("dead letter from the supervisor", (e) => is(e, "sys.deadletter") && data<{ consumer: string }>(e).consumer === "supervisor");
      assert.match(data<{ reason: string }>(dl).reason, /not a Vigil CloudEvent: id/);
      process.kill(pidOf(started), "SIGKILL");
      await events.waitFor("still healing", (e) => is(e, "out.worker.restarted"));
      // Acks of one turn are written together (libs/events consumer.ts): wait for them, not a moment.
      const jsm = await jetstreamManager(nc);
      await until("nothing stuck unacked on the supervisor's consumer", async () => (await jsm.consumers.info("VIGIL", "supervisor")).num_ack_pending, (n) => n === 0, 10_000);
    } finally {
      await events.close();
      const stopped = await vigil.stop();
      await nc.close();
      await srv.cleanup();
      assert.equal(stopped, 0, vigil.output());
    }
  });

  it("kill -9 of the supervisor: vigil up restarts it, it stops the workers its predecessor left and runs exactly one of each", async () => {
    const srv = await startNatsServer();
    const cfg = writeConfig({ device: "e2e-6", workers: [{ name: "sensor", command: "sleep", args: ["600"] }] });
    const vigil = await vigilUp(cfg, srv.url);
    const nc = await connectBus({ url: srv.url }, "test");
    const events = await watchEvents(nc);
    try {
      const sup = await events.waitFor("supervisor started", (e) => is(e, "sys.service.started") && data<{ service: string }>(e).service === "supervisor");
      const first = await events.waitFor("sensor started", (e) => is(e, "obs.worker.started"));
      process.kill(data<{ pid: number }>(sup).pid, "SIGKILL");
      const second = await events.waitForCount("sensor started again", (e) => is(e, "obs.worker.started"), 2, 20_000);
      const oldPid = pidOf(first);
      const newPid = pidOf(second[1]!);
      assert.notEqual(newPid, oldPid);
      assert.equal(alive(oldPid), false, `the orphan of the killed supervisor is gone (state ${procState(oldPid)})`);
      process.kill(newPid, 0);
    } finally {
      await events.close();
      const stopped = await vigil.stop();
      await nc.close();
      await srv.cleanup();
      assert.equal(stopped, 0, vigil.output());
    }
  });

  it("refuses a bad config with exit 2 naming the field, and a missing nats-server with how to install it", async () => {
    const bad = writeConfig({ workers: [{ name: "x", command: "sleep", restart: { maxRestarts: "many" } }] });
    const r = await runVigil(["up", "--config", bad]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /workers\[0\]\.restart\.maxRestarts/);
    const ok = writeConfig({ workers: [] });
    const m = await runVigil(["up", "--config", ok], { VIGIL_NATS_SERVER: "/nonexistent/nats-server", VIGIL_NATS_URL: "" });
    assert.equal(m.code, 2);
    assert.match(m.stderr, /apt-get install -y nats-server/);
    const u = await runVigil(["frobnicate"]);
    assert.equal(u.code, 2);
    assert.match(u.stderr, /unknown command "frobnicate"/);
    const h = await runVigil(["--help"]);
    assert.equal(h.code, 0);
    assert.match(h.stdout, /Usage: vigil <command>/);
    // Every `vigil fleet` command is listed like the others (hub-auth was missing).
    for (const sub of ["add", "remove", "list", "status", "hub-auth", "keygen", "deploy", "deployments", "restart", "logs", "state"]) {
      assert.match(h.stdout, new RegExp(`^  fleet .*\\b${sub}\\b`, "m"), `vigil --help lists fleet ${sub}`);
    }
  });
});
