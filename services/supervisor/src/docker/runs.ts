import { constants } from "node:os";
import type Docker from "dockerode";
import type { ContainerConfig } from "@vigil/events";
import type { RunStatus } from "../process-driver.js";
import type { Clock, DockerDriverEvents } from "./types.js";

/** One container run the driver owns: from its start (or adoption) until the engine reports it gone. */
export interface Run {
  id: string;
  pid: number;
  startedAt: number;
  expected: boolean;
  paused: boolean;
  exited: Promise<void>;
  resolveExit: () => void;
  stableTimer?: NodeJS.Timeout;
}

const SIGNALS = Object.entries(constants.signals) as Array<[string, number]>;

/** Docker's exit code 128+n means signal n. */
export function signalOf(code: number): string | null {
  if (code <= 128 || code > 128 + 64) return null;
  return SIGNALS.find(([, n]) => n === code - 128)?.[0] ?? null;
}

/**
 * The runs by workload name, shared by the lifecycle (which starts and stops them) and the engine's
 * event stream (which ends them). Reports started, stable and exited exactly once per run.
 */
export class RunTable {
  private readonly runs = new Map<string, Run>();

  constructor(
    private readonly workloads: ReadonlyMap<string, ContainerConfig>,
    private readonly events: DockerDriverEvents,
    private readonly clock: Clock,
  ) {}

  get(name: string): Run | undefined {
    return this.runs.get(name);
  }

  entries(): Array<[string, Run]> {
    return [...this.runs];
  }

  byId(id: string): [string, Run] | undefined {
    for (const e of this.runs) if (e[1].id === id) return e;
    return undefined;
  }

  status(name: string): { status: RunStatus; pid?: number; containerId?: string } {
    const r = this.runs.get(name);
    if (!r) return { status: "stopped" };
    return { status: r.paused ? "paused" : "running", pid: r.pid, containerId: r.id };
  }

  /** A container is running for the workload: record it, report it started, and stable after stableMs. */
  track(name: string, id: string, pid: number, paused: boolean): void {
    const c = this.workloads.get(name)!;
    let resolveExit!: () => void;
    const at = this.clock.now();
    const run: Run = { id, pid, startedAt: at, expected: false, paused, exited: new Promise((r) => (resolveExit = r)), resolveExit: () => resolveExit() };
    this.runs.set(name, run);
    run.stableTimer = setTimeout(() => {
      if (this.runs.get(name) === run) this.events.onStable(name, pid, Math.round(this.clock.now() - run.startedAt));
    }, c.restart.stableMs);
    run.stableTimer.unref();
    this.events.onStarted(name, pid, at);
  }

  /** The run's container exited: report it once (a late second report of the same run is ignored). */
  ended(name: string, run: Run, code: number | null, oom: boolean): void {
    if (this.runs.get(name) !== run) return;
    this.runs.delete(name);
    if (run.stableTimer) clearTimeout(run.stableTimer);
    this.events.onExited({
      worker: name,
      pid: run.pid,
      code,
      signal: code === null ? null : signalOf(code),
      expected: run.expected,
      uptimeMs: Math.max(0, this.clock.now() - run.startedAt),
      containerId: run.id,
      ...(oom ? { oom: true } : {}),
    });
    run.resolveExit();
  }

  /** Shutdown: no stable reports after the driver stopped watching (the runs themselves go on). */
  clearTimers(): void {
    for (const r of this.runs.values()) if (r.stableTimer) clearTimeout(r.stableTimer);
  }
}

/**
 * Asks the engine whether the run's container still runs; if not, the run ended (with the engine's exit
 * code and OOM flag). For when the event stream may have missed the exit.
 */
export async function endIfGone(docker: Docker, runs: RunTable, name: string, run: Run): Promise<void> {
  const info = await docker.getContainer(run.id).inspect().catch(() => undefined);
  if (!info?.State.Running) runs.ended(name, run, info?.State.ExitCode ?? null, info?.State.OOMKilled ?? false);
}
