import { VERSION, type ServiceContext } from "@vigil/events";
import type { Forwarder } from "./forwarder.js";
import type { Emit } from "./forward/types.js";
import { systemSampler } from "./system.js";

/** Emits sys.telemetry.heartbeat every heartbeatSeconds: the device's figures, the backlog, the forwarder's counts. Returns its stop. */
export function startHeartbeat(ctx: ServiceContext, forwarder: Forwarder, emit: Emit): () => void {
  const { config } = ctx;
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
  const heartbeat = setInterval(() => void beat(), config.telemetry.heartbeatSeconds * 1000);
  heartbeat.unref();
  return () => clearInterval(heartbeat);
}
