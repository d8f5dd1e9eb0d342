import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { connectBus, is } from "@vigil/events";
import { freePort, natsServerBinary, startNatsServer, watchEvents } from "@vigil/events/testing";
import { runVigil, vigilUpEmbedded } from "./e2e-helpers.js";

/**
 * examples/fleet (what compose.fleet.yaml runs) stays runnable with one hub user per device: its
 * fleet-auth.sh writes the users with `vigil fleet hub-auth`, nats-server accepts hub.conf with them
 * (and refuses it without), and a device started from the config the script wrote logs in to that hub
 * as its own user, whose link the operator then sources.
 */

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const EXAMPLES = join(REPO, "examples", "fleet");

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string }> {
  return new Promise((res) => {
    const c = spawn(cmd, args, { cwd: REPO, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    c.stdout.on("data", (d) => (out += d));
    c.stderr.on("data", (d) => (out += d));
    c.on("exit", (code) => res({ code, out }));
  });
}

/**
 * examples/fleet/hub.conf beside a fleet-auth folder, on free loopback ports; its store_dir goes (the test
 * server's -sd sets a temp one, and nats-server refuses both). The listeners and the store are all the test changes.
 */
async function exampleHubConf(dir: string): Promise<{ conf: string; leafPort: number }> {
  const [clientPort, leafPort, httpPort] = [await freePort(), await freePort(), await freePort()];
  const text = readFileSync(join(EXAMPLES, "hub.conf"), "utf8")
    .replace("listen: 0.0.0.0:4222", `listen: 127.0.0.1:${clientPort}`)
    .replace("http: 0.0.0.0:8222", `http: 127.0.0.1:${httpPort}`)
    .replace("listen: 0.0.0.0:7422", `listen: 127.0.0.1:${leafPort}`)
    .replace("store_dir: /data", "");
  assert.match(text, new RegExp(`127\\.0\\.0\\.1:${leafPort}`), "hub.conf still has the leafnode listener the test rewrites");
  const conf = join(dir, "hub.conf");
  writeFileSync(conf, text);
  return { conf, leafPort };
}

describe("examples/fleet: per-device hub users (vigil fleet hub-auth), as compose.fleet.yaml runs them", () => {
  it("fleet-auth.sh writes the users and each device's config; the hub accepts them; device-1 links as its own user", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vigil-examples-fleet-"));
    const { conf, leafPort } = await exampleHubConf(dir);
    const bin = natsServerBinary();

    const without = await run(bin, ["-c", conf, "-t"]);
    assert.notEqual(without.code, 0, `hub.conf without fleet-auth/hub-users.conf must be refused:\n${without.out}`);

    const env = { EXAMPLES_DIR: EXAMPLES, FLEET_AUTH_DIR: join(dir, "fleet-auth"), DEVICES_DIR: join(dir, "devices") };
    const script = await run("sh", [join(EXAMPLES, "fleet-auth.sh"), "device-1", "device-2"], env);
    assert.equal(script.code, 0, script.out);
    const tested = await run(bin, ["-c", conf, "-t"]);
    assert.equal(tested.code, 0, tested.out);
    assert.match(tested.out, /is valid/);

    const login = (u: string) => JSON.parse(readFileSync(join(dir, "fleet-auth", `${u}.json`), "utf8")) as { user: string; pass: string };
    for (const d of ["device-1", "device-2"]) {
      const cfg = parse(readFileSync(join(dir, "devices", d, "vigil.yaml"), "utf8")) as { device: string; fleet: { user: string; pass: string } };
      assert.equal(cfg.device, d);
      assert.deepEqual({ user: cfg.fleet.user, pass: cfg.fleet.pass }, login(d), `${d}'s config carries its own hub login`);
    }
    const before = login("device-1").pass;
    assert.equal((await run("sh", [join(EXAMPLES, "fleet-auth.sh"), "device-1", "device-2"], env)).code, 0);
    assert.equal(login("device-1").pass, before, "a second run keeps the passwords");

    const hub = await startNatsServer({ args: ["-c", conf] });
    // The compose-only settings (the hub's host name, the data volume, port 8080) moved by vigil's own env overrides.
    const device = await vigilUpEmbedded(join(dir, "devices", "device-1", "vigil.yaml"), await freePort(), {
      VIGIL_FLEET_HUB: `nats-leaf://127.0.0.1:${leafPort}`,
      VIGIL_DATA_DIR: join(dir, "device-1-data"),
      VIGIL_GATEWAY_PORT: "0",
    });
    const nc = await connectBus(device.nats, "test");
    const events = await watchEvents(nc);
    try {
      await events.waitFor("device-1 uplink", (e) => is(e, "sys.fleet.uplink") && (e.data as { state: string }).state === "connected", 60_000);
      const hubUrl = hub.url;
      const anonymous = await runVigil(["fleet", "list", "--hub", hubUrl], { VIGIL_FLEET_USER: "", VIGIL_FLEET_PASS: "" });
      assert.notEqual(anonymous.code, 0, "the hub lets in no one without a user");
      const operator = { VIGIL_FLEET_USER: "operator", VIGIL_FLEET_PASS: login("operator").pass };
      const added = await runVigil(["fleet", "add", "device-1", "--hub", hubUrl], operator);
      assert.equal(added.code, 0, added.stderr);
      // The fleet stream's source of device-1 delivers on uplink.device-1.…, which only device-1's user may publish: a heartbeat arriving proves the link is that user's.
      let status = "";
      let seq = events.events.at(-1)?.seq ?? 0;
      for (let i = 0; i < 60 && !/device-1\s+yes\s+\d+\s+\S+ ago/.test(status); i++) {
        seq = (await events.waitFor(`a new event on device-1 (${i})`, (e) => e.seq > seq, 30_000)).seq; // then ask the hub again
        status = (await runVigil(["fleet", "status", "device-1", "--hub", hubUrl], operator)).stdout;
      }
      assert.match(status, /device-1\s+yes\s+\d+\s+\S+ ago/, status);
    } finally {
      await events.close().catch(() => undefined);
      await nc.close().catch(() => undefined);
      await device.stop();
      await hub.cleanup();
    }
  });
});
