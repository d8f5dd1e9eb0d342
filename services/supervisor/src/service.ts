import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createPublisher, deviceFilter, startConsumer, type ServiceContext } from "@vigil/events";
import { bootContainers, bootProcesses } from "./boot.js";
import { listenForRestarts } from "./restart-fast-path.js";
import { probeLimits, type LimitsBackend, type LimitsSupport } from "./cgroups.js";
import { systemClock, type Clock } from "./clock.js";
import { commandHandler } from "./commands.js";
import { DegradedMode } from "./degraded.js";
import { DockerDriver } from "./docker-driver.js";
import { emitOrLog } from "./emit.js";
import { createExecutors, Waits } from "./executors.js";
import { ExitReporting } from "./exits.js";
import { startHeartbeat } from "./heartbeat.js";
import { ExecutedCommands, PidRegistry } from "./local-state.js";
import { OperatorStops } from "./operator-stops.js";
import { Reloads, type ReloadRequest, type ReloadResult } from "./reload.js";
import { ProcessDriver } from "./process-driver.js";
import { shutdown, ShutdownFlag } from "./shutdown.js";
import { WorkerIncidents, WorkerQueues, WorkerTally } from "./worker-books.js";
import { Workloads } from "./workloads.js";

export interface SupervisorOptions {
  /** Where every concern reads the time (default: the system clock). */
  clock?: Clock;
  /** Whether cgroups can enforce worker limits, and which backend (default: probed at start, cgroups.ts). */
  cgroups?: LimitsSupport;
  /** The config file a reload re-reads, and the environment it is read with (default: $VIGIL_CONFIG, process.env). */
  configPath?: string;
  env?: NodeJS.ProcessEnv;
}

/** The supervisor's stop, and its reload (SIGHUP, main.ts; tests and benchmarks call it directly). */
export type RunningSupervisor = (() => Promise<void>) & { reload(req?: ReloadRequest): Promise<ReloadResult>; dataDir: string };

/**
 * Owns the workers: starts what the config declares, turns exits into observations at once, and
 * executes commands from the bus (each id at most once) through plan → steps → executors. This is
 * the wiring only; each concern has its own file (docs/architecture-supervisor.md).
 */
export async function startSupervisor(ctx: ServiceContext, opts: SupervisorOptions = {}): Promise<RunningSupervisor> {
  const { config, log } = ctx;
  const clock = opts.clock ?? systemClock;
  const dir = join(config.dataDir, "supervisor");
  mkdirSync(dir, { recursive: true });
  // Observations and outcomes must survive a bus outage: they go through a durable outbox.
  const bus = await createPublisher(ctx.nc, { device: config.device, source: `vigil/${config.device}/supervisor`, outboxDir: join(dir, "outbox"), log });
  const emit = emitOrLog(bus, log);
  const executed = await ExecutedCommands.open(join(dir, "commands"), config.stream.maxAgeSeconds * 1000, clock);
  const registry = new PidRegistry(join(dir, "pids.json"), (err) => log.warn({ err: err.message }, "could not write the workers' pids (pids.json): after a kill -9 of the supervisor, its next start may not find them to stop"));
  for (const o of registry.reapOrphans()) log.warn(o, "stopped a worker left running by an earlier supervisor");

  const incidents = new WorkerIncidents();
  const tally = new WorkerTally();
  const queues = new WorkerQueues();
  const waits = new Waits();
  const flag = new ShutdownFlag();
  // The drivers report to the exit reporting, which needs degraded mode, which needs the drivers: bound late.
  let exits: ExitReporting | undefined;
  const onExited: ExitReporting["exited"] = (info) => exits?.exited(info);
  const onStable: ExitReporting["stable"] = (...a) => exits?.stable(...a);
  const cgroups = await limitsSupport(ctx, emit, opts.cgroups);
  const processes = new ProcessDriver(config.workers, { baseDir: config.configDir, logDir: join(dir, "logs"), logs: config.logs, logCapDirs: [join(dir, "logs"), join(config.dataDir, "logs")], log, cgroups, events: { onStarted: tally.started, onExited, onStable, onPidsChanged: (pids) => registry.write(pids) } });
  const dockerDriver = (declared: typeof config.containers) =>
    new DockerDriver(declared, {
      device: config.device,
      socketPath: config.docker.socketPath,
      log,
      events: {
        onStarted: tally.started,
        onExited,
        onStable,
        onPidsChanged: () => undefined,
        onHealth: (worker, containerId, status) => void emit("obs.container.health", { worker, containerId, status }, { incident: incidents.get(worker) }),
        onNetworks: (worker, containerId, internal, vnics) => void emit("obs.container.networks", { worker, containerId, ...(internal ? { internal } : {}), vnics }),
      },
    });
  const containers = config.containers.length ? dockerDriver(config.containers) : undefined;
  const stops = new OperatorStops(join(dir, "operator-stops.json"));
  const workloads = new Workloads(processes, containers, stops);
  const executors = createExecutors(workloads, waits);
  const { enabled, afterMs } = config.supervisor.degraded;
  const degraded = new DegradedMode({ cfg: { enabled, afterMs, policyOf: (w) => workloads.restartPolicyOf(w) }, clock, log, emit, workloads, queues, executors, tally, shutdown: flag });
  exits = new ExitReporting({ device: config.device, clock, log, emit, incidents, degraded, shutdown: flag });

  const bootTime = clock.now();
  const apply = { executors, queues, shutdown: flag, workloads, now: () => clock.now() };
  const bootDeps = { config, log, emit, workloads, executors, shutdown: flag, apply };
  await bootProcesses(bootDeps);
  const containerBoot = bootContainers(bootDeps);
  await containerBoot.booted;

  const handler = commandHandler({ log, emit, executed, workloads, queues, executors, shutdown: flag, incidents, tally, degraded, bootTime, stops, logDirs: [join(dir, "logs"), join(config.dataDir, "logs")] });
  const consumer = await startConsumer(ctx.nc, { stream: config.stream.name, durable: "supervisor", filterSubject: deviceFilter(config.device, "cmd"), deadLetters: ctx.publisher, log, handler });
  const stopListening = degraded.listen(ctx.nc, config.device);
  const stopRestarts = listenForRestarts(ctx.nc, config.device, handler, log);
  const stopHeartbeat = startHeartbeat({ emit, bus, workloads, tally, intervalMs: config.supervisor.heartbeatMs });

  const reloads = new Reloads({ configPath: opts.configPath ?? process.env.VIGIL_CONFIG ?? config.configPath, env: opts.env ?? process.env, log, emit, workloads, apply, stops, cgroups, dockerDriver: () => dockerDriver([]) });
  const stop = () => shutdown({ flag, listeners: [stopRestarts, stopHeartbeat, stopListening, containerBoot.stop], waits, consumer, workloads, queues, bus, executed, registry });
  return Object.assign(stop, { reload: (req?: ReloadRequest) => reloads.reload(req), dataDir: config.dataDir });
}

/**
 * Whether worker limits can be enforced here. Said once at start, as a log line and an event, when
 * any worker declares limits: enforced (cgroup v2 or v1, and where), or what is missing for both (the workers then run unlimited).
 */
async function limitsSupport(ctx: ServiceContext, emit: ReturnType<typeof emitOrLog>, given?: LimitsSupport): Promise<LimitsBackend | undefined> {
  const limited = ctx.config.workers.filter((w) => w.limits).map((w) => w.name);
  const support = given ?? probeLimits({ device: ctx.config.device });
  if (support.ok) {
    const { kind, where } = support.backend;
    if (limited.length) await emit("sys.supervisor.limits", { enforced: true, cgroup: `${kind}: ${where}`, workers: limited });
    ctx.log.info({ cgroup: where, limited, leftoversRemoved: support.removed }, `worker limits: ${kind}`);
    return support.backend;
  }
  if (limited.length) {
    ctx.log.warn({ reason: support.reason, workers: limited }, "worker limits NOT enforced: these workers run unlimited");
    await emit("sys.supervisor.limits", { enforced: false, reason: support.reason, workers: limited });
  } else ctx.log.info({ reason: support.reason }, "worker limits unavailable (no worker declares any)");
  return undefined;
}
