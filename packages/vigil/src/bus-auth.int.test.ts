import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { connectBus, is, loadConfig, type VigilEvent } from "@vigil/events";
import { freePort, watchEvents } from "@vigil/events/testing";
import { findNatsServer, startEmbeddedNats } from "./embedded-nats.js";
import { writeBusAuth } from "./bus-auth.js";
import { serviceMain, SERVICES, type ServiceName } from "./paths.js";
import { readEnvFile, writeConfig } from "./e2e-helpers.js";

const pidOf = (e: VigilEvent) => (e.data as { pid: number }).pid;

describe("vigil bus-auth: the same users on a server Vigil does not start (the compose scheme)", () => {
  it("each service on its own user from its env file: started before the stream exists they wait for the decider to set it up; a killed worker is restarted; no credentials → refused", async () => {
    const cfg = writeConfig({
      device: "ba-1",
      health: { intervalMs: 60_000, anomaly: { enabled: false } },
      workers: [{ name: "sensor", command: "sleep", args: ["600"], restart: { stableMs: 600_000 } }],
    });
    const config = loadConfig(cfg, {});
    const dir = mkdtempSync(join(tmpdir(), "vigil-bus-auth-"));
    const port = await freePort();
    const monitor = `127.0.0.1:${await freePort()}`;
    const files = writeBusAuth(config, SERVICES, dir, { listen: `127.0.0.1:${port}`, http: monitor, storeDir: join(dir, "store") });
    assert.equal(files.length, SERVICES.length + 2);
    const nats = await startEmbeddedNats(findNatsServer().bin, { port, dataDir: dir, name: "bus-auth-test", configFile: join(dir, "nats-server.conf") });
    const srv = { url: nats.url, cleanup: () => nats.stop() };
    const children: ChildProcess[] = [];
    const start = (name: ServiceName) => {
      const env = { ...process.env, VIGIL_CONFIG: cfg, VIGIL_NATS_URL: srv.url, VIGIL_LOG_LEVEL: "warn", ...readEnvFile(join(dir, `${name}.env`)) };
      children.push(spawn(process.execPath, [serviceMain(name)], { env, stdio: "ignore" }));
    };
    const admin = await connectBus({ url: srv.url, ...{ user: "admin", pass: readEnvFile(join(dir, "admin.env")).VIGIL_NATS_PASS } }, "test");
    try {
      await assert.rejects(connect({ servers: srv.url, maxReconnectAttempts: 0, timeout: 3_000 }), /authorization violation/i);
      // The others first: without the right to create the stream they wait for it (VIGIL_STREAM_SETUP=wait
      // in their env files), and start once the decider, which may, has created it.
      for (const s of SERVICES) if (s !== "decider") start(s);
      // All five connected (and waiting: no stream yet) before the decider starts.
      const connected = async () => ((await (await fetch(`http://${monitor}/connz`)).json()) as { num_connections: number }).num_connections;
      while ((await connected()) < SERVICES.length) await new Promise((r) => setTimeout(r, 100)); // admin + five services
      await assert.rejects(jetstreamManager(admin).then((m) => m.streams.info("VIGIL")), /not found/i, "nobody else created the stream");
      start("decider");
      let events: Awaited<ReturnType<typeof watchEvents>> | undefined;
      for (let i = 0; i < 100 && !events; i++) {
        events = await watchEvents(admin).catch(() => new Promise<undefined>((r) => setTimeout(() => r(undefined), 100)));
      }
      assert.ok(events, "the decider created the stream");
      for (const s of SERVICES) await events.waitFor(`${s} started`, (e) => is(e, "sys.service.started") && (e.data as { service: string }).service === s, 30_000);
      const started = await events.waitFor("sensor started", (e) => is(e, "obs.worker.started"), 30_000);
      process.kill(pidOf(started), "SIGKILL");
      const again = await events.waitFor("sensor restarted", (e) => is(e, "out.worker.restarted"), 30_000);
      assert.notEqual(pidOf(again), pidOf(started));
      await events.close();
      // Every service worked within its rights.
      const violations = readFileSync(nats.logFile!, "utf8").split("\n").filter((l) => / Violation - User /.test(l));
      assert.deepEqual(violations, []);
    } finally {
      for (const c of children) c.kill("SIGTERM");
      await Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once("exit", r)))));
      await admin.close();
      await srv.cleanup();
    }
  });
});
