import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectBus, createLogger, generateOperatorKey, is, loadConfig, signDocument, startService, type EventName, type EventOf, type VigilEvent } from "@vigil/events";
import { BUSYBOX_IMAGE, containerState, docker, removeDeviceContainers, requireDocker, startNatsServer, watchEvents, type TestNatsServer } from "@vigil/events/testing";
import { deploymentDir, desiredDeploymentFile } from "./deployment.js";
import { startSupervisor, type RunningSupervisor } from "./service.js";

const log = createLogger("test", "silent");
const uid = () => randomBytes(3).toString("hex");

function dataOf<N extends EventName>(e: VigilEvent | undefined, name: N): EventOf<N>["data"] {
  if (!e || !is(e, name)) throw new Error(`expected ${name}, got ${e?.type ?? "nothing"}`);
  return e.data;
}
/** A container that runs until stopped; its `MODE` is what a reload changes. */
const sleeper = (name: string, mode = "1") => ({ name, image: BUSYBOX_IMAGE, command: ["sleep", "3600"], env: { MODE: mode }, stopGraceMs: 1_000 });
/** The ids of every container the engine holds for this device's workload (running or not). */
const containersOf = (device: string, workload: string): string[] => docker("ps", "-aq", "--no-trunc", "--filter", `label=io.vigil.device=${device}`, "--filter", `label=io.vigil.workload=${workload}`).split("\n").filter(Boolean);
const exists = (id: string) => spawnSync("docker", ["inspect", id], { stdio: "ignore" }).status === 0;
const envOf = (id: string): string[] => JSON.parse(docker("inspect", "--format", "{{json .Config.Env}}", id));

/** A supervisor over a real config file (a reload re-reads it) with containers on the real engine. */
async function setup(srv: TestNatsServer, device: string, body: { containers: unknown[]; fleet?: object }) {
  const dataDir = mkdtempSync(join(tmpdir(), "vigil-reload-ct-"));
  const file = join(dataDir, "vigil.yaml");
  const write = (b: { containers: unknown[]; workers?: unknown[]; fleet?: object }) => writeFileSync(file, JSON.stringify({ device, dataDir, nats: { url: srv.url }, supervisor: { heartbeatMs: 500 }, ...b })); // JSON is YAML
  write(body);
  const config = loadConfig(file, {});
  let sup!: RunningSupervisor;
  const svc = await startService("supervisor", config, async (ctx) => (sup = await startSupervisor(ctx, { configPath: file, env: {} })), log);
  const nc = await connectBus({ url: srv.url }, "test");
  const events = await watchEvents(nc);
  const close = async () => {
    await events.close();
    await svc.stop();
    await nc.close();
    await srv.cleanup();
    removeDeviceContainers(device);
  };
  return { sup, events, write, dataDir, close };
}

type Watched = Awaited<ReturnType<typeof setup>>["events"];
const startedIds = (events: Watched, worker: string): string[] =>
  events.events.filter((e) => is(e, "obs.worker.started") && e.data.worker === worker).map((e) => dataOf(e, "obs.worker.started").containerId ?? assert.fail(`${worker}: a container start carries its id`));
const stepsOf = (events: Watched, change: string): string[] =>
  events.events.filter((e) => is(e, "out.config.step") && e.data.change === change).map((e) => dataOf(e, "out.config.step")).map((s) => `${s.step}/${s.of} ${s.action} ${s.worker} ${s.ok}${s.error ? ` ${s.error}` : ""}`);

describe("reload of containers: desired containers changed → plan → steps (real Docker engine, real nats-server)", () => {
  it("one added, one removed, one changed, one unchanged: the unchanged keeps its container id, the changed is recreated from the new declaration, the removed is stopped and deleted, the added runs", async () => {
    requireDocker();
    const device = `rc-${uid()}`;
    const [keep, gone, change, fresh] = ["keep", "gone", "change", "fresh"].map((n) => `${n}${uid()}`) as [string, string, string, string];
    const t = await setup(await startNatsServer(), device, { containers: [sleeper(keep), sleeper(gone), sleeper(change)] });
    try {
      await t.events.waitForCount("boot", (e) => is(e, "obs.worker.started"), 3, 60_000);
      const [keepId] = startedIds(t.events, keep);
      const [goneId] = startedIds(t.events, gone);
      const [changeId] = startedIds(t.events, change);

      t.write({ containers: [sleeper(keep), sleeper(change, "2"), sleeper(fresh)] });
      const r = await t.sup.reload({ change: "ct-1" });
      assert.ok(r.ok, "the reload applies");
      const planned = dataOf(await t.events.waitFor("planned", (e) => is(e, "dec.config.planned") && e.data.change === "ct-1"), "dec.config.planned");
      assert.deepEqual(planned.diff, { added: [fresh], removed: [gone], changed: [{ worker: change, fields: ["env"] }], unchanged: [keep] });
      const applied = dataOf(await t.events.waitFor("applied", (e) => is(e, "out.config.applied") && e.data.change === "ct-1"), "out.config.applied");
      assert.deepEqual({ steps: applied.steps, failed: applied.failed }, { steps: 6, failed: 0 });
      assert.deepEqual(stepsOf(t.events, "ct-1"), [`1/6 stop ${gone} true`, `2/6 stop ${change} true`, `3/6 remove ${gone} true`, `4/6 remove ${change} true`, `5/6 start ${change} true`, `6/6 start ${fresh} true`]);

      assert.deepEqual(startedIds(t.events, keep), [keepId], "the unchanged container was never started again");
      assert.deepEqual(containersOf(device, keep), [keepId], "the unchanged container is the same one");
      assert.equal(containerState(keepId!).Running, true);

      const changeIds = startedIds(t.events, change);
      assert.equal(changeIds.length, 2, "the changed container started once more");
      assert.notEqual(changeIds[1], changeId, "…in a new container");
      assert.equal(exists(changeId!), false, "its old container is deleted");
      assert.deepEqual(containersOf(device, change), [changeIds[1]]);
      assert.ok(envOf(changeIds[1]!).includes("MODE=2"), "created from the new declaration");
      assert.equal(containerState(changeIds[1]!).Running, true);

      assert.deepEqual(containersOf(device, gone), [], "the removed container is deleted");
      assert.equal(exists(goneId!), false);
      assert.equal(spawnSync("docker", ["network", "inspect", `${gone}_internal`], { stdio: "ignore" }).status, 1, "with its internal network");
      const goneExit = dataOf(t.events.events.find((e) => is(e, "obs.worker.exited") && e.data.worker === gone), "obs.worker.exited");
      assert.deepEqual({ containerId: goneExit.containerId, expected: goneExit.expected }, { containerId: goneId, expected: true }, "stopped on purpose, not a crash");

      const [freshId] = startedIds(t.events, fresh);
      assert.equal(containerState(freshId!).Running, true);

      // The same file again: nothing moves.
      const again = await t.sup.reload({ change: "ct-2" });
      assert.ok(again.ok && again.steps.length === 0, "an unchanged reload plans no step");
      assert.deepEqual(containersOf(device, keep), [keepId]);

      // A container turned into a process worker of the same name in one reload: refused, nothing changed.
      t.write({ containers: [sleeper(change, "2"), sleeper(fresh)], workers: [{ name: keep, command: "sleep", args: ["600"] }] });
      const switched = await t.sup.reload({ change: "ct-3" });
      assert.ok(!switched.ok && /cannot become a container, or a container a worker/.test(switched.error), JSON.stringify(switched));
      const rejected = dataOf(await t.events.waitFor("rejected", (e) => is(e, "dec.config.rejected") && e.data.change === "ct-3"), "dec.config.rejected");
      assert.match(rejected.error, new RegExp(keep));
      assert.equal(containerState(keepId!).Running, true, "the container still runs");
    } finally {
      await t.close();
    }
  });

  it("a deployment carries containers: the first container on a device that had none runs after the reload, and a rollback (the previous desired state) removes it again", async () => {
    requireDocker();
    const device = `rd-${uid()}`;
    const cam = `cam${uid()}`;
    const key = generateOperatorKey();
    const fleet = { hub: "nats-leaf://127.0.0.1:7422", trust: [key.publicKey], acceptDeployments: true };
    const t = await setup(await startNatsServer(), device, { containers: [], fleet });
    try {
      mkdirSync(deploymentDir(t.dataDir), { recursive: true });
      writeFileSync(desiredDeploymentFile(t.dataDir), JSON.stringify(signDocument({ version: 3, target: { devices: [device] }, containers: [sleeper(cam, "deployed")] }, key.privatePem)));
      const r = await t.sup.reload({ change: "deploy-3" });
      assert.ok(r.ok, "the deployment applies");
      assert.deepEqual(r.ok && r.diff.added, [cam]);
      assert.deepEqual(stepsOf(t.events, "deploy-3"), [`1/1 start ${cam} true`]);
      const [camId] = startedIds(t.events, cam);
      assert.equal(containerState(camId!).Running, true);
      assert.ok(envOf(camId!).includes("MODE=deployed"));

      // The deployer's rollback to "the local config alone": no desired deployment, then a reload.
      rmSync(desiredDeploymentFile(t.dataDir));
      const back = await t.sup.reload({ change: "rollback-3" });
      assert.ok(back.ok && back.diff.removed.includes(cam));
      assert.deepEqual(stepsOf(t.events, "rollback-3"), [`1/2 stop ${cam} true`, `2/2 remove ${cam} true`]);
      assert.deepEqual(containersOf(device, cam), [], "the deployed container is gone");
    } finally {
      await t.close();
    }
  });
});
