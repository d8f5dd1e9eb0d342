import { decodeEvent, deciderLifecycle, derivedId, is, REFLEX_REQUESTER, type Logger, type VigilEvent } from "@vigil/events";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Clock } from "./clock.js";
import { initial, transition, type DegradedModeConfig, type DegradedModeDecision, type DegradedModeInput, type DegradedModeState } from "./degraded-mode.js";
import type { Emit } from "./emit.js";
import { runSteps, type Executors } from "./executors.js";
import { plan } from "./plan.js";
import type { ShutdownFlag } from "./shutdown.js";
import type { WorkerQueues, WorkerTally } from "./worker-books.js";
import type { Workloads } from "./workloads.js";

export interface DegradedModeDeps {
  cfg: DegradedModeConfig;
  clock: Clock;
  log: Logger;
  emit: Emit;
  workloads: Workloads;
  queues: WorkerQueues;
  executors: Executors;
  tally: WorkerTally;
  shutdown: ShutdownFlag;
}

/**
 * Degraded mode's shell (docs/degraded-mode.md): feeds the pure state machine (degraded-mode.ts) its
 * inputs with the clock's time, and carries out what it decides: announce the change, restart a
 * crashed worker locally, refuse a decider restart that comes too late.
 */
export class DegradedMode {
  private state: DegradedModeState;

  constructor(private readonly deps: DegradedModeDeps) {
    // Boot: the decider gets afterMs to show itself.
    this.state = initial(deps.clock.now());
  }

  /** Folds one input in and acts on the decisions (in order); returns them, e.g. for the verdict an exit carries. */
  feed(input: DegradedModeInput): DegradedModeDecision[] {
    const { state, decisions } = transition(this.state, input, this.deps.cfg);
    this.state = state;
    for (const d of decisions) this.perform(d);
    return decisions;
  }

  /** Refused: the reflex already restarted the worker locally for the crash this decider restart answers. */
  refusesDeciderRestart(worker: string, crashAt: number): boolean {
    return this.feed({ type: "decider-restart", worker, crashAt }).some((d) => d.type === "refuse-late-restart");
  }

  private perform(d: DegradedModeDecision): void {
    const { log, emit } = this.deps;
    switch (d.type) {
      case "enter":
        log.warn({ unreachable: d.unreachable }, `degraded mode: ${d.reason}`);
        void emit("sys.supervisor.degraded", { unreachable: d.unreachable, reason: d.reason, since: d.since });
        return;
      case "leave":
        log.info({ degradedMs: d.degradedMs, reflexRestarts: d.reflexRestarts }, "degraded mode over: the decider is in charge again");
        void emit("sys.supervisor.restored", { degradedMs: d.degradedMs, reflexRestarts: d.reflexRestarts });
        return;
      case "crash-loop":
        if (d.late) log.error({ worker: d.worker, restarts: d.restarts }, "degraded mode: crash loop, the local reflex does not restart this worker");
        else log.error({ worker: d.worker, restarts: d.restarts, windowMs: d.windowMs }, "degraded mode: crash loop, the local reflex stops restarting this worker");
        return;
      case "reflex-restart":
        if (d.late) log.warn({ worker: d.worker, delayMs: d.delayMs, attempt: d.attempt }, "degraded mode: restarting the worker locally (its crash got no answer from the decider)");
        else log.warn({ worker: d.worker, delayMs: d.delayMs, attempt: d.attempt }, "degraded mode: restarting the worker locally");
        void this.reflexRestart(d);
        return;
      case "refuse-late-restart":
        return;
    }
  }

  /** A restart nobody commanded, with the backoff the reflex chose; reported like a command's outcome. */
  private async reflexRestart(d: Extract<DegradedModeDecision, { type: "reflex-restart" }>): Promise<void> {
    const { workloads, queues, executors, shutdown, log, emit, tally } = this.deps;
    const worker = d.worker;
    if (!workloads.desired().some((w) => w.name === worker)) return;
    const command = derivedId(d.exitId, REFLEX_REQUESTER);
    const meta = { incident: d.incident, causation: d.exitId, correlation: d.incident };
    await queues.enqueue(worker, async () => {
      try {
        if (d.delayMs) await executors.wait({ action: "wait", ms: d.delayMs });
        if (shutdown.stopping()) return;
        // Planned after the wait: if someone started it meanwhile (an operator), there is nothing to do.
        const p = plan(workloads.desired(), [workloads.facts(worker)], { kind: "reflex-restart", worker });
        if (!p.ok || p.steps.length === 0) {
          log.info({ worker }, "degraded mode: the worker is already running again, no local restart");
          return;
        }
        if (!(await runSteps(executors, p.steps, shutdown.stopping))) return;
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        log.error({ worker, err: error }, "degraded mode: local restart failed");
        await emit("out.command.failed", { command, action: "restart", worker, error }, meta);
        return;
      }
      const now = workloads.facts(worker);
      tally.countRestart(worker);
      this.feed({ type: "reflex-restarted", worker });
      await emit("out.worker.restarted", { worker, command, requestedBy: REFLEX_REQUESTER, ...(now.pid ? { pid: now.pid } : {}), ...(d.previousPid && d.previousPid !== now.pid ? { previousPid: d.previousPid } : {}), at: tally.startedAtOf(worker) }, meta);
    });
  }

  /**
   * The inputs from the bus: the decider's lifecycle events (a plain subscription: only live ones
   * count; only the decider's own subject, which no other service's user may publish on, so no one
   * else can fake its proof of life, docs/decisions/0008), the connection's state, and a tick.
   * Returns the stop.
   */
  listen(nc: NatsConnection, device: string): () => void {
    const { clock } = this.deps;
    const beats = nc.subscribe(deciderLifecycle(device), {
      callback: (_err, m) => {
        if (isFromDecider(() => decodeEvent(m.subject, m.data))) this.feed({ type: "decider-seen", at: clock.now() });
      },
    });
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === "disconnect" || s.type === "reconnecting") this.feed({ type: "bus-down", at: clock.now() });
        else if (s.type === "reconnect") this.feed({ type: "bus-up", at: clock.now() });
      }
    })();
    const tick = setInterval(() => this.feed({ type: "tick", at: clock.now() }), Math.min(1_000, Math.max(100, Math.floor(this.deps.cfg.afterMs / 4))));
    tick.unref();
    return () => {
      clearInterval(tick);
      beats.unsubscribe();
    };
  }
}

/** A valid lifecycle event (heartbeat, start, stop) of the decider's; anything else is not a sign of life. */
function isFromDecider(decode: () => VigilEvent): boolean {
  let e: VigilEvent;
  try {
    e = decode();
  } catch {
    return false; // not an event: not a sign of life either
  }
  return (is(e, "sys.service.heartbeat") || is(e, "sys.service.started") || is(e, "sys.service.stopped")) && e.data.service === "decider";
}
