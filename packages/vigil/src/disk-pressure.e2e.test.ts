import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectBus, is, type VigilEvent } from "@vigil/events";
import { startNatsServer, watchEvents } from "@vigil/events/testing";
import { vigilUp, writeConfig } from "./e2e-helpers.js";

// Disk pressure (issue 14, docs/health.md): vigil up as a process (supervisor, decider, health,
// telemetry idle), a real nats-server, and a real 8 MiB tmpfs the health service watches. Needs
// root for the mount: it fails naming that when it cannot mount.
function mountTmpfs(): string {
  const dir = mkdtempSync(join(tmpdir(), "vigil-disk-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", dir]);
  } catch (err) {
    throw new Error(`this test mounts a small tmpfs (mount -t tmpfs -o size=8m) and needs root: ${(err as Error).message}`);
  }
  return dir;
}

describe("disk pressure (vigil up, a real tmpfs)", () => {
  it("given a watched mount filled past its threshold, then logs are pruned, telemetry downsampled and the top writer paused, in that order, and all undone when the disk recovers, in one incident", async () => {
    const mount = mountTmpfs();
    const srv = await startNatsServer();
    const cfg = writeConfig({
      device: "disk",
      health: { intervalMs: 300, disks: [mount], thresholds: { disk: { above: 50, hysteresis: 10 } } },
      policies: { disk: { pauseWorkers: 1 } },
      workers: [
        { name: "writer", command: "sleep", args: ["600"], priority: 1 },
        { name: "keeper", command: "sleep", args: ["600"], essential: true },
      ],
    });
    const nc = await connectBus({ url: srv.url }, "test");
    const vigil = await vigilUp(cfg, srv.url);
    const events = await watchEvents(nc);
    const fill = join(mount, "fill.bin");
    try {
      await events.waitFor("workers started", (e) => is(e, "obs.worker.started") && e.data.worker === "writer", 20_000);
      writeFileSync(fill, Buffer.alloc(5 * 1024 * 1024, 1)); // 62 % of 8 MiB: over 50 %
      const step = (name: string) => (e: VigilEvent) => is(e, "dec.disk.step") && e.data.mount === mount && e.data.step === name;
      const prune = await events.waitFor("prune-logs step", step("prune-logs"), 20_000);
      const incident = prune.incident!;
      await events.waitFor("logs pruned by the supervisor", (e) => is(e, "out.logs.pruned") && e.incident === incident, 10_000);
      const down = await events.waitFor("downsample step", step("downsample"), 10_000);
      await events.waitFor("telemetry downsampled", (e) => is(e, "out.telemetry.downsampled") && e.data.factor > 1, 10_000);
      const pause = await events.waitFor("pause-workers step", step("pause-workers"), 10_000);
      assert.ok(is(pause, "dec.disk.step"));
      assert.deepEqual(pause.data.workers, ["writer"], "the non-essential worker, never the essential one");
      await events.waitFor("writer paused", (e) => is(e, "out.worker.paused") && e.data.worker === "writer", 10_000);
      assert.ok(prune.seq < down.seq && down.seq < pause.seq, "the steps in order");

      rmSync(fill); // the disk recovers
      const undo = await events.waitFor("undo step", step("undo"), 20_000);
      await events.waitFor("telemetry back to its configured sampling", (e) => is(e, "out.telemetry.downsampled") && e.data.factor === 1, 10_000);
      await events.waitFor("writer resumed", (e) => is(e, "out.worker.resumed") && e.data.worker === "writer", 10_000);
      await events.waitFor("incident resolved", (e) => is(e, "dec.incident.resolved") && e.incident === incident, 10_000);
      const chain = events.events.filter((e) => is(e, "dec.disk.step") || is(e, "cmd.logs.prune") || is(e, "cmd.telemetry.downsample") || is(e, "cmd.worker.pause") || is(e, "cmd.worker.resume"));
      assert.deepEqual([...new Set(chain.map((e) => e.incident))], [incident], "every step in the one incident");
      assert.equal(undo.incident, incident);
      assert.equal(events.events.filter((e) => is(e, "dec.incident.opened") && e.data.policy === "disk-pressure").length, 1, "one incident");
    } finally {
      await events.close();
      await vigil.stop();
      await nc.close();
      await srv.cleanup();
      try {
        execFileSync("umount", [mount]);
      } catch {
        /* already gone */
      }
      rmSync(mount, { recursive: true, force: true });
    }
  });
});
