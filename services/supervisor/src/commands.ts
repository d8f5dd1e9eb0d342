import { eventName, is, traceAt, type EventOf, type Logger, type VigilEvent, type WorkerAction } from "@vigil/events";
import type { DegradedMode } from "./degraded.js";
import type { Emit } from "./emit.js";
import { runSteps, type Executors } from "./executors.js";
import { executeLogPrune } from "./log-prune.js";
import type { ExecutedCommands } from "./local-state.js";
import type { OperatorStops } from "./operator-stops.js";
import { outcomeOf, plan, type Plan } from "./plan.js";
import type { ShutdownFlag } from "./shutdown.js";
import type { WorkerIncidents, WorkerQueues, WorkerTally } from "./worker-books.js";
import type { Workloads } from "./workloads.js";


export interface CommandDeps {
  log: Logger;
  emit: Emit;
  executed: ExecutedCommands;
  workloads: Workloads;
  queues: WorkerQueues;
  executors: Executors;
  shutdown: ShutdownFlag;
  incidents: WorkerIncidents;
  tally: WorkerTally;
  degraded: DegradedMode;
  /** Restart commands the decider made for crashes before this moment are superseded by the boot. */
  bootTime: number;
  /** The operator's stops (operator-stops.ts): an operator's stop persists, an operator's start or restart ends it. */
  stops?: OperatorStops;
  /** The log folders cmd.logs.prune prunes (the disk-pressure policy's first step). */
  logDirs?: readonly string[];
}

const WORKER_COMMANDS = {
  "cmd.worker.restart": "restart",
  "cmd.worker.start": "start",
  "cmd.worker.stop": "stop",
  "cmd.worker.pause": "pause",
  "cmd.worker.resume": "resume",
  "cmd.worker.kill": "kill",
} as const satisfies Record<string, WorkerAction>;

const metaOf = (cmd: { id: string; incident?: string; correlation?: string }) => ({ incident: cmd.incident, causation: cmd.id, correlation: cmd.correlation ?? cmd.incident });

/** Ids run by this process, newest last: a redelivery is known without the disk (bounded; redeliveries come within minutes). */
const RAN_HERE_MAX = 10_000;

/**
 * A decider's restart answers a crash, stamped with the crash's time. Its synced record rides with
 * the restart instead of before it (issue 13: an fsync between command and spawn on the recovery
 * path): a redelivery to this process is caught by `ranHere`, and a supervisor that restarted — after
 * a kill -9 or a power cut — supersedes every decider restart for a crash before its boot
 * (supersededBecause), so it still runs at most once. Every other command is recorded before it runs.
 */
const recordAlongside = (cmd: WorkerCommand, action: WorkerAction) => action === "restart" && cmd.data.requestedBy === "decider";

/**
 * Commands from the bus: consume → plan → execute, each command id at most once (ExecutedCommands,
 * recorded before running, so after a crash mid-command it is not run again). Not awaited: a delayed
 * restart must not hold up commands for other workers; the per-worker queue orders one worker's.
 */
export function commandHandler(deps: CommandDeps): (e: VigilEvent) => Promise<void> {
  const ranHere = new Set<string>();
  /** Records of commands run here still being written: a second delivery is acked only after its record. */
  const recording = new Map<string, Promise<void>>();
  const remember = (id: string) => {
    ranHere.add(id);
    if (ranHere.size > RAN_HERE_MAX) ranHere.delete(ranHere.values().next().value!);
  };
  return async (e) => {
    if (is(e, "cmd.container.reattach")) {
      if (await deps.executed.has(e.id)) return;
      await deps.executed.add(e.id);
      void reattach(deps, e);
      return;
    }
    if (is(e, "cmd.logs.prune")) {
      if (await deps.executed.has(e.id)) return;
      await deps.executed.add(e.id);
      void executeLogPrune(e, deps.logDirs ?? [], deps.emit, deps.log);
      return;
    }
    // Telemetry's (cmd.telemetry.downsample) and the decider's (cmd.incident.ack): not for the supervisor.
    if (eventName(e)?.startsWith("cmd.telemetry.") || eventName(e)?.startsWith("cmd.incident.")) return;
    if (eventName(e)?.startsWith("cmd.net.")) return; // netmon's
    if (eventName(e)?.startsWith("cmd.deployment.")) return; // the deployer's (vigil up, docs/fleet.md)
    const action = workerActionOf(e);
    traceAt("sup.cmd");
    if (!action) throw new Error(`not a worker command: ${e.type}`);
    if (ranHere.has(e.id)) {
      // Heard live first (restart-fast-path.ts) and now from the stream, or a redelivery.
      await recording.get(e.id);
      deps.log.debug({ command: e.id, action: action.action }, "command already run here, skipped");
      return;
    }
    if (recordAlongside(action.event, action.action)) {
      // Claimed before any await: the live path and the stream's delivery cannot both run it.
      remember(e.id);
      if (await deps.executed.has(e.id)) return alreadyExecuted(deps, e.id, action.action);
      const recorded = deps.executed.add(e.id);
      recording.set(e.id, recorded.catch(() => undefined));
      void recorded.finally(() => recording.delete(e.id)).catch(() => undefined);
      void execute(deps, action.event, action.action);
      // Acked only once recorded; a failed record is the handler's error (the redelivery is skipped above).
      return recorded;
    }
    if (await deps.executed.has(e.id)) return alreadyExecuted(deps, e.id, action.action);
    await deps.executed.add(e.id);
    remember(e.id);
    void execute(deps, action.event, action.action);
  };
}

function alreadyExecuted(deps: CommandDeps, command: string, action: WorkerAction): void {
  deps.log.info({ command, action }, "command already executed, skipped");
}

type WorkerCommand = EventOf<keyof typeof WORKER_COMMANDS>;
type ReattachCommand = EventOf<"cmd.container.reattach">;

const isWorkerCommand = (name: string): name is keyof typeof WORKER_COMMANDS => Object.hasOwn(WORKER_COMMANDS, name);

function workerActionOf(e: VigilEvent): { event: WorkerCommand; action: WorkerAction } | undefined {
  const name = eventName(e);
  return name && isWorkerCommand(name) && is(e, name) ? { event: e, action: WORKER_COMMANDS[name] } : undefined;
}

/** Why a decider restart is not run although it plans fine; undefined when it runs. */
function supersededBecause(deps: CommandDeps, cmd: WorkerCommand, action: WorkerAction): string | undefined {
  const worker = cmd.data.worker;
  // Only an operator undoes an operator's stop: the decider's remediations do not bring such a worker back.
  if ((action === "restart" || action === "start") && cmd.data.requestedBy === "decider" && deps.stops?.has(worker)) return `${worker} was stopped by the operator; only an operator start brings it back`;
  if (action !== "restart" || cmd.data.requestedBy !== "decider") return undefined;
  const crashAt = Date.parse(cmd.time); // a decider restart's time is the time of the crash it answers
  if (crashAt < deps.bootTime) return `superseded: ${worker} was started fresh when the supervisor booted, after the crash this restart answers`;
  if (deps.degraded.refusesDeciderRestart(worker, crashAt)) return `superseded: ${worker} was restarted locally by the supervisor's reflex while degraded, for the crash this restart answers`;
  // Someone (an operator) started it again during the decider's delay: a second restart would only interrupt that run.
  const startedAt = deps.tally.startedAtOf(worker);
  const status = deps.workloads.facts(worker).status;
  if (startedAt !== undefined && startedAt > crashAt && (status === "running" || status === "paused")) return `superseded: ${worker} was started again after the crash this restart answers`;
  return undefined;
}

async function execute(deps: CommandDeps, cmd: WorkerCommand, action: WorkerAction): Promise<void> {
  const { log, emit, workloads } = deps;
  const { worker } = cmd.data;
  // The decider's delay (its backoff, or a cool-down retry of up to restart.coolDownMs after a crash
  // loop) is waited outside the worker's queue: an operator's command meanwhile is not held up behind
  // it, and the checks below see what happened during the wait.
  const waitFirst = cmd.data.requestedBy === "decider" && cmd.data.delayMs > 0;
  if (waitFirst) {
    await deps.executors.wait({ action: "wait", ms: cmd.data.delayMs });
    if (deps.shutdown.stopping()) return;
  }
  traceAt("sup.execute");
  const before = workloads.facts(worker);
  const p: Plan = plan(workloads.desired(), [before], { kind: "command", action, worker, delayMs: waitFirst ? 0 : cmd.data.delayMs, signal: cmd.data.signal });
  const meta = metaOf(cmd);
  const superseded = p.ok ? supersededBecause(deps, cmd, action) : undefined;
  if (superseded) {
    log.info({ command: cmd.id, worker }, superseded);
    await emit("out.command.rejected", { command: cmd.id, action, worker, reason: superseded }, meta);
    return;
  }
  if (!p.ok) {
    log.warn({ command: cmd.id, action, worker, reason: p.reason }, "command rejected");
    await emit("out.command.rejected", { command: cmd.id, action, worker, reason: p.reason }, meta);
    return;
  }
  if (cmd.incident) deps.incidents.set(worker, cmd.incident);
  recordOperatorIntent(deps, cmd, action);
  if (action === "restart" || action === "start" || action === "stop") deps.degraded.feed({ type: "command-accepted", worker });
  await deps.queues.enqueue(worker, async () => {
    traceAt("sup.dequeued");
    const previousPid = workloads.facts(worker).pid ?? before.pid;
    try {
      if (!(await runSteps(deps.executors, p.steps, deps.shutdown.stopping))) return;
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      log.error({ command: cmd.id, action, worker, err: error }, "command failed");
      await emit("out.command.failed", { command: cmd.id, action, worker, error }, meta);
      return;
    }
    const now = workloads.facts(worker);
    if (action === "restart") deps.tally.countRestart(worker);
    // The reflex's history follows the decider's count (a decider restart answers a crash at cmd.time).
    if (action === "restart" || action === "start") deps.degraded.feed({ type: "restarted", worker, at: Date.parse(cmd.time), requestedBy: action === "restart" ? cmd.data.requestedBy : "operator" });
    const pids = { ...(now.pid ? { pid: now.pid } : {}), ...(previousPid && previousPid !== now.pid ? { previousPid } : {}) };
    await emit(outcomeOf(action), { worker, command: cmd.id, requestedBy: cmd.data.requestedBy, ...pids, at: deps.tally.startedAtOf(worker) }, meta);
  });
}

/**
 * An operator's stop is written (synced) before the stop runs, so no crash, reload or supervisor
 * restart in between brings the worker back; an operator's start or restart ends it.
 */
function recordOperatorIntent(deps: CommandDeps, cmd: WorkerCommand, action: WorkerAction): void {
  if (!deps.stops || cmd.data.requestedBy === "decider") return;
  if (action === "stop") deps.stops.set(cmd.data.worker);
  else if (action === "start" || action === "restart") deps.stops.clear(cmd.data.worker);
}

/** Moves a container's vNICs on an interface to its new subnet (netmon → decider → here). */
async function reattach(deps: CommandDeps, cmd: ReattachCommand): Promise<void> {
  const { log, emit, workloads } = deps;
  const { worker } = cmd.data;
  const meta = metaOf(cmd);
  const p = plan(workloads.desired(), [], { kind: "reattach", worker, interface: cmd.data.interface, subnet: cmd.data.subnet, gateway: cmd.data.gateway, delayMs: cmd.data.delayMs });
  if (!p.ok) {
    await emit("out.command.rejected", { command: cmd.id, action: "reattach", worker, reason: p.reason }, meta);
    return;
  }
  await deps.queues.enqueue(worker, async () => {
    if (deps.shutdown.stopping()) return;
    try {
      for (const step of p.steps) {
        if (step.action === "wait") await deps.executors.wait(step);
        else if (step.action === "reattach") {
          const { vnics, warnings } = await deps.executors.reattach(step);
          log.info({ worker, interface: step.interface, vnics }, "container reattached");
          for (const w of warnings) log.warn({ worker }, w);
          await emit("out.container.reattached", { worker, command: cmd.id, requestedBy: cmd.data.requestedBy, vnics, ...(warnings.length ? { warnings } : {}) }, meta);
        }
      }
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      log.error({ command: cmd.id, worker, err: error }, "reattach failed");
      await emit("out.command.failed", { command: cmd.id, action: "reattach", worker, error }, meta);
    }
  });
}
