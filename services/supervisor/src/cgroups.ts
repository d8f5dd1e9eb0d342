import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { WorkerLimits } from "@vigil/events";

/**
 * Resource limits for process workers with cgroup v2 (docs/reload.md, "Limits and cgroups"): one
 * cgroup per worker under Vigil's own subtree (`<the supervisor's cgroup>/vigil-workers/<worker>`),
 * `cpu.max`, `memory.max`, `pids.max`; an OOM kill is read from the worker's `memory.events`.
 * Where cgroup v2 cannot be used, `probe()` says exactly what is missing and workers run unlimited.
 */

const NEEDED = ["cpu", "memory", "pids"] as const;
/** cpu.max's period: 100 ms, the kernel's default. */
const CPU_PERIOD_US = 100_000;

export type CgroupSupport = { ok: true; root: string } | { ok: false; reason: string };

/** Where the cgroup2 filesystem is mounted (/sys/fs/cgroup on a unified host, /sys/fs/cgroup/unified on a hybrid one). */
export function cgroup2Mount(mountinfo = "/proc/self/mountinfo"): string | undefined {
  let text: string;
  try {
    text = readFileSync(mountinfo, "utf8");
  } catch {
    return undefined;
  }
  for (const line of text.split("\n")) {
    const [pre, post] = line.split(" - ");
    if (post?.startsWith("cgroup2 ")) return pre!.split(" ")[4];
  }
  return undefined;
}

/** This process's cgroup v2 path ("0::/…" in /proc/self/cgroup). */
function ownCgroup(): string {
  const line = readFileSync("/proc/self/cgroup", "utf8").split("\n").find((l) => l.startsWith("0::"));
  return line ? line.slice(3) : "/";
}

const read = (f: string): string => readFileSync(f, "utf8").trim();

/**
 * Finds or makes Vigil's delegated subtree with the cpu, memory and pids controllers enabled. A
 * non-root cgroup holding processes cannot enable controllers for its children (the "no internal
 * processes" rule), so the supervisor first moves itself into a `supervisor` leaf of its own cgroup.
 */
export function probeCgroups(mount = cgroup2Mount()): CgroupSupport {
  if (!mount) return { ok: false, reason: "no cgroup2 filesystem is mounted (see /proc/self/mountinfo)" };
  try {
    const own = join(mount, ownCgroup());
    const available = read(join(own, "cgroup.controllers")).split(/\s+/);
    const missing = NEEDED.filter((c) => !available.includes(c));
    if (missing.length) return { ok: false, reason: `cgroup v2 at ${own} lacks the ${missing.join(", ")} controller${missing.length > 1 ? "s" : ""} (cgroup.controllers: "${available.join(" ") || "empty"}"; a hybrid v1/v2 host binds them to v1)` };
    const enable = NEEDED.map((c) => `+${c}`).join(" ");
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
    return { ok: true, root };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { ok: false, reason: `cgroup v2 at ${mount} is not writable: ${e.code ?? e.message}${e.path ? ` (${e.path})` : ""}` };
  }
}

/** One worker's cgroup: its limits written before each start, the OOM-kill count read at its exit. */
export class WorkerCgroups {
  constructor(readonly root: string) {}

  dirOf(worker: string): string {
    return join(this.root, worker);
  }

  /** Creates the worker's cgroup and writes its limits (unset ones become "max"). */
  prepare(worker: string, limits: WorkerLimits): string {
    const dir = this.dirOf(worker);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "cpu.max"), limits.cpu === undefined ? `max ${CPU_PERIOD_US}` : `${Math.max(1000, Math.round(limits.cpu * CPU_PERIOD_US))} ${CPU_PERIOD_US}`);
    writeFileSync(join(dir, "memory.max"), limits.memory === undefined ? "max" : String(limits.memory));
    // Without swap accounting off, a memory-limited worker would swap instead of being OOM-killed.
    if (existsSync(join(dir, "memory.swap.max"))) writeFileSync(join(dir, "memory.swap.max"), limits.memory === undefined ? "max" : "0");
    writeFileSync(join(dir, "pids.max"), limits.pids === undefined ? "max" : String(limits.pids));
    return dir;
  }

  /** memory.events' oom_kill counter (0 when unreadable). */
  oomKills(worker: string): number {
    try {
      const m = /^oom_kill (\d+)$/m.exec(readFileSync(join(this.dirOf(worker), "memory.events"), "utf8"));
      return m ? Number(m[1]) : 0;
    } catch {
      return 0;
    }
  }

  /** Removes an empty worker cgroup (a removed worker); a busy one stays until its processes are gone. */
  remove(worker: string): void {
    try {
      rmdirSync(this.dirOf(worker));
    } catch {
      /* not empty or already gone */
    }
  }
}
