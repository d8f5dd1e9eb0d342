import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectBus, createLogger, is, parseConfig, startService, type StartService, type VigilEvent } from "@vigil/events";
import { BUSYBOX_IMAGE, containerState, docker, removeDeviceContainers, requireDocker, startNatsServer, watchEvents } from "@vigil/events/testing";
import { startDecider } from "@vigil/decider";
import { startSupervisor } from "@vigil/supervisor";
import { startNetmon } from "@vigil/netmon";

const log = createLogger("test", "silent");
const data = <T>(e: VigilEvent) => e.data as T;
const uid = () => randomBytes(3).toString("hex");

/** decider + supervisor (+ netmon) in this process against a fresh nats-server, with one config. */
async function system(device: string, cfg: object, services: Array<[string, StartService]>) {
  const srv = await startNatsServer();
  const dataDir = mkdtempSync(join(tmpdir(), "vigil-cont-"));
  const config = parseConfig({ device, dataDir, nats: { url: srv.url }, ...cfg }, { env: {} });
  const running: Array<{ stop: () => Promise<void> }> = [];
  for (const [name, start] of services) running.push(await startService(name, config, start, log));
  // The stream exists once a service started; the watcher reads it from the start (nothing missed).
  const nc = await connectBus({ url: srv.url }, "test");
  const events = await watchEvents(nc);
  return {
    events,
    async close() {
      for (const s of running.reverse()) await s.stop();
      await events.close();
      await nc.close();
      await srv.cleanup();
      removeDeviceContainers(device);
    },
  };
}

describe("containers end to end: docker driver + decider (+ netmon), real Docker engine and nats-server", () => {
  it("docker kill of a managed container → running again through exit → decision → command → outcome, one incident, within 1 s", async () => {
    requireDocker();
    const device = `ce-${uid()}`;
    const name = `web${uid()}`;
    const t = await system(device, { containers: [{ name, image: BUSYBOX_IMAGE, command: ["sleep", "3600"], restart: { stableMs: 1000 } }] }, [
      ["decider", startDecider],
      ["supervisor", startSupervisor],
    ]);
    try {
      const started = await t.events.waitFor("started", (e) => is(e, "obs.worker.started"));
      const cid = data<{ containerId: string }>(started).containerId;
      const t0 = performance.now();
      docker("kill", cid);
      const restarted = await t.events.waitFor("restarted", (e) => is(e, "out.worker.restarted"));
      const ms = performance.now() - t0;
      assert.equal(containerState(cid).Running, true);
      const exited = t.events.events.find((e) => is(e, "obs.worker.exited"))!;
      const decided = t.events.events.find((e) => is(e, "dec.remediation.decided"))!;
      const cmd = t.events.events.find((e) => is(e, "cmd.worker.restart"))!;
      const incident = exited.incident!;
      assert.deepEqual([exited, decided, cmd, restarted].map((e) => e.incident), [incident, incident, incident, incident]);
      assert.ok(exited.seq < decided.seq && decided.seq < cmd.seq && cmd.seq < restarted.seq, "causal order in the stream");
      assert.equal(data<{ command: string }>(restarted).command, cmd.id);
      assert.ok(ms < 1000, `running again after ${Math.round(ms)} ms (docker kill CLI included)`);
      const resolved = await t.events.waitFor("resolved once stable", (e) => is(e, "dec.incident.resolved"));
      assert.equal(resolved.incident, incident);
      assert.equal(t.events.events.filter((e) => is(e, "dec.incident.opened")).length, 1, "one incident");
    } finally {
      await t.close();
    }
  });

  it("an OOM-killed container is restarted and its incident says it was the OOM killer", async () => {
    requireDocker();
    const device = `ce-${uid()}`;
    const name = `hog${uid()}`;
    const t = await system(
      device,
      { containers: [{ name, image: BUSYBOX_IMAGE, command: ["sh", "-c", "sleep 1; x=a; while :; do x=$x$x; done"], memory: "16m", internalNetwork: false, restart: { maxRestarts: 1 } }] },
      [
        ["decider", startDecider],
        ["supervisor", startSupervisor],
      ],
    );
    try {
      const opened = await t.events.waitFor("incident", (e) => is(e, "dec.incident.opened"), 30_000);
      assert.match(data<{ reason: string }>(opened).reason, new RegExp(`${name} was killed by the OOM killer \\(memory limit reached`));
      const restarted = await t.events.waitFor("restarted", (e) => is(e, "out.worker.restarted"), 30_000);
      assert.equal(restarted.incident, opened.incident);
      // It keeps hitting its limit: the crash-loop breaker ends it, as for a process.
      const escalated = await t.events.waitFor("escalated", (e) => is(e, "dec.incident.escalated"), 30_000);
      assert.match(data<{ reason: string }>(escalated).reason, /crash loop: .*OOM killer/);
    } finally {
      await t.close();
    }
  });

  it("the parent interface moves to a wider subnet → netmon reports once after the debounce → the container is reattached with its manual IP and MAC", async () => {
    requireDocker();
    const device = `ce-${uid()}`;
    const name = `plc${uid()}`;
    const id = uid();
    const parent = `vc${id}`;
    const ns = `vigil-ns-${id}`;
    const ip = (...a: string[]) => execFileSync("ip", a, { stdio: ["ignore", "pipe", "pipe"] }).toString();
    ip("netns", "add", ns);
    ip("link", "add", parent, "type", "veth", "peer", "name", `vd${id}`, "netns", ns);
    ip("addr", "add", "198.51.100.1/25", "dev", parent);
    ip("link", "set", parent, "up");
    ip("-n", ns, "link", "set", `vd${id}`, "up");
    let t: Awaited<ReturnType<typeof system>> | undefined;
    try {
      t = await system(
        device,
        {
          netmon: { debounceMs: 1000, ignore: ["lo", "docker0", "eth0", "br-*"] },
          containers: [{ name, image: BUSYBOX_IMAGE, command: ["sleep", "3600"], vnics: [{ name: "lan", parentInterface: parent, mode: "manual", ip: "198.51.100.10", mac: "02:00:5e:10:00:0b" }] }],
        },
        [
          ["decider", startDecider],
          ["supervisor", startSupervisor],
          ["netmon", startNetmon],
        ],
      );
      const nets = await t.events.waitFor("networks", (e) => is(e, "obs.container.networks"));
      const cid = data<{ containerId: string }>(nets).containerId;
      assert.match(docker("exec", cid, "ip", "addr"), /02:00:5e:10:00:0b[\s\S]*198\.51\.100\.10\/25/, "created with its MAC and manual IP");
      await t.events.waitFor("discovery", (e) => is(e, "obs.net.discovery"));
      const t0 = Date.now();
      ip("addr", "flush", "dev", parent);
      ip("addr", "add", "198.51.100.1/24", "dev", parent);
      const mine = (e: VigilEvent) => is(e, "obs.net.changed") && data<{ interface: string }>(e).interface === parent;
      const changed = await t.events.waitFor("net.changed", mine);
      assert.ok(Date.now() - t0 >= 1000, "after the debounce");
      const done = await t.events.waitFor("reattached", (e) => is(e, "out.container.reattached"), 15_000);
      const cmd = t.events.events.find((e) => is(e, "cmd.container.reattach"))!;
      assert.equal(cmd.causation, changed.id);
      assert.equal(done.incident, cmd.incident);
      const v = data<{ vnics: Array<{ network: string; ip: string; mac: string }> }>(done).vnics[0]!;
      assert.deepEqual([v.network, v.ip], [`macvlan_${parent}_198.51.100.0_24`, "198.51.100.10"]);
      // The MAC is kept where the engine can set one on connect (API ≥ 1.44); older engines say so.
      const warnings = data<{ warnings?: string[] }>(done).warnings ?? [];
      assert.ok(v.mac === "02:00:5e:10:00:0b" || warnings.some((w) => /MAC 02:00:5e:10:00:0b not kept .*API 1\.44/.test(w)), `mac ${v.mac}, warnings ${warnings.join("; ")}`);
      assert.match(docker("exec", cid, "ip", "-4", "addr"), /198\.51\.100\.10\/24/);
      await t.events.waitFor("incident resolved", (e) => is(e, "dec.incident.resolved") && e.incident === cmd.incident);
      assert.equal(t.events.events.filter(mine).length, 1, "one report for the change");
    } finally {
      await t?.close();
      for (const n of docker("network", "ls", "--format", "{{.Name}}").split("\n").filter((n) => n.includes(parent))) docker("network", "rm", n);
      ip("link", "del", parent);
      ip("netns", "del", ns);
    }
  });
});
