import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectBus, generateOperatorKey, is } from "@vigil/events";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { freePort } from "@vigil/events/testing";
import { runVigil } from "./e2e-helpers.js";
import { remoteSubject } from "./deploy-remote.js";
import { signedRemoteRequest } from "./deploy-cli.js";
import { DEPLOY_STREAM, DEVICE_DEPLOY_STREAM } from "./deploy-agent.js";
import { deviceInboxPrefix } from "./fleet-hub-auth.js";
import { pidOf, startDevice, startHub, startLinkRelay, stopDevice, type Device, type Hub, type LinkRelay } from "./deploy-e2e-helpers.js";

/**
 * Deployments across the fleet (docs/fleet.md): a staged rollout whose canary fails halts and leaves
 * the other two devices alone; a device whose link is down during a deployment applies it when the link
 * returns; each device's hub user reaches only its own subjects. A real hub and three `vigil up`
 * devices, each logged in as its own hub user; dev-2's link runs through a relay the test can cut.
 */

const IDS = ["dev-1", "dev-2", "dev-3"];

/** A client on the device whose requests up the link get their replies (the device's own inbox prefix, fleet-hub-auth.ts). */
const uplinkClient = (d: Device) => connectBus({ ...d.vigil.nats, inboxPrefix: deviceInboxPrefix(d.id) }, "test-uplink");

const version = (e: { data: unknown }) => (e.data as { version?: number }).version;

describe("vigil fleet deploy across the fleet: staged rollout, link down, what the link carries, per-device hub users (real nats-servers, real vigil up)", () => {
  let hub: Hub;
  let relay: LinkRelay;
  let hubNc: NatsConnection;
  const devices: Device[] = [];
  const dir = mkdtempSync(join(tmpdir(), "vigil-deploy-stages-"));
  const keyFile = join(dir, "operator.key");
  const fleetCli = async (...args: string[]) => {
    const r = await runVigil(["fleet", ...args, "--hub", hub.url], hub.operatorEnv);
    return { ...r, out: `${r.stdout}${r.stderr}` };
  };
  const writeDeployment = (name: string, text: string) => (writeFileSync(join(dir, name), text), join(dir, name));

  before(async () => {
    const leafPort = await freePort();
    relay = await startLinkRelay(leafPort);
    hub = await startHub({ leafPort, advertise: relay.hostPort, devices: IDS });
    hubNc = await connectBus({ url: hub.url, ...hub.operator }, "test-hub");
    const key = generateOperatorKey();
    writeFileSync(keyFile, key.privatePem, { mode: 0o600 });
    const direct = `nats-leaf://127.0.0.1:${hub.leafPort}`;
    for (const id of IDS) devices.push(await startDevice(id, id === "dev-2" ? relay.url : direct, [key.publicKey], hub.deviceLogins[id]));
    assert.equal((await fleetCli("add", ...IDS)).code, 0);
    for (const d of devices) {
      await d.events.waitFor(`${d.id} uplink`, (e) => is(e, "sys.fleet.uplink") && (e.data as { state: string }).state === "connected", 30_000);
      await d.events.waitFor(`${d.id} base started`, (e) => is(e, "obs.worker.started") && (e.data as { worker: string }).worker === "base", 30_000);
    }
    const v1 = writeDeployment("v1.yaml", "version: 1\ntarget: { devices: [x] }\nhealthWindowSeconds: 2\nworkers:\n  - { name: filter, command: sleep, args: ['600'] }\n");
    const r = await fleetCli("deploy", v1, "--to", IDS.join(","), "--key", keyFile, "--wait", "90");
    assert.equal(r.code, 0, r.out);
  });

  after(async () => {
    for (const d of devices) await stopDevice(d);
    await hubNc?.close().catch(() => undefined);
    await relay?.cut();
    await hub?.stop();
  });

  it("a staged rollout whose canary crash-loops halts: the canary rolls back, the other two devices never change", async () => {
    const [d1, ...others] = devices as [Device, Device, Device];
    const pidsOf = (d: Device) => ["base", "safety", "filter"].map((w) => pidOf(d, w));
    const pidsBefore = others.map(pidsOf);
    const v2 = writeDeployment("v2.yaml", "version: 2\ntarget: { devices: [x] }\nhealthWindowSeconds: 20\nworkers:\n  - { name: filter, command: sleep, args: ['600'] }\n  - { name: crasher, command: sh, args: ['-c', 'sleep 0.5; exit 3'] }\n");
    const r = await fleetCli("deploy", v2, "--to", IDS.join(","), "--key", keyFile, "--canary", "1", "--then", "100%");
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /stage 1\/2: dev-1/);
    assert.match(r.out, /dev-1: rolled-back/);
    assert.match(r.out, /HALTED at stage 1/);
    assert.doesNotMatch(r.out, /stage 2\/2/);
    assert.doesNotMatch(r.out, /dev-[23]: deployment 2 published/);
    const rb = await d1.events.waitFor("dev-1 rolled back", (e) => is(e, "dec.deployment.rolled-back"), 30_000);
    assert.equal((rb.data as { to: number }).to, 1);

    // dev-2 and dev-3: not a single event about version 2, the same pids, still on version 1.
    others.forEach((d, i) => {
      assert.equal(d.events.events.filter((e) => e.type.includes(".deployment.") && version(e) === 2).length, 0, `${d.id} never heard of version 2`);
      assert.deepEqual(pidsOf(d), pidsBefore[i], `${d.id}'s workers kept their pids`);
      assert.equal(pidOf(d, "crasher"), undefined);
    });

    const listing = await fleetCli("deployments", "--json");
    assert.equal(listing.code, 0, listing.out);
    const shown = JSON.parse(listing.stdout) as { devices: Array<{ device: string; state: string; version: number }>; rollouts: Array<{ version: number; state: string; stage: number; outcomes: Record<string, string> }> };
    assert.deepEqual(shown.devices.map((x) => `${x.device} ${x.state}/${x.version}`), ["dev-1 rolled-back/2", "dev-2 healthy/1", "dev-3 healthy/1"]);
    assert.deepEqual(shown.rollouts.map((x) => [x.version, x.state, x.stage, x.outcomes]), [[2, "halted", 0, { "dev-1": "rolled-back" }]]);
    const text = await fleetCli("deployments");
    assert.match(text.out, /rollout v2: HALTED at stage 1\/2 \(dev-1 rolled-back\)/);

    // Running the same command again does not resume a halted rollout.
    const again = await fleetCli("deploy", v2, "--to", IDS.join(","), "--key", keyFile, "--canary", "1", "--then", "100%");
    assert.equal(again.code, 1, again.out);
    assert.match(again.out, /rollout of 2 is halted/);
  });

  it("a device whose link is down during a deployment applies it when the link returns", async () => {
    const d2 = devices[1]!;
    const basePid = pidOf(d2, "base");
    const inbox = async () => (await jetstreamManager(d2.nc, { checkAPI: false })).streams.info(DEVICE_DEPLOY_STREAM);
    const heldBefore = (await inbox()).state.messages;
    const cutAt = Date.now();
    await relay.cut();
    await d2.events.waitFor("dev-2 uplink down", (e) => is(e, "sys.fleet.uplink") && (e.data as { state: string }).state === "disconnected" && Date.parse(e.time) >= cutAt - 1000, 30_000);

    const v3 = writeDeployment("v3.yaml", "version: 3\ntarget: { devices: [x] }\nhealthWindowSeconds: 2\nworkers:\n  - { name: filter, command: sleep, args: ['600'] }\n  - { name: late, command: sleep, args: ['600'] }\n");
    const r = await fleetCli("deploy", v3, "--to", "dev-2", "--key", keyFile);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /dev-2: deployment 3 published on deploy\.dev-2/);
    // While the link is down the deployment waits in the hub's stream: nothing reached the device.
    const held = await (await jetstreamManager(hubNc, { checkAPI: false })).streams.getMessage(DEPLOY_STREAM, { last_by_subj: "deploy.dev-2" });
    assert.equal((JSON.parse(held!.string()) as { body: { version: number } }).body.version, 3);
    assert.equal((await inbox()).state.messages, heldBefore, "the device's inbox got nothing while its link was down");
    assert.equal(d2.events.events.filter((e) => e.type.includes(".deployment.") && version(e) === 3).length, 0);

    const restoredAt = Date.now();
    await relay.restore();
    await d2.events.waitFor("dev-2 uplink back", (e) => is(e, "sys.fleet.uplink") && (e.data as { state: string }).state === "connected" && Date.parse(e.time) >= restoredAt - 1000, 30_000);
    await d2.events.waitFor("dev-2 healthy on version 3", (e) => is(e, "dec.deployment.healthy") && version(e) === 3, 90_000);
    assert.ok(pidOf(d2, "late", restoredAt), "late started after the link returned");
    assert.equal(pidOf(d2, "base"), basePid, "base kept its pid");
    const listing = JSON.parse((await fleetCli("deployments", "--json", "dev-2")).stdout) as { devices: Array<{ state: string; version: number }> };
    assert.deepEqual(listing.devices.map((x) => `${x.state}/${x.version}`), ["healthy/3"]);
  });

  it("the link carries only what docs/fleet.md names: the hub cannot reach the device's events, other deployments or its JetStream writes, nor the device the hub's", async () => {
    const d1 = devices[0]!;
    const seen: string[] = [];
    const subs = ["vigil.dev-1.cmd.>", "deploy.>"].map((subject) => d1.nc.subscribe(subject, { callback: (_err, m) => void seen.push(m.subject) }));
    await d1.nc.flush();
    hubNc.publish("vigil.dev-1.cmd.worker.restart", JSON.stringify({ worker: "base" }));
    hubNc.publish("deploy.dev-2", "{}");
    hubNc.publish("deploy.dev-1", "{}");
    await assert.rejects(hubNc.request("$JS.dev-1.API.STREAM.DELETE.VIGIL_DEPLOY_IN", "", { timeout: 3000 }), "the hub cannot delete a device stream");
    await assert.rejects(hubNc.request("$JS.dev-1.API.CONSUMER.DELETE.VIGIL_DEPLOY_IN.deployer", "", { timeout: 3000 }), "nor a device's durable");
    await assert.rejects(hubNc.request("$JS.dev-1.API.$KV.VIGIL_DEPLOY_PROBE.k", "x", { timeout: 3000 }), "nor write its KV");
    // What is allowed still passes, and after the messages above on the same connection (order is kept):
    const info = JSON.parse((await hubNc.request("$JS.dev-1.API.STREAM.INFO.VIGIL", "", { timeout: 10_000 })).string()) as { config?: { name: string } };
    assert.equal(info.config?.name, "VIGIL", "sourcing's reads of the device stream pass");
    const state = JSON.parse((await hubNc.request(remoteSubject("dev-1"), JSON.stringify(signedRemoteRequest("dev-1", "state", undefined, { key: keyFile })), { timeout: 35_000 })).string()) as { ok: boolean };
    assert.equal(state.ok, true, "fleet.remote.<device> passes");
    assert.deepEqual(seen, [], "no vigil.* or deploy.* message crossed the link");
    const jsm = await jetstreamManager(d1.nc, { checkAPI: false });
    assert.ok(await jsm.consumers.info(DEVICE_DEPLOY_STREAM, "deployer"), "the device's stream and durable are still there");
    assert.equal(d1.events.events.filter((e) => is(e, "cmd.worker.restart") && e.data.worker === "base").length, 0);

    // Up the link: the device cannot change the hub's streams, read the fleet, or send fleet.* to other devices.
    // (Requests up the link use the device's own inbox prefix: the hub sends dev-1 only replies under it, fleet-hub-auth.ts.)
    const up = await uplinkClient(d1);
    const hubSeen: string[] = [];
    const hubSub = hubNc.subscribe("fleet.>", { callback: (_err, m) => void hubSeen.push(m.subject) });
    await hubNc.flush();
    up.publish("fleet.remote.dev-2", "{}");
    await assert.rejects(up.request("$JS.hub.API.STREAM.DELETE.VIGIL_DEPLOY", "", { timeout: 3000 }));
    await assert.rejects(up.request("$JS.hub.API.STREAM.MSG.GET.VIGIL_DEPLOY", JSON.stringify({ last_by_subj: "deploy.dev-2" }), { timeout: 3000 }), "nor read another device's deployment");
    await assert.rejects(up.request("$JS.hub.API.CONSUMER.CREATE.VIGIL_FLEET", "{}", { timeout: 3000 }), "nor read every device's events");
    const hubInfo = JSON.parse((await up.request("$JS.hub.API.STREAM.INFO.VIGIL_DEPLOY", "", { timeout: 10_000 })).string()) as { config?: { name: string } };
    assert.equal(hubInfo.config?.name, "VIGIL_DEPLOY", "the source's reads of the hub stream pass");
    assert.deepEqual(hubSeen, [], "fleet.* never goes up");
    for (const sub of [...subs, hubSub]) sub.unsubscribe();
    await up.close();
  });

  it("per-device hub users: dev-1's credentials are refused reading dev-2's deployment and publishing as dev-2", async () => {
    const up = await uplinkClient(devices[0]!);
    const steal = (filter: string, name?: string) =>
      JSON.stringify({ stream_name: DEPLOY_STREAM, config: { ...(name ? { name } : {}), filter_subject: filter, deliver_policy: "all", ack_policy: "none", deliver_subject: "downlink.dev-1.steal" } });
    // Through dev-1's own leaf link (it logs in as dev-1): the consumer of another device's subject cannot be created in any form.
    await assert.rejects(up.request(`$JS.hub.API.CONSUMER.CREATE.${DEPLOY_STREAM}`, steal("deploy.dev-2"), { timeout: 3000 }), "an ephemeral consumer with dev-2's filter in the body");
    await assert.rejects(up.request(`$JS.hub.API.CONSUMER.CREATE.${DEPLOY_STREAM}.steal.deploy.dev-2`, steal("deploy.dev-2", "steal"), { timeout: 3000 }), "a consumer named on dev-2's subject");
    const mismatch = JSON.parse((await up.request(`$JS.hub.API.CONSUMER.CREATE.${DEPLOY_STREAM}.steal.deploy.dev-1`, steal("deploy.dev-2", "steal"), { timeout: 10_000 })).string()) as { error?: { err_code: number } };
    assert.equal(mismatch.error?.err_code, 10131, "dev-1's own subject with dev-2's filter in the body: the hub refuses the mismatch");

    // dev-1's hub credentials used directly on the hub's client port: the same rights as its link.
    const asDev1 = await connectBus({ url: hub.url, ...hub.deviceLogins["dev-1"], inboxPrefix: deviceInboxPrefix("dev-1") }, "test-as-dev-1");
    const hubSeen: string[] = [];
    const hubSubs = ["deploy.>", "vigil.>", "uplink.dev-2.S.forged", "uplink.dev-1.S.control", "fleet.>"].map((subject) => hubNc.subscribe(subject, { callback: (_e, m) => void hubSeen.push(m.subject) }));
    try {
      await hubNc.flush();
      const before = (await (await jetstreamManager(hubNc, { checkAPI: false })).streams.info(DEPLOY_STREAM)).state.messages;
      for (const api of ["$JS.API", "$JS.hub.API"]) {
        await assert.rejects(asDev1.request(`${api}.STREAM.MSG.GET.${DEPLOY_STREAM}`, JSON.stringify({ last_by_subj: "deploy.dev-2" }), { timeout: 3000 }), `no direct read of dev-2's deployment (${api})`);
        await assert.rejects(asDev1.request(`${api}.CONSUMER.CREATE.${DEPLOY_STREAM}`, steal("deploy.dev-2"), { timeout: 3000 }), `no consumer on dev-2's deployments (${api})`);
      }
      const stolen: string[] = [];
      // (A refused subscription ends with a permissions error and no message.)
      asDev1.subscribe("downlink.dev-2.>", { callback: (e, m) => void (e || stolen.push(m.subject)) });
      asDev1.subscribe("fleet.remote.dev-2", { callback: (e, m) => void (e || (stolen.push(m.subject), m.respond(JSON.stringify({ ok: true, forged: true })))) });
      await asDev1.flush().catch(() => undefined);

      asDev1.publish("deploy.dev-2", "{}");
      asDev1.publish("vigil.dev-2.dec.deployment.healthy", "{}");
      asDev1.publish("uplink.dev-2.S.forged", "{}");
      asDev1.publish("fleet.remote.dev-3", "{}");
      await assert.rejects(jetstream(asDev1).publish("deploy.dev-2", "{}", { timeout: 3000 }), "no deployment published for dev-2");
      // The control, on the same connection after the refused ones (order is kept): its own uplink subject passes.
      asDev1.publish("uplink.dev-1.S.control", "{}");
      await asDev1.flush().catch(() => undefined);
      // A real remote request to dev-2 is answered by dev-2, never by dev-1's subscription.
      const answer = JSON.parse((await hubNc.request(remoteSubject("dev-2"), JSON.stringify(signedRemoteRequest("dev-2", "state", undefined, { key: keyFile })), { timeout: 35_000 })).string()) as { ok: boolean; forged?: boolean };
      assert.equal(answer.ok, true);
      assert.equal(answer.forged, undefined, "dev-2's remote request was answered by dev-2");
      await hubNc.flush();
      // (Only the two exact uplink subjects are watched: the devices' real deliveries into VIGIL_FLEET run on uplink.<device>.S.<random>.)
      assert.deepEqual(hubSeen.filter((x) => x !== "fleet.remote.dev-2" && x !== "uplink.dev-1.S.control"), [], "nothing dev-1 published as dev-2 reached the hub");
      assert.ok(hubSeen.includes("uplink.dev-1.S.control"), "control: dev-1's login reaches the hub on its own subject");
      assert.deepEqual(stolen, [], "dev-1 received nothing of dev-2's");
      const after = (await (await jetstreamManager(hubNc, { checkAPI: false })).streams.info(DEPLOY_STREAM)).state.messages;
      assert.equal(after, before, "VIGIL_DEPLOY got nothing from dev-1");
    } finally {
      for (const sub of hubSubs) sub.unsubscribe();
      await asDev1.close().catch(() => undefined);
      await up.close();
    }
  });
});
