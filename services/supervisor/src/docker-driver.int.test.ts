import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { GenericContainer } from "testcontainers";
import { connectBus, createLogger, createPublisher, is, parseConfig, startService, type EventName, type EventOf, type VigilEvent } from "@vigil/events";
import { BUSYBOX_IMAGE, containerState, docker, removeDeviceContainers, requireDocker, startNatsServer, watchEvents, type TestNatsServer } from "@vigil/events/testing";
import { startSupervisor } from "./service.js";
import { containerName } from "./networks.js";

const log = createLogger("test", "silent");
/** The data of an event that must be of type `name` (narrowed by `is`, no cast). */
function dataOf<N extends EventName>(e: VigilEvent | undefined, name: N): EventOf<N>["data"] {
  if (!e || !is(e, name)) throw new Error(`expected ${name}, got ${e?.type ?? "nothing"}`);
  return e.data;
}
const uid = () => randomBytes(3).toString("hex");

async function setup(srv: TestNatsServer, device: string, cfg: { containers?: unknown[]; workers?: unknown[]; docker?: object }) {
  const dataDir = mkdtempSync(join(tmpdir(), "vigil-dock-"));
  const config = parseConfig({ device, dataDir, nats: { url: srv.url }, supervisor: { heartbeatMs: 500 }, ...cfg }, { env: {} });
  let svc = await startService("supervisor", config, startSupervisor, log);
  const nc = await connectBus({ url: srv.url }, "test");
  const events = await watchEvents(nc);
  const cmds = await createPublisher(nc, { device, source: "test", log });
  return {
    config,
    nc,
    events,
    cmds,
    svc: () => svc,
    /** Stops the supervisor and starts a new one on the same data dir (containers keep running). */
    async restart() {
      await svc.stop();
      svc = await startService("supervisor", config, startSupervisor, log);
    },
    async close() {
      await events.close();
      await svc.stop();
      await nc.close();
      await srv.cleanup();
      removeDeviceContainers(device);
    },
  };
}

const sleeper = (name: string, extra: object = {}) => ({ name, image: BUSYBOX_IMAGE, command: ["sleep", "3600"], ...extra });

describe("supervisor docker driver (real Docker engine, real nats-server)", () => {
  it("creates the container with its limits, labels and internal network; an external docker kill is an unexpected exit with an incident; pause, resume, kill and restart act on it", async () => {
    requireDocker();
    const device = `dk-${uid()}`;
    const name = `app${uid()}`;
    const t = await setup(await startNatsServer(), device, { containers: [sleeper(name, { memory: "32m", cpus: 0.5, labels: { team: "ops" }, env: { MODE: "test" } })] });
    try {
      const started = await t.events.waitFor("started", (e) => is(e, "obs.worker.started"));
      const cid = dataOf(started, "obs.worker.started").containerId ?? assert.fail("a container start carries its id");
      const info = JSON.parse(docker("inspect", cid))[0];
      assert.equal(info.Name, `/${containerName(device, name)}`);
      assert.equal(info.HostConfig.RestartPolicy.Name, "no", "Docker's restart policy stays off: Vigil decides");
      assert.equal(info.HostConfig.Memory, 32 * 1024 * 1024);
      assert.equal(info.HostConfig.NanoCpus, 5e8);
      assert.equal(info.Config.Labels.team, "ops");
      assert.equal(info.Config.Labels["io.vigil.workload"], name);
      assert.ok(info.Config.Env.includes("MODE=test"));
      assert.ok(info.NetworkSettings.Networks[`${name}_internal`], "on its internal bridge");
      assert.equal(JSON.parse(docker("network", "inspect", `${name}_internal`))[0].Internal, true);

      docker("kill", cid);
      const exited = await t.events.waitFor("exited", (e) => is(e, "obs.worker.exited"));
      assert.deepEqual({ ...dataOf(exited, "obs.worker.exited"), uptimeMs: 0 }, { worker: name, pid: dataOf(started, "obs.worker.started").pid, code: 137, signal: "SIGKILL", expected: false, uptimeMs: 0, containerId: cid });
      assert.ok(exited.incident);

      await t.cmds.emit("cmd.worker.restart", { worker: name, requestedBy: "alice" }, { incident: exited.incident });
      const restarted = await t.events.waitFor("restarted", (e) => is(e, "out.worker.restarted"));
      assert.equal(restarted.incident, exited.incident);
      assert.equal(containerState(cid).Running, true);
      assert.equal(dataOf(restarted, "out.worker.restarted").pid, containerState(cid).Pid);

      await t.cmds.emit("cmd.worker.pause", { worker: name });
      await t.events.waitFor("paused", (e) => is(e, "out.worker.paused"));
      assert.equal(containerState(cid).Status, "paused");
      await t.cmds.emit("cmd.worker.resume", { worker: name });
      await t.events.waitFor("resumed", (e) => is(e, "out.worker.resumed"));
      assert.equal(containerState(cid).Status, "running");
      await t.cmds.emit("cmd.worker.kill", { worker: name, signal: "SIGKILL" });
      await t.events.waitFor("killed", (e) => is(e, "out.worker.killed"));
      assert.equal(containerState(cid).Running, false);
      const exits = t.events.events.filter((e) => is(e, "obs.worker.exited"));
      assert.equal(dataOf(exits.at(-1)!, "obs.worker.exited").expected, true, "a commanded kill is not a crash");
      const hb = await t.events.waitFor("heartbeat", (e) => is(e, "sys.service.heartbeat") && e.time > exits.at(-1)!.time, 15_000);
      assert.ok((dataOf(hb, "sys.service.heartbeat").workers ?? []).some((w) => w.name === name), "containers are in the supervisor's heartbeat");
    } finally {
      await t.close();
    }
  });

  it("reports an OOM-killed container as such (busybox doubling a string under a 16m limit)", async () => {
    requireDocker();
    const device = `dk-${uid()}`;
    const name = `hog${uid()}`;
    const t = await setup(await startNatsServer(), device, {
      containers: [{ name, image: BUSYBOX_IMAGE, command: ["sh", "-c", "x=a; while :; do x=$x$x; done"], memory: "16m", internalNetwork: false }],
    });
    try {
      const exited = await t.events.waitFor("oom exit", (e) => is(e, "obs.worker.exited"), 30_000);
      const d = dataOf(exited, "obs.worker.exited");
      assert.equal(d.oom, true);
      assert.equal(d.code, 137);
      assert.equal(d.expected, false);
      assert.equal(containerState(d.containerId ?? assert.fail("a container exit carries its id")).OOMKilled, true, "the engine agrees");
    } finally {
      await t.close();
    }
  });

  it("adopts the container it labelled when the supervisor restarts (no duplicate), and never touches another device's container (started with testcontainers)", async () => {
    requireDocker();
    process.env.TESTCONTAINERS_RYUK_DISABLED ??= "true";
    const device = `dk-${uid()}`;
    const name = `keep${uid()}`;
    // Same workload label, other device: a look-alike the driver must neither adopt nor remove.
    const foreign = await new GenericContainer(BUSYBOX_IMAGE)
      .withCommand(["sleep", "3600"])
      .withLabels({ "io.vigil.device": `${device}-other`, "io.vigil.workload": name })
      .start();
    const t = await setup(await startNatsServer(), device, { containers: [sleeper(name)] });
    try {
      const first = await t.events.waitFor("started", (e) => is(e, "obs.worker.started"));
      const cid = dataOf(first, "obs.worker.started").containerId ?? assert.fail("a container start carries its id");
      assert.notEqual(cid, foreign.getId());
      await t.restart();
      const second = await t.events.waitFor("adopted", (e) => is(e, "obs.worker.started") && e.seq > first.seq);
      assert.equal(dataOf(second, "obs.worker.started").containerId, cid);
      assert.equal(dataOf(second, "obs.worker.started").adopted, true);
      assert.equal(dataOf(second, "obs.worker.started").pid, dataOf(first, "obs.worker.started").pid, "the same process kept running");
      assert.equal(docker("ps", "-q", "--filter", `label=io.vigil.device=${device}`).split("\n").filter(Boolean).length, 1, "no duplicate");
      assert.equal(containerState(foreign.getId()).Running, true, "the other device's container is untouched");
      // Adopted means watched: an external kill is still reported.
      docker("kill", cid);
      const exited = await t.events.waitFor("exited after adoption", (e) => is(e, "obs.worker.exited") && e.seq > second.seq);
      assert.equal(dataOf(exited, "obs.worker.exited").expected, false);
    } finally {
      await t.close();
      await foreign.stop();
    }
  });

  it("without a Docker socket: reports it (event naming the socket) and process workers keep working", async () => {
    const device = `dk-${uid()}`;
    const socketPath = join(tmpdir(), `no-docker-${uid()}.sock`);
    const t = await setup(await startNatsServer(), device, {
      docker: { socketPath },
      containers: [sleeper("plc")],
      workers: [{ name: "sensor", command: "sleep", args: ["600"] }],
    });
    try {
      const down = await t.events.waitFor("docker unavailable", (e) => is(e, "sys.docker.unavailable"));
      assert.equal(dataOf(down, "sys.docker.unavailable").socketPath, socketPath);
      assert.match(dataOf(down, "sys.docker.unavailable").error, /Docker engine not reachable at .*no-docker.*ENOENT/);
      assert.deepEqual(dataOf(down, "sys.docker.unavailable").workloads, ["plc"]);
      const started = await t.events.waitFor("sensor started", (e) => is(e, "obs.worker.started") && e.data.worker === "sensor");
      process.kill(dataOf(started, "obs.worker.started").pid, "SIGKILL");
      await t.events.waitFor("sensor exit reported", (e) => is(e, "obs.worker.exited") && e.data.worker === "sensor");
      await t.cmds.emit("cmd.worker.restart", { worker: "sensor" });
      await t.events.waitFor("sensor restarted", (e) => is(e, "out.worker.restarted"));
      await t.cmds.emit("cmd.worker.start", { worker: "plc" });
      const failed = await t.events.waitFor("container command failed", (e) => is(e, "out.command.failed"));
      assert.match(dataOf(failed, "out.command.failed").error, /Docker engine not reachable/);
    } finally {
      await t.close();
    }
  });

  it("reattach: the vNIC leaves the old MACVLAN network and joins the new subnet's with its manual IP and MAC", async () => {
    requireDocker();
    const device = `dk-${uid()}`;
    const name = `plc${uid()}`;
    const parent = `vt${uid()}`;
    const peer = `vp${uid()}`;
    const ip = (...a: string[]) => execFileSync("ip", a, { stdio: ["ignore", "pipe", "pipe"] }).toString();
    ip("link", "add", parent, "type", "veth", "peer", "name", peer);
    let t: Awaited<ReturnType<typeof setup>> | undefined;
    try {
      ip("addr", "add", "198.51.100.1/25", "dev", parent);
      ip("link", "set", parent, "up");
      ip("link", "set", peer, "up");
      t = await setup(await startNatsServer(), device, {
        containers: [sleeper(name, { vnics: [{ name: "lan", parentInterface: parent, mode: "manual", ip: "198.51.100.10", mac: "02:00:5e:10:00:0a", dns: ["198.51.100.1"] }] })],
      });
      const nets = await t.events.waitFor("networks", (e) => is(e, "obs.container.networks"));
      const before = dataOf(nets, "obs.container.networks").vnics[0]!;
      assert.deepEqual([before.network, before.subnet, before.ip, before.mac], [`macvlan_${parent}_198.51.100.0_25`, "198.51.100.0/25", "198.51.100.10", "02:00:5e:10:00:0a"]);
      const cid = dataOf(nets, "obs.container.networks").containerId;
      assert.match(docker("exec", cid, "ip", "-4", "addr"), /198\.51\.100\.10\/25/);

      ip("addr", "flush", "dev", parent);
      ip("addr", "add", "198.51.100.1/24", "dev", parent);
      await t.cmds.emit("cmd.container.reattach", { worker: name, interface: parent, subnet: "198.51.100.0/24", requestedBy: "test" }, { incident: "inc-net" });
      const done = await t.events.waitFor("reattached", (e) => is(e, "out.container.reattached"));
      assert.equal(done.incident, "inc-net");
      const after = dataOf(done, "out.container.reattached").vnics[0]!;
      assert.deepEqual([after.network, after.subnet, after.ip], [`macvlan_${parent}_198.51.100.0_24`, "198.51.100.0/24", "198.51.100.10"]);
      const addr = docker("exec", cid, "ip", "addr");
      assert.match(addr, /198\.51\.100\.10\/24/);
      // The MAC survives where the engine can set one on connect (API ≥ 1.44); an older engine is reported.
      const warnings = dataOf(done, "out.container.reattached").warnings ?? [];
      if (after.mac === "02:00:5e:10:00:0a") assert.match(addr, /02:00:5e:10:00:0a/);
      else assert.match(warnings.join("\n"), /MAC 02:00:5e:10:00:0a not kept .*API 1\.44/);
      assert.doesNotMatch(docker("network", "ls", "--format", "{{.Name}}"), new RegExp(`macvlan_${parent}_198.51.100.0_25`), "the old network is gone");
      assert.equal(containerState(cid).Running, true, "reattached without a restart");
    } finally {
      await t?.close();
      for (const n of docker("network", "ls", "--format", "{{.Name}}").split("\n").filter((n) => n.includes(parent))) docker("network", "rm", n);
      ip("link", "del", parent);
    }
  });
});
