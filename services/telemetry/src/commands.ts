import { is, startConsumer, TELEMETRY_COMMANDS_DURABLE, type Publisher, type RunningConsumer, type ServiceContext, type TelemetryConfig } from "@vigil/events";

/** The configured rules with every "one in N" multiplied by `factor` (obs.health.sample too when unset); factor 1 gives them back. */
export function scaledRules(configured: Record<string, number>, factor: number): Record<string, number> {
  if (factor === 1) return { ...configured };
  const base = { "obs.health.sample": 1, ...configured };
  return Object.fromEntries(Object.entries(base).map(([k, n]) => [k, n === 0 ? 0 : n * factor]));
}

/**
 * Telemetry's commands (cmd.telemetry.downsample, the disk-pressure policy's second step): a small
 * durable consumer of its own. The forwarder reads `cfg.downsample` for every message, so replacing
 * the rules object takes effect at the next batch; `out.telemetry.downsampled` reports it (also when
 * telemetry is idle, with forwarding false).
 */
export async function startTelemetryCommands(ctx: ServiceContext, t: TelemetryConfig, bus: Publisher, forwarding: boolean): Promise<RunningConsumer> {
  const configured = { ...t.downsample };
  return startConsumer(ctx.nc, {
    stream: ctx.config.stream.name,
    durable: TELEMETRY_COMMANDS_DURABLE,
    filterSubject: `vigil.${ctx.config.device}.cmd.telemetry.>`,
    deadLetters: ctx.publisher,
    log: ctx.log,
    handler: async (e) => {
      if (!is(e, "cmd.telemetry.downsample")) return;
      const factor = e.data.factor;
      t.downsample = scaledRules(configured, factor);
      ctx.log.info({ factor, rules: t.downsample }, "telemetry downsampling changed");
      await bus.emit("out.telemetry.downsampled", { command: e.id, factor, rules: t.downsample, forwarding }, { incident: e.incident, causation: e.id, correlation: e.correlation ?? e.incident });
    },
  });
}
