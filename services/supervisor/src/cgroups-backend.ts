import { readdirSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import type { WorkerLimits } from "@vigil/events";

/** What both limits backends share (cgroups.ts chooses one; cgroups-v1.ts, cgroups-v2.ts implement it). */

export const LIMIT_CONTROLLERS = ["cpu", "memory", "pids"] as const;
/** The CFS period (cpu.max in v2, cpu.cfs_period_us in v1): 100 ms, the kernel's default. */
export const CPU_PERIOD_US = 100_000;

/** One way of enforcing limits: per worker a group made before each start, read at its exit, removed after. */
export interface LimitsBackend {
  readonly kind: "cgroup v2" | "cgroup v1";
  /** Where the workers' groups are (said at start). */
  readonly where: string;
  /**
   * Makes the worker's group(s) and writes its limits; returns the `cgroup.procs` files the worker
   * writes its own pid into before it execs (spawnThroughGroups), so the limits hold from its first instruction.
   */
  place(worker: string, limits: WorkerLimits): string[];
  /** A mark taken at start, compared at exit by `oomKilled` (like memory.events' oom_kill count). */
  oomMark(worker: string): number;
  /** The kernel's OOM killer ended this run of the worker (mark: `oomMark` at its start). */
  oomKilled(worker: string, mark: number, signal: string | null): boolean;
  /** The worker's group directories (one in v2, one per hierarchy in v1), whether they exist or not. */
  groupsOf(worker: string): string[];
  /** Removes the worker's empty group(s); a busy one (a child that outlived it) stays. */
  remove(worker: string): void;
}

/** `removed`: empty worker groups a killed supervisor left, removed at this start. */
export type LimitsSupport = { ok: true; backend: LimitsBackend; removed: string[] } | { ok: false; reason: string };
/** cpu cores → the quota per CFS period (the kernel refuses less than 1 ms). */
export function cpuQuotaUs(cpu: number): number {
  return Math.max(1000, Math.round(cpu * CPU_PERIOD_US));
}

/** rmdir of every child group; busy ones (processes still in them) stay. Returns the removed names. */
export function removeEmptyChildren(dir: string): string[] {
  const removed: string[] = [];
  let names: string[] = [];
  try {
    names = readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    return removed;
  }
  for (const n of names) {
    try {
      rmdirSync(join(dir, n));
      removed.push(n);
    } catch {
      /* busy: a live worker (or a child of a dead one) is in it */
    }
  }
  return removed;
}

