import { derivedId, traceAt, type Logger, type RestartVerdict } from "@vigil/events";
import type { Clock } from "./clock.js";
import type { DegradedMode } from "./degraded.js";
import type { Emit } from "./emit.js";
import type { ExitInfo } from "./process-driver.js";
import type { ShutdownFlag } from "./shutdown.js";
import type { WorkerIncidents } from "./worker-books.js";

export interface ExitReportingDeps {
  device: string;
  clock: Clock;
  log: Logger;
  emit: Emit;
  incidents: WorkerIncidents;
  degraded: DegradedMode;
  shutdown: ShutdownFlag;
}

/**
 * Turns the drivers' exits and stable runs into observations at once. An unexpected exit carries
 * the worker's incident (or a new one); in degraded mode it also carries the reflex's verdict, so
 * the decider, reading it later, records the incident instead of restarting the worker a second time.
 */
export class ExitReporting {
  constructor(private readonly deps: ExitReportingDeps) {}

  readonly exited = (info: ExitInfo & { oom?: boolean; containerId?: string }): void => {
    const { device, clock, log, emit, incidents, degraded, shutdown } = this.deps;
    const { error, ...rest } = info;
    const now = clock.now();
    traceAt("sup.exited");
    const pid = String(info.pid ?? "nopid");
    const incident = info.expected ? undefined : (incidents.get(info.worker) ?? derivedId(device, info.worker, pid, String(now), "incident"));
    if (incident) incidents.set(info.worker, incident);
    const exitId = derivedId(device, "exit", info.worker, pid, String(now));
    const decisions = degraded.feed({ type: "exit", at: now, worker: info.worker, exitId, expected: info.expected, stopping: shutdown.stopping(), incident, previousPid: info.pid });
    const reflex = verdictOf(decisions);
    void emit("obs.worker.exited", { ...rest, uptimeMs: Math.round(info.uptimeMs), ...(error ? { error } : {}), ...(reflex ? { reflex } : {}) }, { id: exitId, time: new Date(now).toISOString(), incident });
    // After the event is on its way: the line (with the worker's last lines) is a synchronous write of a few KB.
    log.info({ ...info }, info.expected ? "worker stopped" : info.oom ? "container killed by the OOM killer" : "worker exited unexpectedly");
  };

  readonly stable = (worker: string, pid: number, uptimeMs: number): void => {
    const incident = this.deps.incidents.end(worker);
    this.deps.degraded.feed({ type: "stable", worker });
    void this.deps.emit("obs.worker.stable", { worker, pid, uptimeMs }, { incident });
  };
}

/** The reflex's verdict on the exit being reported (not on an earlier one it answered late). */
function verdictOf(decisions: ReturnType<DegradedMode["feed"]>): RestartVerdict | undefined {
  for (const d of decisions) if ((d.type === "reflex-restart" || d.type === "crash-loop") && !d.late) return d.verdict;
  return undefined;
}
