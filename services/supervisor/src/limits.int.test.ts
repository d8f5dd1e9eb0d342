import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectBus, createLogger, is, parseConfig, readPidStat, startService, type EventName, type EventOf, type VigilEvent } from "@vigil/events";
import { startNatsServer, watchEvents } from "@vigil/events/testing";
import { probeCgroups } from "./cgroups.js";
import { startSupervisor } from "./service.js";

/**
 * Worker limits with cgroup v2 on this machine. No silent skip: where cgroup v2 cannot enforce them,
 * these tests fail with what is missing (and the supervisor says the same once at start, tested last).
 */

const log = createLogger("test", "silent");

function dataOf<N extends EventName>(e: VigilEvent | undefined, name: N): EventOf<N>["data"] {
  if (!e || !is(e, name)) throw new Error(`expected ${name}, got ${e?.type ?? "nothing"}`);
  return e.data;
}

async function withSupervisor(workers: unknown[], body: (events: Awaited<ReturnType<typeof watchEvents>>) => Promise<void>): Promise<void> {
  const srv = await startNatsServer();
  const dataDir = mkdtempSync(join(tmpdir(), "vigil-limits-"));
  // No decider here: degraded mode's reflex is "the usual policy" that restarts a crashed worker.
  const config = parseConfig({ device: "t1", dataDir, nats: { url: srv.url }, workers, supervisor: { degraded: { afterMs: 500 } }, decider: { heartbeatMs: 200 } }, { env: {} });
  const svc = await startService("supervisor", config, startSupervisor, log);
  const nc = await connectBus({ url: srv.url }, "test");
  const events = await watchEvents(nc);
  try {
    await body(events);
  } finally {
    await events.close();
    await svc.stop();
    await nc.close();
    await srv.cleanup();
  }
}

function requireCgroups(): void {
  const support = probeCgroups();
  if (!support.ok) assert.fail(`worker limits cannot be enforced on this machine: ${support.reason}`);
}

describe("worker limits (cgroup v2, real processes)", () => {
  it("memory: 64m and 200 MB allocated: OOM-killed, reported oom: true, restarted by the usual policy", async () => {
    requireCgroups();
    const hog = { name: "hog", command: process.execPath, args: ["-e", "const a = []; for (let i = 0; i < 200; i++) a.push(Buffer.alloc(1 << 20, 1)); setInterval(() => {}, 1000);"], limits: { memory: "64m" } };
    await withSupervisor([hog], async (events) => {
      const exited = dataOf(await events.waitFor("OOM kill", (e) => is(e, "obs.worker.exited") && e.data.worker === "hog", 20_000), "obs.worker.exited");
      assert.equal(exited.oom, true, `an OOM kill is reported as such (got ${JSON.stringify(exited)})`);
      assert.equal(exited.signal, "SIGKILL");
      await events.waitFor("restarted", (e) => is(e, "out.worker.restarted") && e.data.worker === "hog", 20_000);
    });
  });

  it("cpu: 0.2 spinning stays near 20 % of one core", async () => {
    requireCgroups();
    const spin = { name: "spin", command: process.execPath, args: ["-e", "for (;;) {}"], limits: { cpu: 0.2 } };
    await withSupervisor([spin], async (events) => {
      const pid = dataOf(await events.waitFor("spin started", (e) => is(e, "obs.worker.started")), "obs.worker.started").pid;
      const ticks = () => readPidStat(pid)?.cpuTicks ?? 0;
      const t0 = Date.now();
      const c0 = ticks();
      await new Promise((r) => setTimeout(r, 3_000)); // a measurement window, not a wait for an event
      const share = (ticks() - c0) / 100 / ((Date.now() - t0) / 1000);
      assert.ok(share > 0.1 && share < 0.3, `spinning under cpu: 0.2 used ${(share * 100).toFixed(1)} % of a core`);
    });
  });

  it("says once at start whether limits are enforced, and if not what is missing", async () => {
    const support = probeCgroups();
    await withSupervisor([{ name: "w", command: "sleep", args: ["600"], limits: { pids: 16 } }], async (events) => {
      const said = dataOf(await events.waitFor("limits", (e) => is(e, "sys.supervisor.limits")), "sys.supervisor.limits");
      assert.equal(said.enforced, support.ok);
      assert.deepEqual(said.workers, ["w"]);
      if (!support.ok) assert.equal(said.reason, support.reason);
      await events.waitFor("w runs anyway", (e) => is(e, "obs.worker.started"));
      assert.equal(events.events.filter((e) => is(e, "sys.supervisor.limits")).length, 1);
    });
  });
});
