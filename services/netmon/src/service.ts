import { deviceFilter, emitOrLog, startConsumer, type InterfaceInfo, type ServiceContext } from "@vigil/events";
import { diffInterfaces, readInterfaces } from "./interfaces.js";
import { probeUplink } from "./uplink.js";
import { watchNetlink } from "./watcher.js";

/**
 * The network monitor: publishes every reported interface at start (obs.net.discovery) and on
 * cmd.net.discover, one obs.net.changed per interface whose addresses, gateway or state changed
 * once the changes have settled for `debounceMs`, and the cloud uplink's reachability.
 */
export async function startNetmon(ctx: ServiceContext): Promise<() => Promise<void>> {
  const { config, log, publisher } = ctx;
  const cfg = config.netmon;
  const emit = emitOrLog(publisher, log);

  let known: InterfaceInfo[] = await readInterfaces(cfg.ignore);
  await emit("obs.net.discovery", { interfaces: known });
  log.info({ interfaces: known.map((i) => `${i.name} ${i.ipv4.map((a) => a.subnet).join(",")}`) }, "interfaces discovered");

  // Debounce: every kernel notification restarts the window; one read and diff when it closes.
  let timer: NodeJS.Timeout | undefined;
  let reading = Promise.resolve();
  const settle = async () => {
    const now = await readInterfaces(cfg.ignore).catch((err) => {
      log.warn({ err: (err as Error).message }, "could not read interfaces");
      return undefined;
    });
    if (!now) return;
    const changes = diffInterfaces(known, now);
    known = now;
    for (const c of changes) {
      log.info({ interface: c.interface, before: c.before?.ipv4.map((a) => a.subnet), after: c.after?.ipv4.map((a) => a.subnet) }, "network changed");
      await emit("obs.net.changed", c);
    }
  };
  const onKernelChange = () => {
    clearTimeout(timer);
    timer = setTimeout(() => (reading = reading.then(settle)), cfg.debounceMs);
  };
  const stopWatch = watchNetlink({ mode: cfg.mode, pollMs: cfg.pollMs, log, onChange: onKernelChange });

  // Uplink: reported on each transition (and the first result).
  let uplinkTimer: NodeJS.Timeout | undefined;
  let online: boolean | undefined;
  let probing = Promise.resolve();
  if (cfg.uplink) {
    const { host, port, intervalMs, timeoutMs } = cfg.uplink;
    const endpoint = `${host}:${port}`;
    const check = async () => {
      const r = await probeUplink(host, port, timeoutMs);
      if (r.ok === online) return;
      online = r.ok;
      if (r.ok) await emit("obs.net.online", { endpoint, latencyMs: r.latencyMs });
      else await emit("obs.net.offline", { endpoint, error: r.error });
      log.info({ endpoint, online }, online ? "uplink online" : "uplink offline");
    };
    probing = check();
    uplinkTimer = setInterval(() => (probing = probing.then(check)), intervalMs);
    uplinkTimer.unref();
  }

  const consumer = await startConsumer(ctx.nc, {
    stream: config.stream.name,
    durable: "netmon",
    filterSubject: `${deviceFilter(config.device, "cmd").slice(0, -1)}net.>`,
    deadLetters: publisher,
    log,
    handler: async () => {
      known = await readInterfaces(cfg.ignore);
      await emit("obs.net.discovery", { interfaces: known });
    },
  });

  return async () => {
    stopWatch();
    clearTimeout(timer);
    clearInterval(uplinkTimer);
    await consumer.stop();
    await reading;
    await probing;
  };
}
