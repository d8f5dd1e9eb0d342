import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectBus, createLogger, is, parseConfig, startService } from "@vigil/events";
import { BUSYBOX_IMAGE, removeDeviceContainers, requireDocker, startNatsServer, watchEvents } from "@vigil/events/testing";
import { startDecider } from "@vigil/decider";
import { startSupervisor } from "@vigil/supervisor";

// Container health (issue 14): an `unhealthy` Docker HEALTHCHECK (obs.container.health) feeds the
// probe policy like a failing probe. Real Docker engine, real nats-server; the image is the test
// busybox (FROM scratch, host binaries) with a HEALTHCHECK that passes for ~2 s and then fails.
const log = createLogger("test", "silent");
const HEALTH_IMAGE = "vigil-busybox-health:local";

function buildHealthImage(): void {
  requireDocker();
  const dir = mkdtempSync(join(tmpdir(), "vigil-health-img-"));
  writeFileSync(
    join(dir, "Dockerfile"),
    `FROM ${BUSYBOX_IMAGE}\nHEALTHCHECK --interval=1s --timeout=1s --retries=2 CMD ["test", "-f", "/tmp/healthy"]\nCMD ["sh", "-c", "touch /tmp/healthy; sleep 2; rm /tmp/healthy; exec sleep 3600"]\n`,
  );
  try {
    execFileSync("docker", ["build", "-q", "-t", HEALTH_IMAGE, dir], { stdio: ["ignore", "ignore", "pipe"] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("container HEALTHCHECK → probe policy (real Docker)", () => {
  it("given a managed container whose HEALTHCHECK turns unhealthy, then it is restarted under one probe incident", async () => {
    buildHealthImage();
    const device = `ch-${randomBytes(3).toString("hex")}`;
    const name = `plc${randomBytes(2).toString("hex")}`;
    const srv = await startNatsServer();
    const dataDir = mkdtempSync(join(tmpdir(), "vigil-ch-"));
    const config = parseConfig({ device, dataDir, nats: { url: srv.url }, containers: [{ name, image: HEALTH_IMAGE, restart: { stableMs: 60_000 } }] }, { env: {} });
    const decider = await startService("decider", config, startDecider, log);
    const supervisor = await startService("supervisor", config, startSupervisor, log);
    const nc = await connectBus({ url: srv.url }, "test");
    const events = await watchEvents(nc);
    try {
      const started = await events.waitFor("container started", (e) => is(e, "obs.worker.started") && e.data.worker === name, 30_000);
      const unhealthy = await events.waitFor("unhealthy report", (e) => is(e, "obs.container.health") && e.data.status === "unhealthy", 30_000);
      const opened = await events.waitFor("probe incident", (e) => is(e, "dec.incident.opened") && e.data.policy === "probe", 10_000);
      const cmd = await events.waitFor("restart command", (e) => is(e, "cmd.worker.restart") && e.incident === opened.incident, 10_000);
      const restarted = await events.waitFor("restarted", (e) => is(e, "out.worker.restarted") && e.incident === opened.incident, 30_000);
      assert.ok(is(restarted, "out.worker.restarted") && is(started, "obs.worker.started"));
      assert.ok(unhealthy.seq < opened.seq && opened.seq < cmd.seq && cmd.seq < restarted.seq, "health report → incident → command → outcome");
      assert.notEqual(restarted.data.pid, started.data.pid, "a new run of the container");
      const incidents = new Set(events.events.filter((e) => /\.(dec|cmd|out)\./.test(e.subject) && e.incident).map((e) => e.incident));
      assert.deepEqual([...incidents], [opened.incident], "one incident");
    } finally {
      await events.close();
      await supervisor.stop();
      await decider.stop();
      await nc.close();
      await srv.cleanup();
      removeDeviceContainers(device);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
