import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectBus, createLogger, createPublisher, is, loadConfig, readPidStat, startService, type EventName, type EventOf, type VigilEvent } from "@vigil/events";
import { startNatsServer, watchEvents, type TestNatsServer } from "@vigil/events/testing";
import { startSupervisor, type RunningSupervisor } from "./service.js";

const log = createLogger("test", "silent");

function dataOf<N extends EventName>(e: VigilEvent | undefined, name: N): EventOf<N>["data"] {
  if (!e || !is(e, name)) throw new Error(`expected ${name}, got ${e?.type ?? "nothing"}`);
  return e.data;
}
const alive = (pid: number) => {
  const s = readPidStat(pid)?.state;
  return s !== undefined && s !== "Z";
};
const sleeper = (name: string, secs = "600", extra: object = {}) => ({ name, command: "sleep", args: [secs], ...extra });

/** A supervisor over a real config file (reload re-reads it), in its own data dir. */
async function setup(srv: TestNatsServer, workers: unknown[], dataDir = mkdtempSync(join(tmpdir(), "vigil-reload-"))) {
  const file = join(dataDir, "vigil.yaml");
  const write = (w: unknown[]) => writeFileSync(file, JSON.stringify({ device: "t1", dataDir, nats: { url: srv.url }, workers: w })) // JSON is YAML;
  write(workers);
  const config = loadConfig(file, {});
  let sup!: RunningSupervisor;
  const svc = await startService("supervisor", config, async (ctx) => (sup = await startSupervisor(ctx, { configPath: file, env: {} })), log);
  const nc = await connectBus({ url: srv.url }, "test");
  const events = await watchEvents(nc);
  const cmds = await createPublisher(nc, { device: "t1", source: "test", log });
  const close = async () => {
    await events.close();
    await svc.stop();
    await nc.close();
  };
  return { sup, svc, nc, events, cmds, write, file, dataDir, close };
}

const startedPid = (events: VigilEvent[], worker: string): number[] => events.filter((e) => is(e, "obs.worker.started") && e.data.worker === worker).map((e) => dataOf(e, "obs.worker.started").pid);

describe("reload: desired workers changed → plan → steps (real nats-server, real processes)", () => {
  it("one added, one removed, one changed, one unchanged: same pid for the unchanged, one restart, SIGTERM for the removed, the added runs; one change with four steps", async () => {
    const srv = await startNatsServer();
    const t = await setup(srv, [sleeper("keep"), sleeper("gone"), sleeper("change", "600")]);
    try {
      await t.events.waitForCount("boot", (e) => is(e, "obs.worker.started"), 3);
      const [keepPid] = startedPid(t.events.events, "keep");
      const [gonePid] = startedPid(t.events.events, "gone");
      const [changePid] = startedPid(t.events.events, "change");
      t.write([sleeper("keep"), sleeper("change", "601"), sleeper("fresh")]);
      const r = await t.sup.reload({ change: "change-1" });
      assert.ok(r.ok, "the reload applies");
      const planned = dataOf(await t.events.waitFor("planned", (e) => is(e, "dec.config.planned") && e.data.change === "change-1"), "dec.config.planned");
      assert.deepEqual(planned.diff, { added: ["fresh"], removed: ["gone"], changed: [{ worker: "change", fields: ["args"] }], unchanged: ["keep"] });
      const applied = dataOf(await t.events.waitFor("applied", (e) => is(e, "out.config.applied") && e.data.change === "change-1"), "out.config.applied");
      assert.deepEqual({ steps: applied.steps, failed: applied.failed }, { steps: 4, failed: 0 });
      const steps = t.events.events.filter((e) => is(e, "out.config.step") && e.data.change === "change-1").map((e) => dataOf(e, "out.config.step"));
      assert.deepEqual(steps.map((s) => `${s.step}/${s.of} ${s.action} ${s.worker} ${s.ok}`), ["1/4 stop gone true", "2/4 stop change true", "3/4 start change true", "4/4 start fresh true"]);

      assert.ok(alive(keepPid!), "the unchanged worker still runs");
      assert.deepEqual(startedPid(t.events.events, "keep"), [keepPid], "the unchanged worker was never started again");
      const changePids = startedPid(t.events.events, "change");
      assert.equal(changePids.length, 2, "the changed worker restarted once");
      assert.equal(alive(changePid!), false);
      assert.ok(alive(changePids[1]!));
      const goneExit = dataOf(t.events.events.find((e) => is(e, "obs.worker.exited") && e.data.worker === "gone"), "obs.worker.exited");
      assert.deepEqual({ pid: goneExit.pid, signal: goneExit.signal, expected: goneExit.expected }, { pid: gonePid, signal: "SIGTERM", expected: true });
      const [freshPid] = startedPid(t.events.events, "fresh");
      assert.ok(freshPid && alive(freshPid), "the added worker runs");
      assert.equal(steps.find((s) => s.worker === "fresh")?.pid, freshPid);

      // A bad config changes nothing and names the field.
      t.write([sleeper("keep"), { name: "broken", args: ["x"] }]);
      const bad = await t.sup.reload({ change: "change-2" });
      assert.equal(bad.ok, false);
      const rejected = dataOf(await t.events.waitFor("rejected", (e) => is(e, "dec.config.rejected") && e.data.change === "change-2"), "dec.config.rejected");
      assert.match(rejected.error, /workers\[1\]\.command/);
      assert.ok(alive(keepPid!) && alive(changePids[1]!) && alive(freshPid), "nothing was touched");
      assert.equal(t.events.events.filter((e) => is(e, "dec.config.planned") && e.data.change === "change-2").length, 0);
    } finally {
      await t.close();
      await srv.cleanup();
    }
  });

  it("an unchanged reload plans no step and touches no worker", async () => {
    const srv = await startNatsServer();
    const t = await setup(srv, [sleeper("a"), sleeper("b")]);
    try {
      await t.events.waitForCount("boot", (e) => is(e, "obs.worker.started"), 2);
      const r = await t.sup.reload({ change: "same" });
      assert.ok(r.ok && r.steps.length === 0);
      const applied = dataOf(await t.events.waitFor("applied", (e) => is(e, "out.config.applied") && e.data.change === "same"), "out.config.applied");
      assert.equal(applied.steps, 0);
      assert.equal(t.events.events.filter((e) => is(e, "obs.worker.started")).length, 2);
    } finally {
      await t.close();
      await srv.cleanup();
    }
  });

  it("a chain db → api → ui with readiness on stdout starts in dependency order, each when its dependency printed its line; a cycle is refused, named", async () => {
    const srv = await startNatsServer();
    const says = (name: string, line: string, dependsOn: string[] = []) => ({
      name,
      command: "sh",
      args: ["-c", `sleep 0.4; echo ${line}; exec sleep 600`],
      dependsOn,
      ready: { stdout: `^${line}$`, timeoutMs: 10_000 },
    });
    // Declared backwards: the order comes from dependsOn, the timing from readiness.
    const t = await setup(srv, [{ ...sleeper("ui"), dependsOn: ["api"] }, says("api", "listening", ["db"]), says("db", "accepting")]);
    try {
      const started = await t.events.waitForCount("chain", (e) => is(e, "obs.worker.started"), 3, 15_000);
      assert.deepEqual(started.map((e) => dataOf(e, "obs.worker.started").worker), ["db", "api", "ui"]);
      const at = started.map((e) => Date.parse(e.time));
      assert.ok(at[1]! - at[0]! >= 380, `api started ${at[1]! - at[0]!} ms after db: it waits for db's line (printed after 400 ms)`);
      assert.ok(at[2]! - at[1]! >= 380, `ui started ${at[2]! - at[1]!} ms after api: it waits for api's line`);

      t.write([{ ...sleeper("a"), dependsOn: ["b"] }, { ...sleeper("b"), dependsOn: ["c"] }, { ...sleeper("c"), dependsOn: ["a"] }]);
      const r = await t.sup.reload({ change: "cycle" });
      assert.equal(r.ok, false);
      assert.match(r.ok ? "" : r.error, /workers\[0\]\.dependsOn: dependency cycle: a → b → c → a/);
      assert.equal(startedPid(t.events.events, "a").length, 0, "nothing of the cyclic config started");
    } finally {
      await t.close();
      await srv.cleanup();
    }
  });

  it("vigil stop sensor: stays stopped across a reload, a decider restart and a supervisor restart, until an operator starts it", async () => {
    const srv = await startNatsServer();
    let t = await setup(srv, [sleeper("sensor"), sleeper("other")]);
    try {
      await t.events.waitForCount("boot", (e) => is(e, "obs.worker.started"), 2);
      await t.cmds.emit("cmd.worker.stop", { worker: "sensor", requestedBy: "alice" });
      await t.events.waitFor("stopped", (e) => is(e, "out.worker.stopped"));
      const r = await t.sup.reload({ change: "after-stop" });
      assert.ok(r.ok);
      assert.deepEqual(r.ok && r.held.map((h) => h.worker), ["sensor"]);
      await t.cmds.emit("cmd.worker.restart", { worker: "sensor", requestedBy: "decider" });
      const refused = dataOf(await t.events.waitFor("decider restart refused", (e) => is(e, "out.command.rejected")), "out.command.rejected");
      assert.match(refused.reason, /stopped by the operator/);
      // A new supervisor on the same data dir (what follows a kill -9 too: the stop is on disk, synced, before it ran).
      const dataDir = t.dataDir;
      await t.close();
      t = await setup(srv, [sleeper("sensor"), sleeper("other")], dataDir);
      await t.events.waitForCount("other booted again", (e) => is(e, "obs.worker.started") && e.data.worker === "other", 2);
      assert.equal(startedPid(t.events.events, "sensor").length, 1, "sensor was not started by the second boot");
      await t.cmds.emit("cmd.worker.start", { worker: "sensor", requestedBy: "alice" });
      const out = dataOf(await t.events.waitFor("started", (e) => is(e, "out.worker.started")), "out.worker.started");
      assert.ok(out.pid && alive(out.pid));
    } finally {
      await t.close();
      await srv.cleanup();
    }
  });
});
