import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { createPublisher, telemetrySecret, VERSION, type ServiceContext } from "@vigil/events";
import { startForwarder } from "./forwarder.js";
import { systemSampler } from "./system.js";
import { createUploader } from "./upload.js";

/**
 * Store-and-forward: forwards this device's events to the cloud in signed CloudEvents batches behind
 * a circuit breaker, and sends a heartbeat with the device's figures and the backlog. Without
 * `telemetry.url` it stays idle.
 */
export async function startTelemetry(ctx: ServiceContext): Promise<() => Promise<void>> {
  const { config, log } = ctx;
  const t = config.telemetry;
  // From telemetry.secret or telemetry.secretFile (what vigil up passes): only this service reads the file.
  const secret = t.url ? telemetrySecret(config) : undefined;
  if (!t.url || !secret) {
    log.info("telemetry is idle: no telemetry.url configured (set telemetry.url and telemetry.secret, or VIGIL_TELEMETRY_URL / VIGIL_TELEMETRY_SECRET); nothing is forwarded");
    return async () => undefined;
  }
  const dir = join(config.dataDir, "telemetry");
  mkdirSync(dir, { recursive: true });
  // Breaker transitions and loss reports must survive a bus outage.
  const bus = await createPublisher(ctx.nc, { device: config.device, source: `vigil/${config.device}/telemetry`, outboxDir: join(dir, "outbox"), log });
  const emit: Parameters<typeof startForwarder>[0]["emit"] = (name, data) =>
    bus.emit(name, data).catch((err) => log.error({ err: (err as Error).message, type: name }, "could not record event"));

  const tls = t.tls
    ? {
        ...(t.tls.cert ? { cert: resolve(config.configDir, t.tls.cert) } : {}),
        ...(t.tls.key ? { key: resolve(config.configDir, t.tls.key) } : {}),
        ...(t.tls.ca ? { ca: resolve(config.configDir, t.tls.ca) } : {}),
      }
    : undefined;
  const uploader = createUploader({ url: t.url, secret, gzip: t.gzip, timeoutMs: t.requestTimeoutMs, device: config.device, ...(tls ? { tls } : {}) });
  const forwarder = await startForwarder({ js: ctx.js, jsm: ctx.jsm, stream: config.stream.name, device: config.device, config: t, uploader, log, emit });

  const sample = systemSampler(config.dataDir);
  const beat = async () => {
    const s = forwarder.stats();
    const backlog = await forwarder.backlog().catch(() => 0);
    const sys = await sample();
    await emit("sys.telemetry.heartbeat", {
      device: config.device,
      pid: process.pid,
      uptimeMs: Math.round(process.uptime() * 1000),
      ...sys,
      versions: { vigil: VERSION, node: process.versions.node, ...(ctx.nc.info?.version ? { nats: ctx.nc.info.version } : {}) },
      backlog,
      breaker: forwarder.breaker(),
      forwarded: s.forwarded,
      resent: s.resent,
      deadLettered: s.deadLettered,
      lost: s.lost,
    });
  };
  const heartbeat = setInterval(() => void beat(), t.heartbeatSeconds * 1000);
  heartbeat.unref();

  return async () => {
    clearInterval(heartbeat);
    await forwarder.stop();
    uploader.close();
    log.info(forwarder.stats(), "telemetry stopped");
    await bus.flush();
    await bus.close();
  };
}
