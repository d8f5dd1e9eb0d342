import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectBus, generateOperatorKey, is, signDocument } from "@vigil/events";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { runVigil } from "./e2e-helpers.js";
import { pidOf, startDevice, startHub, stopDevice, type Device } from "./deploy-e2e-helpers.js";
import { remoteSubject } from "./deploy-remote.js";
import { signedRemoteRequest } from "./deploy-cli.js";

/**
 * Deployments from the hub (docs/fleet.md): a real hub and three `vigil up` devices as leaf nodes, each
 * logged in as its own hub user (fleet-hub-auth.ts).
 */

const IDS = ["dev-1", "dev-2", "dev-3"];

describe("vigil fleet deploy: signed deployments, health gate, rollback, remote commands (real nats-servers, real vigil up)", () => {
  it("deploys to all, refuses bad ones, rolls a crashing one back, restarts remotely", async () => {
    const hub = await startHub({ devices: IDS });
    const key = generateOperatorKey();
    const stranger = generateOperatorKey();
    const dir = mkdtempSync(join(tmpdir(), "vigil-deploy-"));
    const keyFile = join(dir, "operator.key");
    writeFileSync(keyFile, key.privatePem, { mode: 0o600 });
    const devices: Device[] = [];
    let hubNc: NatsConnection | undefined;
    const fleetCli = async (...args: string[]) => {
      const r = await runVigil(["fleet", ...args, "--hub", hub.url], hub.operatorEnv);
      return { ...r, out: `${r.stdout}${r.stderr}` };
    };
    try {
      for (const id of IDS) devices.push(await startDevice(id, `nats-leaf://127.0.0.1:${hub.leafPort}`, [key.publicKey], hub.deviceLogins[id]));
      hubNc = await connectBus({ url: hub.url, ...hub.operator }, "test-hub");
      assert.equal((await fleetCli("add", ...IDS)).code, 0);
      for (const d of devices) {
        await d.events.waitFor(`${d.id} uplink`, (e) => is(e, "sys.fleet.uplink") && (e.data as { state: string }).state === "connected", 30_000);
        await d.events.waitFor(`${d.id} base started`, (e) => is(e, "obs.worker.started") && (e.data as { worker: string }).worker === "base", 30_000);
      }
      const basePids = devices.map((d) => pidOf(d, "base"));

      // 1. A deployment to all three: the new worker runs, the unchanged ones keep their pids, the hub sees healthy from each.
      const v1 = join(dir, "v1.yaml");
      writeFileSync(v1, "version: 1\ntarget: { devices: [x] }\nhealthWindowSeconds: 3\nworkers:\n  - { name: filter, command: sh, args: ['-c', 'echo filter-up; exec sleep 600'] }\n");
      const t0 = Date.now();
      const r1 = await fleetCli("deploy", v1, "--select", "site=plant-3", "--key", keyFile, "--wait", "90");
      assert.equal(r1.code, 0, r1.out);
      for (const id of IDS) assert.match(r1.out, new RegExp(`${id}: healthy`), r1.out);
      devices.forEach((d, i) => {
        assert.ok(pidOf(d, "filter", t0), `${d.id} runs filter`);
        assert.equal(pidOf(d, "base"), basePids[i], `${d.id}: base kept its pid`);
      });
      const listing = await fleetCli("deployments", "--json");
      assert.deepEqual(JSON.parse(listing.stdout).devices.map((x: { state: string; version: number }) => `${x.state}/${x.version}`), ["healthy/1", "healthy/1", "healthy/1"]);

      // 2. Refusals, each an event with its reason, nothing applied: bad signature, unknown key, old version, pinned worker, containers.
      const d1 = devices[0]!;
      const js = jetstream(hubNc);
      const send = (doc: unknown, id: string) => js.publish("deploy.dev-1", JSON.stringify(doc), { msgID: id });
      const body = (v: number, workers: object[]) => ({ version: v, target: { devices: ["dev-1"] }, workers });
      const forged = { ...signDocument(body(5, [{ name: "evil", command: "sleep", args: ["1"] }]), key.privatePem), body: body(5, [{ name: "evil", command: "sh", args: ["-c", "id"] }]) };
      await send(forged, "forged");
      await send(signDocument(body(6, [{ name: "evil", command: "sleep", args: ["1"] }]), stranger.privatePem), "stranger");
      await send(signDocument(body(1, [{ name: "evil", command: "sleep", args: ["1"] }]), key.privatePem), "old");
      await send(signDocument(body(7, [{ name: "safety", command: "sleep", args: ["2"] }]), key.privatePem), "pinned");
      // fleet.pinned covers containers too: a container of a pinned name is refused like a worker.
      await send(signDocument({ ...body(8, [{ name: "evil", command: "sleep", args: ["1"] }]), containers: [{ name: "safety", image: "camera:1" }] }, key.privatePem), "pinned-container");
      for (const code of ["bad-signature", "unknown-key", "old-version", "pinned"]) {
        await d1.events.waitFor(`refused ${code}`, (e) => is(e, "dec.deployment.refused") && (e.data as { code: string }).code === code, 30_000);
      }
      await d1.events.waitFor("refused pinned container", (e) => is(e, "dec.deployment.refused") && (e.data as { code: string; version?: number }).code === "pinned" && (e.data as { version?: number }).version === 8, 30_000);
      assert.equal(pidOf(d1, "evil"), undefined, "nothing refused was started");

      // 3. A deployment whose new worker crashes: rolled back inside the health window on every device that got it, the old set runs again, one incident per device.
      const v2 = join(dir, "v2.yaml");
      writeFileSync(v2, "version: 2\ntarget: { devices: [x] }\nhealthWindowSeconds: 20\nworkers:\n  - { name: filter, command: sh, args: ['-c', 'echo filter-up; exec sleep 600'] }\n  - { name: crasher, command: sh, args: ['-c', 'sleep 0.5; exit 3'] }\n");
      const r2 = await fleetCli("deploy", v2, "--to", IDS.join(","), "--key", keyFile, "--wait", "90");
      assert.equal(r2.code, 1, r2.out);
      assert.match(r2.out, /dev-1: rolled-back/);
      for (const d of devices) {
        const rb = await d.events.waitFor(`${d.id} rolled back`, (e) => is(e, "dec.deployment.rolled-back"), 30_000);
        assert.equal((rb.data as { to: number }).to, 1);
        const cmd = d.events.events.find((e) => is(e, "cmd.deployment.rollback"))!;
        assert.equal(rb.incident, cmd.incident, "the rollback ran under the decider's incident");
        const crashIncidents = new Set(d.events.events.filter((e) => is(e, "dec.incident.opened") && (e.data as { worker: string }).worker === "crasher").map((e) => e.incident));
        assert.deepEqual([...crashIncidents], [cmd.incident], `${d.id}: one incident`);
        await d.events.waitFor(`${d.id} incident resolved`, (e) => is(e, "dec.incident.resolved") && e.incident === cmd.incident, 30_000);
        const stoppedCrasher = d.events.events.some((e) => is(e, "out.config.step") && (e.data as { worker: string; action: string }).worker === "crasher");
        assert.ok(stoppedCrasher, `${d.id}: crasher removed by the rollback's plan`);
      }

      // 4. Remote restart names the operator and returns the new pid; the same signed request again is refused; logs come back.
      const d2 = devices[1]!;
      const before = pidOf(d2, "base");
      const rr = await fleetCli("restart", "dev-2", "base", "--key", keyFile);
      assert.equal(rr.code, 0, rr.out);
      const m = /pid (\d+) \(was (\d+)\), requested by (.+) via fleet hub/.exec(rr.out);
      assert.ok(m, rr.out);
      assert.equal(Number(m[2]), before);
      assert.notEqual(Number(m[1]), before);
      const signed = signedRemoteRequest("dev-2", "restart", "base", { key: keyFile });
      const first = JSON.parse((await hubNc.request(remoteSubject("dev-2"), JSON.stringify(signed), { timeout: 35_000 })).string());
      assert.equal(first.ok, true);
      const replay = JSON.parse((await hubNc.request(remoteSubject("dev-2"), JSON.stringify(signed), { timeout: 35_000 })).string());
      assert.equal(replay.ok, false);
      assert.match(replay.error, /replayed/);
      await d2.events.waitFor("remote refused event", (e) => is(e, "dec.remote.refused"));
      const logs = await fleetCli("logs", "dev-1", "filter", "--lines", "5", "--key", keyFile);
      assert.equal(logs.code, 0, logs.out);
      assert.match(logs.stdout, /filter-up/);
    } finally {
      for (const d of devices) await stopDevice(d);
      await hubNc?.close().catch(() => undefined);
      await hub.stop();
    }
  });
});
