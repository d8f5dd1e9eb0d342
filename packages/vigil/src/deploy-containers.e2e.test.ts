import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateOperatorKey, is } from "@vigil/events";
import { BUSYBOX_IMAGE, docker, removeDeviceContainers, requireDocker } from "@vigil/events/testing";
import { runVigil } from "./e2e-helpers.js";
import { pidOf, startDevice, startHub, stopDevice, type Device } from "./deploy-e2e-helpers.js";

/**
 * Deployments carry containers (docs/fleet.md): a real hub, one `vigil up` device as its leaf node and
 * the real Docker engine. The device declares no container locally: the deployment brings the first one,
 * a changed version that crash-loops is rolled back, and the container of the last good version runs again.
 */

/** The running containers of a device's workload, with the env they were created with. */
function runningContainers(device: string, workload: string): Array<{ id: string; env: string[] }> {
  const ids = docker("ps", "-q", "--no-trunc", "--filter", `label=io.vigil.device=${device}`, "--filter", `label=io.vigil.workload=${workload}`).split("\n").filter(Boolean);
  return ids.map((id) => ({ id, env: JSON.parse(docker("inspect", "--format", "{{json .Config.Env}}", id)) as string[] }));
}

describe("vigil fleet deploy with containers (real nats-servers, real vigil up, real Docker engine)", () => {
  it("a deployment starts its container, a crash-looping new version of it is rolled back and the last good container runs again; the local worker keeps its pid", async () => {
    requireDocker();
    const id = `dc-${randomBytes(2).toString("hex")}`;
    const cam = `cam${randomBytes(3).toString("hex")}`;
    const hub = await startHub({ devices: [id] });
    const key = generateOperatorKey();
    const dir = mkdtempSync(join(tmpdir(), "vigil-deploy-ct-"));
    const keyFile = join(dir, "operator.key");
    writeFileSync(keyFile, key.privatePem, { mode: 0o600 });
    let device: Device | undefined;
    const fleetCli = async (...args: string[]) => {
      const r = await runVigil(["fleet", ...args, "--hub", hub.url], hub.operatorEnv);
      return { ...r, out: `${r.stdout}${r.stderr}` };
    };
    const deployment = (version: number, window: number, command: string[], mode: string) =>
      JSON.stringify({ version, target: { devices: [id] }, healthWindowSeconds: window, containers: [{ name: cam, image: BUSYBOX_IMAGE, command, env: { MODE: mode }, stopGraceMs: 1_000 }] }); // JSON is YAML
    try {
      device = await startDevice(id, `nats-leaf://127.0.0.1:${hub.leafPort}`, [key.publicKey], hub.deviceLogins[id]);
      const d = device;
      assert.equal((await fleetCli("add", id)).code, 0);
      await d.events.waitFor("uplink", (e) => is(e, "sys.fleet.uplink") && (e.data as { state: string }).state === "connected", 30_000);
      await d.events.waitFor("base started", (e) => is(e, "obs.worker.started") && (e.data as { worker: string }).worker === "base", 30_000);
      const basePid = pidOf(d, "base");

      // 1. The deployment's container is created and started on a device that had none; healthy.
      const v1 = join(dir, "v1.yaml");
      writeFileSync(v1, deployment(1, 3, ["sleep", "3600"], "v1"));
      const r1 = await fleetCli("deploy", v1, "--to", id, "--key", keyFile, "--wait", "90");
      assert.equal(r1.code, 0, r1.out);
      assert.match(r1.out, new RegExp(`${id}: healthy`), r1.out);
      const [first, ...others] = runningContainers(id, cam);
      assert.ok(first && others.length === 0, "one container runs for the deployed workload");
      assert.ok(first.env.includes("MODE=v1"));
      assert.equal(pidOf(d, "base"), basePid, "the local worker kept its pid");

      // 2. A new version of the container that crashes: rolled back; the v1 container runs again (recreated from v1's declaration).
      const v2 = join(dir, "v2.yaml");
      writeFileSync(v2, deployment(2, 20, ["sh", "-c", "sleep 0.5; exit 3"], "v2"));
      const r2 = await fleetCli("deploy", v2, "--to", id, "--key", keyFile, "--wait", "90");
      assert.equal(r2.code, 1, r2.out);
      assert.match(r2.out, new RegExp(`${id}: rolled-back`), r2.out);
      const rb = await d.events.waitFor("rolled back", (e) => is(e, "dec.deployment.rolled-back"), 30_000);
      assert.equal((rb.data as { to: number }).to, 1);
      const change = (rb.data as { change: string }).change;
      await d.events.waitFor("rollback applied", (e) => is(e, "out.config.applied") && (e.data as { change: string }).change === change, 30_000);
      const steps = d.events.events.filter((e) => is(e, "out.config.step") && (e.data as { change: string }).change === change).map((e) => (e.data as { action: string; worker: string }).action);
      assert.deepEqual(steps.filter((a) => a !== "stop"), ["remove", "start"], "the rollback recreates the container");
      const [again, ...more] = runningContainers(id, cam);
      assert.ok(again && more.length === 0, "one container runs after the rollback");
      assert.ok(again.env.includes("MODE=v1"), "the last good version's container");
      assert.notEqual(again.id, first.id, "recreated: v2 had replaced it");
      assert.equal(pidOf(d, "base"), basePid, "the local worker still kept its pid");
    } finally {
      if (device) await stopDevice(device);
      await hub.stop();
      removeDeviceContainers(id);
    }
  });
});
