import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import { connectBus, is, type VigilEvent } from "@vigil/events";
import { freePort, startNatsServer, watchEvents, type EventLog, type TestNatsServer } from "@vigil/events/testing";
import { runVigil, vigilUpEmbedded, writeConfig, type RunningVigil } from "./e2e-helpers.js";
import { readAll } from "./fleet.js";

const LEAF_USER = "leaf";
const LEAF_PASS = "fleet-test-secret";

/** A hub: JetStream in domain "hub", a leafnode listener that wants a user and password. */
async function startHub(): Promise<TestNatsServer & { leafPort: number }> {
  const leafPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "vigil-hub-"));
  const conf = join(dir, "hub.conf");
  writeFileSync(conf, `jetstream { domain: hub }\nleafnodes { listen: "127.0.0.1:${leafPort}", authorization { user: ${LEAF_USER}, password: ${LEAF_PASS} } }\n`);
  const srv = await startNatsServer({ args: ["-c", conf] });
  return Object.assign(srv, { leafPort });
}

interface Device {
  id: string;
  vigil: RunningVigil & { natsUrl: string };
  nc: NatsConnection;
  events: EventLog;
}

async function startDevice(id: string, fleet: object): Promise<Device> {
  const cfg = writeConfig({
    device: id,
    fleet: { checkSeconds: 0.5, ...fleet },
    supervisor: { heartbeatMs: 1000 },
    health: { intervalMs: 60_000, anomaly: { enabled: false } },
    // stableMs long: the incident of a kill stays open, so `fleet status` has one to show.
    workers: [{ name: "sensor", command: "sleep", args: ["600"], restart: { stableMs: 600_000 } }],
  });
  const vigil = await vigilUpEmbedded(cfg, await freePort());
  const nc = await connectBus(vigil.nats, "test");
  return { id, vigil, nc, events: await watchEvents(nc) };
}

const pidOf = (e: VigilEvent) => (e.data as { pid: number }).pid;
const ids = (events: VigilEvent[]) => events.map((e) => e.id);

/** Polls `check` until it returns a value (not undefined) or the deadline passes; the last failure is in the error. */
async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} ${last}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/**
 * The fleet's copy of a device's events is exactly its own stream's, in order, up to at least
 * `mustInclude`: no gap, no duplicate. Returns the fleet's ids of that device.
 */
async function fleetMatchesDevice(hubNc: NatsConnection, d: Device, mustInclude: string[]): Promise<string[] | undefined> {
  const fleet = ids(await readAll(hubNc, "VIGIL_FLEET", `vigil.${d.id}.>`));
  const own = ids(await readAll(d.nc, "VIGIL", `vigil.${d.id}.>`)); // read after: it holds at least what the fleet has
  if (!mustInclude.every((id) => fleet.includes(id))) return undefined;
  assert.equal(new Set(fleet).size, fleet.length, `${d.id}: a duplicate in the fleet stream`);
  assert.deepEqual(fleet, own.slice(0, fleet.length), `${d.id}: the fleet's events are its own, in order, with no gap`);
  return fleet;
}

async function fleetCli(hub: TestNatsServer, ...args: string[]) {
  const r = await runVigil(["fleet", ...args, "--hub", hub.url]);
  assert.equal(r.code, 0, `vigil fleet ${args.join(" ")}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

describe("vigil fleet: devices as leaf nodes, one sourced fleet stream on the hub (real nats-servers, real vigil up)", () => {
  it("three devices land in VIGIL_FLEET; a hub outage is healed through locally and caught up with no gap or duplicate; remove stops sourcing, add resumes", async () => {
    const hub = await startHub();
    const devices: Device[] = [];
    let hubNc: NatsConnection | undefined;
    try {
      const fleet = { hub: `nats-leaf://127.0.0.1:${hub.leafPort}`, user: LEAF_USER, pass: LEAF_PASS };
      // Every device that did start is stopped in finally, also when another one failed to.
      const starts = await Promise.allSettled(["dev-1", "dev-2", "dev-3"].map((id) => startDevice(id, fleet)));
      for (const s of starts) if (s.status === "fulfilled") devices.push(s.value);
      const failed = starts.find((s): s is PromiseRejectedResult => s.status === "rejected");
      if (failed) throw failed.reason;
      const [d1, , d3] = devices as [Device, Device, Device];
      hubNc = await connectBus({ url: hub.url }, "test-hub");
      const hubConn = hubNc;

      // Registered on the hub; adding again changes nothing.
      assert.match(await fleetCli(hub, "add", "dev-1", "dev-2", "dev-3"), /dev-1: added[\s\S]*dev-3: added/);
      assert.match(await fleetCli(hub, "add", "dev-1"), /dev-1: already in the fleet/);
      assert.deepEqual(JSON.parse(await fleetCli(hub, "list", "--json")).devices, ["dev-1", "dev-2", "dev-3"]);

      // Each device reports its uplink, and its events (with the device in the subject) reach the fleet stream.
      for (const d of devices) {
        const up = await d.events.waitFor(`${d.id} uplink connected`, (e) => is(e, "sys.fleet.uplink") && (e.data as { state: string }).state === "connected", 20_000);
        assert.equal((up.data as { domain: string }).domain, d.id);
        const started = await d.events.waitFor(`${d.id} sensor started`, (e) => is(e, "obs.worker.started"));
        const fleetIds = await eventually(`${d.id} in the fleet`, () => fleetMatchesDevice(hubConn, d, [started.id, up.id]));
        const fleetEvents = await readAll(hubConn, "VIGIL_FLEET", `vigil.${d.id}.>`);
        assert.ok(fleetEvents.every((e) => e.subject.startsWith(`vigil.${d.id}.`) && e.device === d.id));
        assert.ok(fleetIds.length > 0);
      }
      // Nothing crossed between devices: each device's own stream holds only its own events.
      for (const d of devices) {
        const foreign = (await readAll(d.nc, "VIGIL", "vigil.>")).filter((e) => !e.subject.startsWith(`vigil.${d.id}.`));
        assert.deepEqual(ids(foreign), [], `${d.id}'s VIGIL holds no other device's events`);
      }

      // The hub goes away: every device keeps healing and recording.
      await hub.stop();
      const restartedWhileDown: Array<VigilEvent & { seq: number }> = [];
      for (const d of devices) {
        await d.events.waitFor(`${d.id} uplink down`, (e) => is(e, "sys.fleet.uplink") && (e.data as { state: string }).state === "disconnected", 20_000);
        const before = d.events.events.filter((e) => is(e, "obs.worker.started") || is(e, "out.worker.restarted")).at(-1)!;
        process.kill(pidOf(before), "SIGKILL");
        const restarted = await d.events.waitFor(`${d.id} sensor restarted while the hub is down`, (e) => is(e, "out.worker.restarted") && e.seq > before.seq);
        assert.notEqual(pidOf(restarted), pidOf(before));
        restartedWhileDown.push(restarted);
      }
      await hub.restart();
      for (const [i, d] of devices.entries()) {
        await d.events.waitFor(`${d.id} uplink back`, (e) => is(e, "sys.fleet.uplink") && (e.data as { state: string }).state === "connected" && e.seq > restartedWhileDown[i]!.seq, 30_000);
        // Caught up: what was recorded during the outage is in the fleet, in order, once.
        await eventually(`${d.id} caught up`, () => fleetMatchesDevice(hubConn, d, [restartedWhileDown[i]!.id]), 30_000);
      }

      // fleet status: per device lag, last event, last heartbeat and the incident the kill opened.
      const status = JSON.parse(await fleetCli(hub, "status", "--json")).devices as Array<{ device: string; sourced: boolean; lag?: number; lastEvent?: { time: string }; lastHeartbeat?: string; openIncidents: Array<{ worker: string }> }>;
      assert.deepEqual(status.map((s) => s.device), ["dev-1", "dev-2", "dev-3"]);
      for (const s of status) {
        assert.ok(s.sourced && typeof s.lag === "number" && s.lastEvent && s.lastHeartbeat, JSON.stringify(s));
        assert.deepEqual(s.openIncidents.map((x) => x.worker), ["sensor"]);
      }
      assert.match(await fleetCli(hub, "status"), /DEVICE\s+SOURCED\s+LAG[\s\S]*dev-2\s+yes/);

      // dev-3 removed: no longer sourced, while dev-1 still is.
      assert.match(await fleetCli(hub, "remove", "dev-3"), /dev-3: removed/);
      assert.match(await fleetCli(hub, "remove", "dev-3"), /dev-3: not in the fleet/);
      assert.deepEqual(JSON.parse(await fleetCli(hub, "list", "--json")).devices, ["dev-1", "dev-2"]);
      const beforeRemoved = d3.events.events.filter((e) => is(e, "out.worker.restarted")).at(-1)!;
      process.kill(pidOf(beforeRemoved), "SIGKILL");
      const afterRemoval = await d3.events.waitFor("dev-3 restarted after removal", (e) => is(e, "out.worker.restarted") && e.seq > beforeRemoved.seq);
      const laterOnDev1 = await d1.events.waitFor("a dev-1 heartbeat a second later", (e) => is(e, "sys.service.heartbeat") && Date.parse(e.time) > Date.parse(afterRemoval.time) + 1000, 20_000);
      await eventually("dev-1 still sourced", () => fleetMatchesDevice(hubConn, d1, [laterOnDev1.id]));
      const dev3InFleet = ids(await readAll(hubConn, "VIGIL_FLEET", "vigil.dev-3.>"));
      assert.ok(!dev3InFleet.includes(afterRemoval.id), "an event of a removed device is not sourced");

      // Added again: it resumes where it left off (no gap, no duplicate of what the fleet already had).
      assert.match(await fleetCli(hub, "add", "dev-3"), /dev-3: added/);
      const resumed = await eventually("dev-3 resumed", () => fleetMatchesDevice(hubConn, d3, [afterRemoval.id]), 30_000);
      assert.deepEqual(resumed.slice(0, dev3InFleet.length), dev3InFleet);
    } finally {
      for (const d of devices) {
        await d.events.close().catch(() => undefined);
        await d.nc.close().catch(() => undefined);
      }
      await Promise.all(devices.map((d) => d.vigil.stop()));
      await hubNc?.close().catch(() => undefined);
      await hub.cleanup();
    }
  });

  it("vigil fleet without a hub, with a bad device name or no device: exit 2 and a message saying what is missing", async () => {
    const noHub = await runVigil(["fleet", "status"], { VIGIL_FLEET_URL: "" });
    assert.equal(noHub.code, 2);
    assert.match(noHub.stderr, /which hub\? Pass --hub/);
    const badName = await runVigil(["fleet", "add", "dev.1", "--hub", "nats://127.0.0.1:1"]);
    assert.equal(badName.code, 2);
    assert.match(badName.stderr, /device "dev\.1" must use only letters, digits/);
    const none = await runVigil(["fleet", "remove", "--hub", "nats://127.0.0.1:1"]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /name at least one device/);
    const unreachable = await runVigil(["fleet", "list", "--hub", `nats://127.0.0.1:${await freePort()}`]);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /cannot reach the hub at nats:\/\/127\.0\.0\.1:\d+/);
  });

  it("bad credentials or a bad hub URL: a sys.fleet.uplink error event and a log line naming it; local healing unaffected", async () => {
    const hub = await startHub();
    const devices: Device[] = [];
    try {
      const closedPort = await freePort();
      devices.push(
        ...(await Promise.all([
          startDevice("bad-pass", { hub: `nats-leaf://127.0.0.1:${hub.leafPort}`, user: LEAF_USER, pass: "wrong-password" }),
          startDevice("bad-url", { hub: `nats-leaf://127.0.0.1:${closedPort}` }),
        ])),
      );
      const expected: Record<string, RegExp> = { "bad-pass": /Authorization Violation/, "bad-url": /connection refused|Error trying to connect/ };
      for (const d of devices) {
        const down = await d.events.waitFor(`${d.id} uplink error`, (e) => is(e, "sys.fleet.uplink") && (e.data as { state: string }).state === "disconnected", 20_000);
        const data = down.data as { error: string; hub: string[] };
        assert.match(data.error, expected[d.id]!);
        assert.ok(!JSON.stringify(down).includes("wrong-password"), "the password is never in an event");
        assert.match(d.vigil.output(), new RegExp(`fleet uplink to .* is DOWN: .*${expected[d.id]!.source}`));
        // Healing does not depend on the uplink.
        const started = await d.events.waitFor(`${d.id} sensor started`, (e) => is(e, "obs.worker.started"));
        process.kill(pidOf(started), "SIGKILL");
        const restarted = await d.events.waitFor(`${d.id} sensor restarted`, (e) => is(e, "out.worker.restarted"));
        assert.notEqual(pidOf(restarted), pidOf(started));
      }
    } finally {
      for (const d of devices) {
        await d.events.close().catch(() => undefined);
        await d.nc.close().catch(() => undefined);
      }
      await Promise.all(devices.map((d) => d.vigil.stop()));
      await hub.cleanup();
    }
  });
});
