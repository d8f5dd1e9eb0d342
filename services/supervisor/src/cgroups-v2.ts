import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { WorkerLimits } from "@vigil/events";
import { CPU_PERIOD_US, cpuQuotaUs, LIMIT_CONTROLLERS, removeEmptyChildren, type LimitsBackend, type LimitsSupport } from "./cgroups-backend.js";

/**
 * cgroup v2 backend: one cgroup per worker under Vigil's own subtree
 * (`<the supervisor's cgroup>/vigil-workers/<worker>`), `cpu.max`, `memory.max`, `pids.max`; an OOM
 * kill is read from the worker's `memory.events`.
 */

const read = (f: string): string => readFileSync(f, "utf8").trim();

/** The files and values for a worker's limits, in write order (unset ones become "max"). */
export function v2Settings(limits: WorkerLimits, opts: { swapFile: boolean }): Array<[file: string, value: string]> {
  const out: Array<[string, string]> = [
    ["cpu.max", limits.cpu === undefined ? `max ${CPU_PERIOD_US}` : `${cpuQuotaUs(limits.cpu)} ${CPU_PERIOD_US}`],
    ["memory.max", limits.memory === undefined ? "max" : String(limits.memory)],
  ];
  // Without swap off, a memory-limited worker would swap instead of being OOM-killed.
  if (opts.swapFile) out.push(["memory.swap.max", limits.memory === undefined ? "max" : "0"]);
  out.push(["pids.max", limits.pids === undefined ? "max" : String(limits.pids)]);
  return out;
}

/**
 * Finds or makes Vigil's delegated subtree with the cpu, memory and pids controllers enabled. A
 * non-root cgroup holding processes cannot enable controllers for its children (the "no internal
 * processes" rule), so the supervisor first moves itself into a `supervisor` leaf of its own cgroup.
 */
export function probeV2(mount: string, ownPath: string): LimitsSupport {
  try {
    const own = join(mount, ownPath);
    const available = read(join(own, "cgroup.controllers")).split(/\s+/).filter(Boolean);
    const missing = LIMIT_CONTROLLERS.filter((c) => !available.includes(c));
    if (missing.length) return { ok: false, reason: `cgroup v2 at ${own} lacks the ${missing.join(", ")} controller${missing.length > 1 ? "s" : ""} (cgroup.controllers: "${available.join(" ") || "empty"}"; a hybrid v1/v2 host binds them to v1)` };
    const enable = LIMIT_CONTROLLERS.map((c) => `+${c}`).join(" ");
    try {
      writeFileSync(join(own, "cgroup.subtree_control"), enable);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EBUSY") throw err;
      const leaf = join(own, "supervisor");
      mkdirSync(leaf, { recursive: true });
      writeFileSync(join(leaf, "cgroup.procs"), String(process.pid));
      writeFileSync(join(own, "cgroup.subtree_control"), enable);
    }
    const root = join(own, "vigil-workers");
    mkdirSync(root, { recursive: true });
    writeFileSync(join(root, "cgroup.subtree_control"), enable);
    const backend = new V2Backend(root);
    return { ok: true, backend, removed: removeEmptyChildren(root) };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { ok: false, reason: `cgroup v2 at ${mount} is not writable: ${e.code ?? e.message}${e.path ? ` (${e.path})` : ""}` };
  }
}

class V2Backend implements LimitsBackend {
  readonly kind = "cgroup v2" as const;
  constructor(readonly where: string) {}

  private dirOf(worker: string): string {
    return join(this.where, worker);
  }

  groupsOf(worker: string): string[] {
    return [this.dirOf(worker)];
  }

  place(worker: string, limits: WorkerLimits): string[] {
    const dir = this.dirOf(worker);
    mkdirSync(dir, { recursive: true });
    for (const [file, value] of v2Settings(limits, { swapFile: existsSync(join(dir, "memory.swap.max")) })) writeFileSync(join(dir, file), value);
    return [join(dir, "cgroup.procs")];
  }

  /** memory.events' oom_kill counter (0 when unreadable). */
  oomMark(worker: string): number {
    try {
      const m = /^oom_kill (\d+)$/m.exec(readFileSync(join(this.dirOf(worker), "memory.events"), "utf8"));
      return m ? Number(m[1]) : 0;
    } catch {
      return 0;
    }
  }

  oomKilled(worker: string, mark: number): boolean {
    return this.oomMark(worker) > mark;
  }

  remove(worker: string): void {
    try {
      rmdirSync(this.dirOf(worker));
    } catch {
      /* not empty or already gone */
    }
  }
}
