import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { connectBus, is, readPidStat, type VigilEvent } from "@vigil/events";
import { freePort, watchEvents } from "@vigil/events/testing";
import { vigilUpEmbedded, writeConfig } from "./e2e-helpers.js";

/** Live pids whose command line contains every one of the parts. */
function pidsWith(...parts: string[]): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const state = readPidStat(Number(d))?.state;
      if (state === undefined || state.startsWith("Z")) continue; // gone, or a zombie: has already died
      const cmd = readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0").join(" ");
      if (parts.every((p) => cmd.includes(p))) out.push(Number(d));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/** Waits (polling /proc, the only place a process's end shows for a non-parent) until none of the pids lives. */
async function allGone(pids: number[], timeoutMs: number): Promise<number[]> {
  const alive = () => pids.filter((p) => pidsWith().includes(p));
  const end = Date.now() + timeoutMs;
  while (alive().length && Date.now() < end) await new Promise((r) => setTimeout(r, 200));
  return alive();
}

const pidOf = (e: VigilEvent) => (e.data as { pid: number }).pid;

/** Waits until vigil up's output matches. */
async function outputMatches(output: () => string, re: RegExp, timeoutMs: number): Promise<string> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const m = output().match(re);
    if (m) return m[0];
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`vigil up never said ${re} in ${timeoutMs} ms:\n${output()}`);
}

describe("the embedded nats-server killed with -9", () => {
  it("vigil up restarts it on the same port and store; the services reconnect and heal through the decider again; nothing recorded before is lost", { timeout: 120_000 }, async () => {
    const cfg = writeConfig({ device: "kill-bus", health: { intervalMs: 60_000, anomaly: { enabled: false } }, workers: [{ name: "sensor", command: "sleep", args: ["600"] }] });
    const vigil = await vigilUpEmbedded(cfg, await freePort());
    try {
      let nc = await connectBus(vigil.nats, "test");
      let events = await watchEvents(nc);
      const started = await events.waitFor("sensor started", (e) => is(e, "obs.worker.started"), 30_000);
      // The bus dies under a running system (a service whose start it interrupts exits and is restarted by vigil up: another path).
      for (const s of ["decider", "supervisor", "health", "gateway", "telemetry", "netmon"]) await events.waitFor(`${s} started`, (e) => is(e, "sys.service.started") && (e.data as { service: string }).service === s, 30_000);
      const lastBefore = events.events.at(-1)!;
      await events.close();
      await nc.close();
      const [server] = pidsWith("nats-server", vigil.dataDir);
      assert.ok(server, "the embedded nats-server runs");

      process.kill(server, "SIGKILL");
      await outputMatches(vigil.output, /nats-server died \(SIGKILL\); restarting it/, 10_000);
      await outputMatches(vigil.output, /nats-server restarted at nats:\/\/127\.0\.0\.1:\d+ \(pid \d+\)/, 30_000);
      const [again] = pidsWith("nats-server", vigil.dataDir);
      assert.ok(again && again !== server, "a new nats-server process");

      nc = await connectBus(vigil.nats, "test");
      events = await watchEvents(nc);
      try {
        // The stream kept what was recorded before the crash.
        await events.waitFor("the sensor's start, recorded before the crash", (e) => e.id === started.id, 10_000);
        const last = await events.waitFor("the last event seen before the crash", (e) => e.id === lastBefore.id, 10_000);
        assert.equal(last.seq, lastBefore.seq, "at the same stream sequence");
        // Healing works end to end again: the supervisor reports, the decider commands, the supervisor restarts.
        process.kill(pidOf(started), "SIGKILL");
        const exit = await events.waitFor("the exit", (e) => is(e, "obs.worker.exited") && pidOf(e) === pidOf(started), 30_000);
        const cmd = await events.waitFor("the decider's restart command", (e) => is(e, "cmd.worker.restart") && e.incident === exit.incident, 30_000);
        const restarted = await events.waitFor("restarted", (e) => is(e, "out.worker.restarted") && (e.data as { command: string }).command === cmd.id, 30_000);
        assert.notEqual(pidOf(restarted), pidOf(started));
      } finally {
        await events.close();
        await nc.close();
      }
      const stopped = await vigil.stop();
      assert.deepEqual(await allGone(pidsWith("nats-server", vigil.dataDir), 15_000), [], "stopped with vigil up");
      assert.equal(stopped, 0, vigil.output());
    } finally {
      if (vigil.child.exitCode === null && vigil.child.signalCode === null) vigil.child.kill("SIGKILL");
      for (const p of pidsWith("nats-server", vigil.dataDir)) process.kill(p, "SIGKILL");
      rmSync(vigil.dir, { recursive: true, force: true });
    }
  });
});

describe("vigil up killed with -9 (embedded nats-server)", () => {
  it("leaves nothing behind: the services stop their workers, the embedded nats-server is stopped, and the port is free again", { timeout: 120_000 }, async () => {
    const marker = String(600_000 + Math.floor(Math.random() * 99_999)); // a sleep only this test runs
    const cfg = writeConfig({ device: "kill-up", health: { intervalMs: 60_000, anomaly: { enabled: false } }, workers: [{ name: "sensor", command: "sleep", args: [marker] }] });
    const port = await freePort();
    const vigil = await vigilUpEmbedded(cfg, port);
    try {
      const services = [...vigil.output().matchAll(/(\w+) \(pid (\d+)\)/g)].map((m) => ({ name: m[1]!, pid: Number(m[2]) }));
      assert.ok(services.length >= 5, `vigil up names its services and their pids:\n${vigil.output()}`);
      const server = pidsWith("nats-server", vigil.dataDir);
      assert.equal(server.length, 1, `one nats-server runs with its config in ${vigil.dataDir}`);
      let worker: number[] = [];
      for (let i = 0; i < 100 && worker.length === 0; i++) {
        worker = pidsWith("sleep", marker);
        if (!worker.length) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(worker.length, 1, "the worker runs");

      process.kill(vigil.child.pid!, "SIGKILL");
      const left = await allGone([...services.map((s) => s.pid), ...worker, ...server], 30_000);
      const named = left.map((p) => (server.includes(p) ? `nats-server ${p}` : worker.includes(p) ? `worker ${p}` : `${services.find((s) => s.pid === p)?.name} ${p}`));
      assert.deepEqual(named, [], "nothing of this vigil up is left running");

      // The next vigil up on the same data dir and port starts cleanly.
      const again = await vigilUpEmbedded(cfg, port);
      assert.equal(await again.stop(), 0, again.output());
      assert.deepEqual(await allGone(pidsWith("nats-server", vigil.dataDir), 15_000), [], "a clean stop stops its server too");
    } finally {
      if (vigil.child.exitCode === null && vigil.child.signalCode === null) vigil.child.kill("SIGKILL");
      for (const p of [...pidsWith("nats-server", vigil.dataDir), ...pidsWith("sleep", marker)]) process.kill(p, "SIGKILL");
      rmSync(vigil.dir, { recursive: true, force: true });
    }
  });
});
