import { mkdirSync } from "node:fs";
import { join } from "node:path";
import {
  createPublisher,
  derivedId,
  deviceFilter,
  eventName,
  startConsumer,
  type DataOf,
  type Publisher,
  type ServiceContext,
  type VigilEvent,
  type WorkerAction,
} from "@vigil/events";
import { ExecutedCommands, PidRegistry } from "./local-state.js";
import type { ExitInfo, RunStatus } from "./process-driver.js";
import { planCommand, type Step } from "./plan.js";
import { ProcessDriver } from "./process-driver.js";
import { DockerDriver } from "./docker-driver.js";

type CommandData = DataOf<"cmd.worker.restart">;
type ReattachData = DataOf<"cmd.container.reattach">;

/** What the executors need from a driver: one per workload kind (process, container). */
interface WorkloadOps {
  status(name: string): { status: RunStatus; pid?: number };
  start(name: string): Promise<unknown>;
  stop(name: string): Promise<void>;
  kill(name: string, signal: NodeJS.Signals): Promise<void>;
  pause(name: string): void | Promise<void>;
  resume(name: string): void | Promise<void>;
}

/**
 * Owns the workers: starts what the config declares, turns process exits into observations at once,
 * and executes commands from the bus (each id at most once) through plan → steps → executors.
 */
export async function startSupervisor(ctx: ServiceContext): Promise<() => Promise<void>> {
  const { config, log } = ctx;
  const dir = join(config.dataDir, "supervisor");
  mkdirSync(dir, { recursive: true });
  // Observations and outcomes must survive a bus outage: they go through a durable outbox.
  const bus: Publisher = await createPublisher(ctx.nc, { device: config.device, source: `vigil/${config.device}/supervisor`, outboxDir: join(dir, "outbox"), log });
  const executed = await ExecutedCommands.open(join(dir, "commands"), config.stream.maxAgeSeconds * 1000);
  const registry = new PidRegistry(join(dir, "pids.json"));
  for (const o of registry.reapOrphans()) log.warn(o, "stopped a worker left running by an earlier supervisor");

  /** The incident a worker's current trouble belongs to (learned from commands), so its next exit carries it. */
  const incidents = new Map<string, string>();
  const restarts = new Map<string, number>();
  const startedAt = new Map<string, number>();
  const emit = (...args: Parameters<Publisher["emit"]>) =>
    bus.emit(...args).catch((err) => log.error({ err: (err as Error).message, type: args[0] }, "could not record event"));

  /** A process or container exit: unexpected ones carry the worker's incident (or a new one). */
  function reportExit(info: ExitInfo & { oom?: boolean; containerId?: string }) {
    const { error, ...rest } = info;
    const incident = info.expected ? undefined : (incidents.get(info.worker) ?? derivedId(config.device, info.worker, String(info.pid ?? "nopid"), String(Date.now()), "incident"));
    if (incident) incidents.set(info.worker, incident);
    log.info({ ...info }, info.expected ? "worker stopped" : info.oom ? "container killed by the OOM killer" : "worker exited unexpectedly");
    void emit("obs.worker.exited", { ...rest, uptimeMs: Math.round(info.uptimeMs), ...(error ? { error } : {}) }, { incident });
  }
  function reportStable(worker: string, pid: number, uptimeMs: number) {
    const incident = incidents.get(worker);
    incidents.delete(worker);
    void emit("obs.worker.stable", { worker, pid, uptimeMs }, { incident });
  }

  const driver = new ProcessDriver(config.workers, {
    baseDir: config.configDir,
    logDir: join(dir, "logs"),
    log,
    events: {
      // Reported by the caller, which knows whether it was a boot or a command.
      onStarted: (worker, _pid, at) => void startedAt.set(worker, at),
      onExited: reportExit,
      onStable: reportStable,
      onPidsChanged: (pids) => registry.write(pids),
    },
  });

  // Container workloads: only when declared, so a device without Docker never needs the engine.
  const docker = config.containers.length
    ? new DockerDriver(config.containers, {
        device: config.device,
        socketPath: config.docker.socketPath,
        log,
        events: {
          onStarted: (worker, _pid, at) => void startedAt.set(worker, at),
          onExited: reportExit,
          onStable: reportStable,
          onPidsChanged: () => undefined,
          onHealth: (worker, containerId, status) => void emit("obs.container.health", { worker, containerId, status }, { incident: incidents.get(worker) }),
          onNetworks: (worker, containerId, internal, vnics) => void emit("obs.container.networks", { worker, containerId, ...(internal ? { internal } : {}), vnics }),
        },
      })
    : undefined;
  const opsOf = (worker: string): WorkloadOps => (docker?.config(worker) ? docker : driver);
  const isDeclared = (worker: string) => driver.config(worker) !== undefined || docker?.config(worker) !== undefined;
  const declaredNames = () => [...driver.declared(), ...(docker?.declared() ?? [])];

  // Per-worker queue: a delayed restart and a stop for the same worker never interleave.
  const queues = new Map<string, Promise<void>>();
  const enqueue = (worker: string, job: () => Promise<void>) => {
    const next = (queues.get(worker) ?? Promise.resolve()).then(job, job);
    queues.set(worker, next.catch(() => undefined));
    return next;
  };

  let stopping = false;
  const waits = new Set<() => void>();
  const executors: Record<Step["action"], (worker: string, step: Step) => Promise<void>> = {
    // A backoff delay; shutdown cuts it short (and then nothing further runs).
    wait: (_w, s) =>
      new Promise((r) => {
        const done = () => {
          clearTimeout(t);
          waits.delete(done);
          r();
        };
        const t = setTimeout(done, (s as { ms: number }).ms);
        waits.add(done);
      }),
    stop: (w) => opsOf(w).stop(w),
    start: async (w) => {
      await opsOf(w).start(w);
    },
    pause: async (w) => opsOf(w).pause(w),
    resume: async (w) => opsOf(w).resume(w),
    kill: (w, s) => opsOf(w).kill(w, (s as { signal: NodeJS.Signals }).signal),
  };

  async function execute(cmd: VigilEvent<CommandData>, action: WorkerAction): Promise<void> {
    const { worker } = cmd.data;
    const declared = isDeclared(worker);
    const before = opsOf(worker).status(worker);
    const plan = planCommand(action, worker, { declared, ...before }, { delayMs: cmd.data.delayMs, signal: cmd.data.signal, declared: declaredNames() });
    const meta = { incident: cmd.incident, causation: cmd.id, correlation: cmd.correlation ?? cmd.incident };
    if (plan.ok && action === "restart" && cmd.data.requestedBy === "decider" && Date.parse(cmd.time) < bootTime) {
      const reason = `superseded: ${worker} was started fresh when the supervisor booted, after the crash this restart answers`;
      log.info({ command: cmd.id, worker }, reason);
      await emit("out.command.rejected", { command: cmd.id, action, worker, reason }, meta);
      return;
    }
    if (!plan.ok) {
      log.warn({ command: cmd.id, action, worker, reason: plan.reason }, "command rejected");
      await emit("out.command.rejected", { command: cmd.id, action, worker, reason: plan.reason }, meta);
      return;
    }
    if (cmd.incident) incidents.set(worker, cmd.incident);
    await enqueue(worker, async () => {
      const previousPid = opsOf(worker).status(worker).pid ?? before.pid;
      try {
        for (const step of plan.steps) {
          if (stopping) return;
          await executors[step.action](worker, step);
        }
      } catch (err) {
        log.error({ command: cmd.id, action, worker, err: (err as Error).message }, "command failed");
        await emit("out.command.failed", { command: cmd.id, action, worker, error: (err as Error).message }, meta);
        return;
      }
      if (stopping) return;
      const now = opsOf(worker).status(worker);
      if (action === "restart" || action === "start") restarts.set(worker, (restarts.get(worker) ?? 0) + (action === "restart" ? 1 : 0));
      await emit(plan.outcome, {
        worker,
        command: cmd.id,
        requestedBy: cmd.data.requestedBy,
        ...(now.pid ? { pid: now.pid } : {}),
        ...(previousPid && previousPid !== now.pid ? { previousPid } : {}),
        at: startedAt.get(worker),
      } as never, meta);
    });
  }

  // Boot: every declared worker starts. Restart commands the decider made for crashes before this
  // moment are superseded by it (their `time` is the time of the crash they answer).
  const bootTime = Date.now();
  for (const w of config.workers) {
    try {
      const pid = await driver.start(w.name);
      await emit("obs.worker.started", { worker: w.name, pid, command: [w.command, ...w.args].join(" ") });
    } catch (err) {
      log.error({ worker: w.name, err: (err as Error).message }, "worker could not start");
    }
  }

  /** Moves a container's vNICs on an interface to its new subnet (netmon → decider → here). */
  async function reattach(cmd: VigilEvent<ReattachData>): Promise<void> {
    const { worker } = cmd.data;
    const meta = { incident: cmd.incident, causation: cmd.id, correlation: cmd.correlation ?? cmd.incident };
    if (!docker?.config(worker)) {
      const reason = `unknown container workload "${worker}": only containers declared in the config can be reattached (declared: ${docker?.declared().join(", ") || "none"})`;
      await emit("out.command.rejected", { command: cmd.id, action: "reattach", worker, reason }, meta);
      return;
    }
    await enqueue(worker, async () => {
      if (stopping) return;
      try {
        if (cmd.data.delayMs) await executors.wait(worker, { action: "wait", ms: cmd.data.delayMs });
        const { vnics, warnings } = await docker.reattach(worker, cmd.data.interface, { subnet: cmd.data.subnet, gateway: cmd.data.gateway });
        log.info({ worker, interface: cmd.data.interface, vnics }, "container reattached");
        for (const w of warnings) log.warn({ worker }, w);
        await emit("out.container.reattached", { worker, command: cmd.id, requestedBy: cmd.data.requestedBy, vnics, ...(warnings.length ? { warnings } : {}) }, meta);
      } catch (err) {
        log.error({ command: cmd.id, worker, err: (err as Error).message }, "reattach failed");
        await emit("out.command.failed", { command: cmd.id, action: "reattach", worker, error: (err as Error).message }, meta);
      }
    });
  }

  // Containers: reach the engine, then adopt or start each one. Without the engine the process
  // workers run on; the driver says so (event + log) and keeps trying.
  let dockerRetry: NodeJS.Timeout | undefined;
  async function bootContainers(): Promise<void> {
    if (!docker || stopping) return;
    let version: string;
    try {
      version = await docker.connect();
    } catch (err) {
      const error = (err as Error).message;
      log.error({ socketPath: config.docker.socketPath, err: error }, "docker driver unavailable: container workloads are not running (process workers are unaffected); retrying every 5 s");
      if (!dockerRetry) await emit("sys.docker.unavailable", { socketPath: config.docker.socketPath, error, workloads: docker.declared() });
      dockerRetry = setTimeout(() => void bootContainers(), 5_000);
      dockerRetry.unref();
      return;
    }
    const adopted: string[] = [];
    for (const c of config.containers) {
      try {
        const r = await docker.start(c.name);
        if (r.adopted) adopted.push(c.name);
        await emit("obs.worker.started", { worker: c.name, pid: r.pid, command: [c.image, ...(c.command ?? [])].join(" "), containerId: r.containerId, ...(r.adopted ? { adopted: true } : {}) });
      } catch (err) {
        log.error({ worker: c.name, err: (err as Error).message }, "container could not start");
        await emit("obs.worker.exited", { worker: c.name, code: null, signal: null, expected: false, uptimeMs: 0, error: (err as Error).message });
      }
    }
    log.info({ version, adopted }, "docker driver ready");
    await emit("sys.docker.available", { socketPath: config.docker.socketPath, version, adopted });
  }
  await bootContainers();

  const consumer = await startConsumer(ctx.nc, {
    stream: config.stream.name,
    durable: "supervisor",
    filterSubject: deviceFilter(config.device, "cmd"),
    deadLetters: ctx.publisher,
    log,
    handler: async (e) => {
      const name = eventName(e);
      if (name === "cmd.container.reattach") {
        if (await executed.has(e.id)) return;
        await executed.add(e.id);
        void reattach(e as VigilEvent<ReattachData>);
        return;
      }
      if (name?.startsWith("cmd.net.")) return; // netmon's
      const action = name?.startsWith("cmd.worker.") ? (name.slice("cmd.worker.".length) as WorkerAction) : undefined;
      if (!action) throw new Error(`not a worker command: ${e.type}`);
      if (await executed.has(e.id)) {
        log.info({ command: e.id, action }, "command already executed, skipped");
        return;
      }
      // Recorded before running: after a crash mid-command it is not run again (at most once).
      await executed.add(e.id);
      // Not awaited: a delayed restart must not hold up commands for other workers.
      void execute(e as VigilEvent<CommandData>, action);
    },
  });

  const heartbeat = setInterval(() => {
    void emit("sys.service.heartbeat", {
      service: "supervisor",
      pid: process.pid,
      uptimeMs: Math.round(process.uptime() * 1000),
      rssBytes: process.memoryUsage.rss(),
      outbox: bus.pending(),
      workers: declaredNames().map((name) => {
        const s = opsOf(name).status(name);
        return { name, status: s.status, ...(s.pid ? { pid: s.pid } : {}), restarts: restarts.get(name) ?? 0 };
      }),
    });
  }, config.supervisor.heartbeatMs);
  heartbeat.unref();

  return async () => {
    clearInterval(heartbeat);
    clearTimeout(dockerRetry);
    stopping = true;
    for (const release of [...waits]) release();
    await consumer.stop();
    await driver.stopAll();
    await Promise.all([...queues.values()]);
    docker?.close();
    await bus.flush();
    await bus.close();
    await executed.close();
  };
}
