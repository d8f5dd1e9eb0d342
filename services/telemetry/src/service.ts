import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { createPublisher, emitOrLog, telemetrySecret, type ServiceContext } from "@vigil/events";
import { startForwarder } from "./forwarder.js";
import { startHeartbeat } from "./heartbeat.js";
import { startTelemetryCommands } from "./commands.js";
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
    // Still answers the disk-pressure policy's downsample commands (forwarding: false), so its incident sees the step done.
    const idle = await startTelemetryCommands(ctx, t, ctx.publisher, false);
    return () => idle.stop();
  }
  const dir = join(config.dataDir, "telemetry");
  mkdirSync(dir, { recursive: true });
  // Breaker transitions and loss reports must survive a bus outage.
  const bus = await createPublisher(ctx.nc, { device: config.device, source: `vigil/${config.device}/telemetry`, outboxDir: join(dir, "outbox"), log });
  const emit = emitOrLog(bus, log);

  const tls = t.tls
    ? {
        ...(t.tls.cert ? { cert: resolve(config.configDir, t.tls.cert) } : {}),
        ...(t.tls.key ? { key: resolve(config.configDir, t.tls.key) } : {}),
        ...(t.tls.ca ? { ca: resolve(config.configDir, t.tls.ca) } : {}),
      }
    : undefined;
  const uploader = createUploader({ url: t.url, secret, gzip: t.gzip, timeoutMs: t.requestTimeoutMs, device: config.device, ...(tls ? { tls } : {}) });
  const forwarder = await startForwarder({ js: ctx.js, jsm: ctx.jsm, stream: config.stream.name, device: config.device, config: t, uploader, log, emit });

  const stopHeartbeat = startHeartbeat(ctx, forwarder, emit);
  const commands = await startTelemetryCommands(ctx, t, bus, true);

  return async () => {
    stopHeartbeat();
    await commands.stop();
    await forwarder.stop();
    uploader.close();
    log.info(forwarder.stats(), "telemetry stopped");
    await bus.flush();
    await bus.close();
  };
}
