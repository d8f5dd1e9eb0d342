import { mkdirSync } from "node:fs";
import { join } from "node:path";
import {
  createPublisher,
  deciderLifecycle,
  derivedId,
  deviceFilter,
  eventName,
  REFLEX_REQUESTER,
  RestartPolicySchema,
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
import { afterRestart, afterStable, degradedState, FRESH_HISTORY, reflexOnExit, type Degraded, type RestartHistory } from "./reflex.js";

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

  /** Each worker's restarts as the decider counts them: the degraded-mode reflex backs off and breaks on it. */
  const histories = new Map<string, RestartHistory>();
  const historyOf = (worker: string) => histories.get(worker) ?? FRESH_HISTORY;
  const restartPolicyOf = (worker: string) => driver.config(worker)?.restart ?? docker?.config(worker)?.restart ?? RestartPolicySchema.parse({});

  /** A process or container exit: unexpected ones carry the worker's incident (or a new one). */
  function reportExit(info: ExitInfo & { oom?: boolean; containerId?: string }) {
    const { error, ...rest } = info;
    const now = Date.now();
    const incident = info.expected ? undefined : (incidents.get(info.worker) ?? derivedId(config.device, info.worker, String(info.pid ?? "nopid"), String(now), "incident"));
    if (incident) incidents.set(info.worker, incident);
    log.info({ ...info }, info.expected ? "worker stopped" : info.oom ? "container killed by the OOM killer" : "worker exited unexpectedly");
    // Degraded: the reflex decides now and says so on the exit itself, so the decider, reading it
    // later, records the incident instead of restarting the worker a second time.
    const r = !info.expected && !stopping && checkMode() ? reflexOnExit(historyOf(info.worker), now, restartPolicyOf(info.worker)) : undefined;
    const id = derivedId(config.device, "exit", info.worker, String(info.pid ?? "nopid"), String(now));
    void emit("obs.worker.exited", { ...rest, uptimeMs: Math.round(info.uptimeMs), ...(error ? { error } : {}), ...(r ? { reflex: r.verdict } : {}) }, { id, time: new Date(now).toISOString(), incident });
    if (!r) {
      // The decider's answer is due; if degraded mode begins before it comes, the reflex answers instead.
      if (!info.expected) unanswered.set(info.worker, { exitId: id, at: now, incident, previousPid: info.pid });
      return;
    }
    histories.set(info.worker, r.next);
    if (r.verdict.action === "escalate") {
      log.error({ worker: info.worker, restarts: r.verdict.restarts, windowMs: r.verdict.windowMs }, "degraded mode: crash loop, the local reflex stops restarting this worker");
      return;
    }
    log.warn({ worker: info.worker, delayMs: r.verdict.delayMs, attempt: r.verdict.attempt }, "degraded mode: restarting the worker locally");
    void reflexRestart(info.worker, r.verdict.delayMs, { exitId: id, incident, previousPid: info.pid });
  }
  function reportStable(worker: string, pid: number, uptimeMs: number) {
    const incident = incidents.get(worker);
    incidents.delete(worker);
    histories.set(worker, afterStable(historyOf(worker)));
    void emit("obs.worker.stable", { worker, pid, uptimeMs }, { incident });
  }

  // Degraded mode (docs/degraded-mode.md): who is in charge of crashed workers right now.
  const degradedCfg = config.supervisor.degraded;
  let busDownSince: number | undefined;
  let deciderSeenAt = Date.now(); // boot: the decider gets afterMs to show itself
  let degraded: Degraded | undefined;
  let reflexRestarts = 0;
  /** Unexpected exits the decider has not answered yet (no restart since). */
  const unanswered = new Map<string, { exitId: string; at: number; incident?: string; previousPid?: number }>();
  /** Crashes (up to this time) the reflex answered late: a decider restart for them comes too late and is refused. */
  const answeredLocally = new Map<string, number>();
  /** Degraded mode began after an exit was reported to the decider: its answer is not coming, the reflex gives it. */
  function answerUnanswered(): void {
    for (const [worker, u] of [...unanswered]) {
      unanswered.delete(worker);
      const r = reflexOnExit(historyOf(worker), u.at, restartPolicyOf(worker));
      histories.set(worker, r.next);
      if (r.verdict.action === "escalate") {
        log.error({ worker, restarts: r.verdict.restarts }, "degraded mode: crash loop, the local reflex does not restart this worker");
        continue;
      }
      answeredLocally.set(worker, u.at);
      const delayMs = Math.max(0, r.verdict.delayMs - (Date.now() - u.at));
      log.warn({ worker, delayMs, attempt: r.verdict.attempt }, "degraded mode: restarting the worker locally (its crash got no answer from the decider)");
      void reflexRestart(worker, delayMs, u);
    }
  }
  /** Degraded or not, now; announces a change (through the outbox, so the decider reads it later). */
  function checkMode(): boolean {
    if (!degradedCfg.enabled) return false;
    const now = Date.now();
    const next = degradedState({ now, afterMs: degradedCfg.afterMs, busDownSince, deciderSeenAt });
    if (next && !degraded) {
      log.warn({ unreachable: next.unreachable }, `degraded mode: ${next.reason}`);
      void emit("sys.supervisor.degraded", { unreachable: next.unreachable, reason: next.reason, since: next.since });
      reflexRestarts = 0;
    } else if (!next && degraded) {
      const degradedMs = now - degraded.since;
      log.info({ degradedMs, reflexRestarts }, "degraded mode over: the decider is in charge again");
      void emit("sys.supervisor.restored", { degradedMs, reflexRestarts });
    }
    degraded = next;
    if (next && unanswered.size) answerUnanswered();
    return next !== undefined;
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

  /** Degraded mode: a restart nobody commanded, with the backoff the reflex chose; reported like a command's outcome. */
  async function reflexRestart(worker: string, delayMs: number, o: { exitId: string; incident?: string; previousPid?: number }): Promise<void> {
    if (!isDeclared(worker)) return;
    const command = derivedId(o.exitId, REFLEX_REQUESTER);
    const meta = { incident: o.incident, causation: o.exitId, correlation: o.incident };
    await enqueue(worker, async () => {
      try {
        if (delayMs) await executors.wait(worker, { action: "wait", ms: delayMs });
        if (stopping) return;
        // Planned after the wait: if someone started it meanwhile (an operator), there is nothing to do.
        const plan = planCommand("start", worker, { declared: true, ...opsOf(worker).status(worker) });
        if (!plan.ok || plan.steps.length === 0) {
          log.info({ worker }, "degraded mode: the worker is already running again, no local restart");
          return;
        }
        for (const step of plan.steps) {
          if (stopping) return;
          await executors[step.action](worker, step);
        }
      } catch (err) {
        log.error({ worker, err: (err as Error).message }, "degraded mode: local restart failed");
        await emit("out.command.failed", { command, action: "restart", worker, error: (err as Error).message }, meta);
        return;
      }
      if (stopping) return;
      const now = opsOf(worker).status(worker);
      restarts.set(worker, (restarts.get(worker) ?? 0) + 1);
      reflexRestarts++;
      await emit("out.worker.restarted", { worker, command, requestedBy: REFLEX_REQUESTER, ...(now.pid ? { pid: now.pid } : {}), ...(o.previousPid && o.previousPid !== now.pid ? { previousPid: o.previousPid } : {}), at: startedAt.get(worker) }, meta);
    });
  }

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
    if (plan.ok && action === "restart" && cmd.data.requestedBy === "decider" && Date.parse(cmd.time) <= (answeredLocally.get(worker) ?? -Infinity)) {
      const reason = `superseded: ${worker} was restarted locally by the supervisor's reflex while degraded, for the crash this restart answers`;
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
    if (action === "restart" || action === "start" || action === "stop") unanswered.delete(worker);
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
      // The reflex's history follows the decider's count (a decider restart answers a crash at cmd.time).
      if (action === "restart" || action === "start") histories.set(worker, afterRestart(historyOf(worker), Date.parse(cmd.time), action === "restart" ? cmd.data.requestedBy : "operator"));
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

  // Degraded mode's inputs: the decider's heartbeats (a plain subscription: only the live ones count)
  // and the connection's state. Only the decider's own lifecycle subject: no other service's user
  // may publish there, so no one else can fake its proof of life (docs/decisions/0008).
  const deciderBeats = ctx.nc.subscribe(deciderLifecycle(config.device), {
    callback: (_err, m) => {
      try {
        if ((m.json() as { data?: { service?: string } }).data?.service === "decider") {
          deciderSeenAt = Date.now();
          checkMode();
        }
      } catch {
        // not an event: not a sign of life either
      }
    },
  });
  void (async () => {
    for await (const s of ctx.nc.status()) {
      if (s.type === "disconnect" || s.type === "reconnecting") busDownSince ??= Date.now();
      else if (s.type === "reconnect") {
        busDownSince = undefined;
        // Control goes back with the bus; the decider gets afterMs to show itself before a new outage.
        deciderSeenAt = Math.max(deciderSeenAt, Date.now());
        checkMode();
      }
    }
  })();
  const modeCheck = setInterval(checkMode, Math.min(1_000, Math.max(100, Math.floor(degradedCfg.afterMs / 4))));
  modeCheck.unref();

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
    clearInterval(modeCheck);
    deciderBeats.unsubscribe();
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
