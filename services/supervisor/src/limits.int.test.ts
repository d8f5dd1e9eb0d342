import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectBus, createLogger, is, parseConfig, readPidStat, startService, type EventName, type EventOf, type VigilEvent } from "@vigil/events";
import { startNatsServer, watchEvents } from "@vigil/events/testing";
import { probeLimits, type LimitsBackend } from "./cgroups.js";
import { startSupervisor } from "./service.js";

/**
 * Worker limits with the cgroup backend this machine offers (v2, else v1 on a hybrid host). No silent
 * skip: where neither can enforce them, these tests fail with what is missing (and the supervisor says
 * the same once at start).
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

function requireCgroups(): LimitsBackend {
  const support = probeLimits({ device: "t1" });
  if (!support.ok) assert.fail(`worker limits cannot be enforced on this machine: ${support.reason}`);
  return support.backend;
}

describe("worker limits (cgroup v2 or v1, real processes)", () => {
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

  it("cpu: 0.2 spinning stays near 20 % of one core", async (t) => {
    requireCgroups();
    const spin = { name: "spin", command: process.execPath, args: ["-e", "for (;;) {}"], limits: { cpu: 0.2 } };
    await withSupervisor([spin], async (events) => {
      const pid = dataOf(await events.waitFor("spin started", (e) => is(e, "obs.worker.started")), "obs.worker.started").pid;
      const ticks = () => readPidStat(pid)?.cpuTicks ?? 0;
      const t0 = Date.now();
      const c0 = ticks();
      await new Promise((r) => setTimeout(r, 3_000)); // a measurement window, not a wait for an event
      const share = (ticks() - c0) / 100 / ((Date.now() - t0) / 1000);
      t.diagnostic(`cpu: 0.2 spinning used ${(share * 100).toFixed(1)} % of a core over ${Date.now() - t0} ms`);
      // A generous band: 2 cores shared by several test runs, and the quota is per 100 ms period.
      assert.ok(share > 0.1 && share < 0.35, `spinning under cpu: 0.2 used ${(share * 100).toFixed(1)} % of a core`);
    });
  });

  it("pids: 8: forks beyond it are refused", async () => {
    requireCgroups();
    // dash exits 2 at the first fork the kernel refuses; unlimited it would print "all 20 forked" and exit 0.
    const script = 'i=0; while [ $i -lt 20 ]; do sleep 60 & i=$((i+1)); echo "forked $i"; done; echo "all 20 forked"';
    const forker = { name: "forker", command: "/bin/sh", args: ["-c", script], limits: { pids: 8 } };
    await withSupervisor([forker], async (events) => {
      const exited = dataOf(await events.waitFor("forker exited", (e) => is(e, "obs.worker.exited") && e.data.worker === "forker", 20_000), "obs.worker.exited");
      const lines = exited.lastLines ?? [];
      assert.equal(exited.code, 2, `the shell could not fork past pids.max (exit ${exited.code}, last lines ${JSON.stringify(lines)})`);
      assert.ok(lines.some((l) => /Cannot fork/.test(l)), `the refusal is in its last lines: ${JSON.stringify(lines)}`);
      assert.ok(lines.includes("forked 7") && !lines.includes("forked 8"), `the shell and 7 children make 8: ${JSON.stringify(lines)}`);
    });
  });

  it("a worker is in its groups from its first instruction; a killed supervisor's empty groups are removed at start, a worker's when it stops for good", async () => {
    const backend = requireCgroups();
    for (const dir of backend.groupsOf("ghost")) mkdirSync(dir, { recursive: true }); // what a kill -9 leaves
    const limits = { pids: 16, memory: "32m", cpu: 0.5 };
    // cat is exec'd by the joining shell: what it prints is where the worker's program starts.
    const workers = [{ name: "look", command: "cat", args: ["/proc/self/cgroup"], limits }, { name: "w", command: "sleep", args: ["600"], limits }];
    await withSupervisor(workers, async (events) => {
      const looked = dataOf(await events.waitFor("look exited", (e) => is(e, "obs.worker.exited") && e.data.worker === "look", 20_000), "obs.worker.exited");
      const lines = looked.lastLines ?? [];
      const inGroup = (c: string) => lines.some((l) => {
        const [, controllers = "", path = ""] = l.split(":"); // "4:memory:/…/vigil-t1/look", "0::/…/vigil-workers/look"
        return controllers.split(",").includes(c) && /\/vigil-[^/]+\/look$/.test(path);
      });
      for (const c of backend.kind === "cgroup v1" ? ["memory", "cpu", "pids"] : [""]) assert.ok(inGroup(c), `in its ${c || "v2"} group: ${JSON.stringify(lines)}`);
      await events.waitFor("w started", (e) => is(e, "obs.worker.started") && e.data.worker === "w");
      for (const dir of backend.groupsOf("ghost")) assert.ok(!existsSync(dir), `the leftover ${dir} is removed at start`);
      for (const dir of backend.groupsOf("w")) assert.ok(existsSync(dir), `w's group ${dir} exists while it runs`);
    });
    for (const dir of [...backend.groupsOf("w"), ...backend.groupsOf("look")]) assert.ok(!existsSync(dir), `${dir} is removed once the supervisor stopped its worker`);
  });

  it("says once at start whether limits are enforced, and with what or what is missing", async () => {
    const support = probeLimits({ device: "t1" });
    await withSupervisor([{ name: "w", command: "sleep", args: ["600"], limits: { pids: 16 } }], async (events) => {
      const said = dataOf(await events.waitFor("limits", (e) => is(e, "sys.supervisor.limits")), "sys.supervisor.limits");
      assert.equal(said.enforced, support.ok);
      assert.deepEqual(said.workers, ["w"]);
      if (support.ok) assert.equal(said.cgroup, `${support.backend.kind}: ${support.backend.where}`);
      else assert.equal(said.reason, support.reason);
      await events.waitFor("w runs anyway", (e) => is(e, "obs.worker.started"));
      assert.equal(events.events.filter((e) => is(e, "sys.supervisor.limits")).length, 1);
    });
  });
});
