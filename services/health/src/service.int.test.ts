import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectBus, createLogger, createPublisher, is, parseConfig, startService, type VigilEvent } from "@vigil/events";
import { startNatsServer, watchEvents } from "@vigil/events/testing";
import { startHealth } from "./service.js";

const log = createLogger("test", "silent");
const data = <T>(e: VigilEvent) => e.data as T;

describe("health service (real nats-server, real /proc)", () => {
  it("samples the device and a managed worker's process, reports thermal crossings with hysteresis and garbage in a zone file without stopping", async () => {
    const srv = await startNatsServer();
    const dir = mkdtempSync(join(tmpdir(), "vigil-health-"));
    const thermal = join(dir, "thermal");
    mkdirSync(join(thermal, "thermal_zone0"), { recursive: true });
    const zone = join(thermal, "thermal_zone0", "temp");
    writeFileSync(zone, "45000\n");
    const worker = spawn("sleep", ["60"], { stdio: "ignore" });
    const config = parseConfig(
      { device: "h1", dataDir: join(dir, "data"), nats: { url: srv.url }, health: { intervalMs: 200, thermalDir: thermal, disks: ["/"], anomaly: { enabled: false } }, workers: [{ name: "sensor", command: "sleep" }] },
      { env: {} },
    );
    const nc = await connectBus({ url: srv.url }, "test");
    const supervisor = await createPublisher(nc, { device: "h1", source: "vigil/h1/supervisor", log });
    const svc = await startService("health", config, (ctx) => startHealth(ctx), log);
    const events = await watchEvents(nc);
    try {
      await supervisor.emit("obs.worker.started", { worker: "sensor", pid: worker.pid!, command: "sleep 60" });
      const sample = await events.waitFor("a sample with the worker", (e) => is(e, "obs.health.sample") && data<{ workers: unknown[] }>(e).workers.length === 1);
      const d = data<{ tempC: number; workers: Array<{ worker: string; pid: number; rssBytes: number }>; disks: Array<{ mount: string }> }>(sample);
      assert.equal(d.tempC, 45);
      assert.equal(d.workers[0]!.worker, "sensor");
      assert.equal(d.workers[0]!.pid, worker.pid);
      assert.ok(d.workers[0]!.rssBytes > 0);
      assert.deepEqual(d.disks.map((x) => x.mount), ["/"]);

      writeFileSync(zone, "80000\n");
      const temperature = (e: VigilEvent) => data<{ metric: string }>(e).metric === "temperature";
      const crossed = await events.waitFor("temperature crossed", (e) => is(e, "obs.health.threshold.crossed") && temperature(e));
      assert.deepEqual(data(crossed), { metric: "temperature", value: 80, above: 75, recoverBelow: 70 });
      writeFileSync(zone, "72000\n"); // below the threshold, above the recovery line: still hot
      await events.waitFor("a sample at 72", (e) => is(e, "obs.health.sample") && data<{ tempC: number }>(e).tempC === 72);
      writeFileSync(zone, "garbage\n");
      const problem = await events.waitFor("thermal problem", (e) => is(e, "obs.health.problem"));
      assert.equal(data<{ path: string }>(problem).path, zone);
      assert.match(data<{ error: string }>(problem).error, /not a temperature in millidegrees Celsius: "garbage"/);
      await events.waitFor("a sample without temperature", (e) => is(e, "obs.health.sample") && data<{ tempC: number | null }>(e).tempC === null);
      writeFileSync(zone, "50000\n");
      await events.waitFor("temperature recovered", (e) => is(e, "obs.health.threshold.recovered") && temperature(e));
      assert.equal(events.events.filter((e) => is(e, "obs.health.threshold.recovered") && temperature(e)).length, 1, "72 °C did not count as recovered");
      assert.equal(events.events.filter((e) => is(e, "obs.health.problem")).length, 1, "the same problem is reported once, not every sample");

      // The worker exits: it is no longer sampled.
      worker.kill("SIGKILL");
      await supervisor.emit("obs.worker.exited", { worker: "sensor", pid: worker.pid!, code: null, signal: "SIGKILL", expected: false, uptimeMs: 1 });
      const exitSeq = events.events.at(-1)!.seq;
      await events.waitFor("a sample after the exit without the worker", (e) => e.seq > exitSeq + 1 && is(e, "obs.health.sample") && data<{ workers: unknown[] }>(e).workers.length === 0);
    } finally {
      worker.kill("SIGKILL");
      await events.close();
      await svc.stop();
      await supervisor.close();
      await nc.close();
      await srv.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("probes a worker's HTTP endpoint: failed after failureThreshold misses, recovered when it answers again", async () => {
    const srv = await startNatsServer();
    const dir = mkdtempSync(join(tmpdir(), "vigil-health-"));
    const { createServer } = await import("node:http");
    let healthy = true;
    const http = createServer((_req, res) => {
      if (healthy) res.end("ok");
      else {
        res.statusCode = 500;
        res.end("sick");
      }
    });
    await new Promise<void>((r) => http.listen(0, "127.0.0.1", () => r()));
    const port = (http.address() as { port: number }).port;
    const config = parseConfig(
      {
        device: "h2",
        dataDir: join(dir, "data"),
        nats: { url: srv.url },
        health: { intervalMs: 1000, thermalDir: join(dir, "none"), disks: ["/"], anomaly: { enabled: false } },
        workers: [{ name: "api", command: "x", probe: { http: { url: `http://127.0.0.1:${port}/health` }, periodMs: 100, timeoutMs: 80, failureThreshold: 3 } }],
      },
      { env: {} },
    );
    const nc = await connectBus({ url: srv.url }, "test");
    const supervisor = await createPublisher(nc, { device: "h2", source: "vigil/h2/supervisor", log });
    const svc = await startService("health", config, (ctx) => startHealth(ctx), log);
    const events = await watchEvents(nc);
    try {
      await supervisor.emit("obs.worker.started", { worker: "api", pid: process.pid, command: "x" });
      healthy = false;
      const failed = await events.waitFor("probe failed", (e) => is(e, "obs.probe.failed"));
      assert.deepEqual({ ...data<object>(failed), error: undefined }, { worker: "api", pid: process.pid, probe: "http", failures: 3, failureThreshold: 3, error: undefined });
      assert.match(data<{ error: string }>(failed).error, /HTTP 500/);
      healthy = true;
      const rec = await events.waitFor("probe recovered", (e) => is(e, "obs.probe.recovered"));
      assert.equal(data<{ worker: string }>(rec).worker, "api");
    } finally {
      await events.close();
      await svc.stop();
      await supervisor.close();
      await nc.close();
      http.close();
      await srv.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
