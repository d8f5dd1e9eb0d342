import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { freePort } from "@vigil/events/testing";
import { vigilUpEmbedded, writeConfig } from "./e2e-helpers.js";

/** Live pids whose command line contains every one of the parts. */
function pidsWith(...parts: string[]): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue; // a zombie has already died
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
