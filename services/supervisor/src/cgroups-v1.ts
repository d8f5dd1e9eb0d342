import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { WorkerLimits } from "@vigil/events";
import { CPU_PERIOD_US, cpuQuotaUs, LIMIT_CONTROLLERS, removeEmptyChildren, type LimitsBackend, type LimitsSupport } from "./cgroups-backend.js";

/**
 * cgroup v1 backend, for hybrid hosts whose cpu, memory and pids controllers are bound to v1
 * hierarchies (/sys/fs/cgroup/{cpu,memory,pids}): per worker a group `vigil-<device>/<worker>` below
 * the supervisor's own group in each of the three hierarchies, with `memory.limit_in_bytes` (and
 * `memory.memsw.limit_in_bytes`, so swap does not dodge the limit), `cpu.cfs_quota_us` per
 * `cpu.cfs_period_us` and `pids.max`. An OOM kill is read from `memory.oom_control`'s `oom_kill`
 * (kernels ≥ 4.13), or on older kernels from a grown `memory.failcnt` together with a SIGKILL exit.
 */

type Controller = (typeof LIMIT_CONTROLLERS)[number];

/**
 * A process's group on disk in a hierarchy mounted at `mount` whose root is `root`: a container sees
 * its own cgroup as the mount's root (without a cgroup namespace /proc/self/cgroup still shows the
 * full path). Undefined when the process's group is outside what the mount shows.
 */
export function groupOnDisk(mount: string, root: string, own: string): string | undefined {
  if (root === "/") return own === "/" ? mount : mount + own;
  if (own === root) return mount;
  if (own.startsWith(root + "/")) return mount + own.slice(root.length);
  return undefined;
}

/**
 * The files and values for a worker's limits, in write order; unset limits become unlimited (-1, max).
 * memsw must stay ≥ limit_in_bytes at every write, so it is opened first and closed to the limit last.
 */
export function v1Settings(limits: WorkerLimits, opts: { memswFile: boolean }): Array<[controller: Controller, file: string, value: string]> {
  const out: Array<[Controller, string, string]> = [];
  const memory = limits.memory === undefined ? "-1" : String(limits.memory);
  if (opts.memswFile) out.push(["memory", "memory.memsw.limit_in_bytes", "-1"]);
  out.push(["memory", "memory.limit_in_bytes", memory]);
  if (opts.memswFile && limits.memory !== undefined) out.push(["memory", "memory.memsw.limit_in_bytes", memory]);
  out.push(["cpu", "cpu.cfs_period_us", String(CPU_PERIOD_US)]);
  out.push(["cpu", "cpu.cfs_quota_us", limits.cpu === undefined ? "-1" : String(cpuQuotaUs(limits.cpu))]);
  out.push(["pids", "pids.max", limits.pids === undefined ? "max" : String(limits.pids)]);
  return out;
}

/** The OOM counter of a memory.oom_control text: `oom_kill N`, undefined on kernels that lack it. */
export function oomKillCount(oomControl: string): number | undefined {
  const m = /^oom_kill (\d+)$/m.exec(oomControl);
  return m ? Number(m[1]) : undefined;
}

/**
 * Vigil's subtree `vigil-<device>` below its own group in each needed v1 hierarchy, made if missing
 * (that is the writability test); empty worker groups a killed supervisor left there are removed.
 */
export function probeV1(mounts: Record<string, { mount: string; root: string }>, own: Record<string, string>, device: string): LimitsSupport {
  const missing = LIMIT_CONTROLLERS.filter((c) => !mounts[c]);
  if (missing.length) return { ok: false, reason: `cgroup v1 has no ${missing.join(", ")} hierarch${missing.length > 1 ? "ies" : "y"} mounted (see /proc/self/mountinfo)` };
  const subtrees = {} as Record<Controller, string>;
  for (const c of LIMIT_CONTROLLERS) {
    const { mount, root } = mounts[c]!;
    const base = groupOnDisk(mount, root, own[c] ?? "/");
    if (!base) return { ok: false, reason: `cgroup v1 ${c}: this process's group ${own[c]} is outside the hierarchy mounted at ${mount} (root ${root})` };
    subtrees[c] = join(base, `vigil-${device}`);
    try {
      mkdirSync(subtrees[c], { recursive: true });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      return { ok: false, reason: `cgroup v1 ${c} hierarchy at ${mount} is not writable: ${e.code ?? e.message} (${subtrees[c]})` };
    }
  }
  const removed = new Set(LIMIT_CONTROLLERS.flatMap((c) => removeEmptyChildren(subtrees[c])));
  return { ok: true, backend: new V1Backend(subtrees), removed: [...removed] };
}

class V1Backend implements LimitsBackend {
  readonly kind = "cgroup v1" as const;
  readonly where: string;
  constructor(private readonly subtrees: Record<Controller, string>) {
    this.where = LIMIT_CONTROLLERS.map((c) => subtrees[c]).join(", ");
  }

  private dirOf(c: Controller, worker: string): string {
    return join(this.subtrees[c], worker);
  }

  groupsOf(worker: string): string[] {
    return LIMIT_CONTROLLERS.map((c) => this.dirOf(c, worker));
  }

  place(worker: string, limits: WorkerLimits): string[] {
    for (const c of LIMIT_CONTROLLERS) mkdirSync(this.dirOf(c, worker), { recursive: true });
    const memswFile = existsSync(join(this.dirOf("memory", worker), "memory.memsw.limit_in_bytes"));
    for (const [c, file, value] of v1Settings(limits, { memswFile })) writeFileSync(join(this.dirOf(c, worker), file), value);
    return LIMIT_CONTROLLERS.map((c) => join(this.dirOf(c, worker), "cgroup.procs"));
  }

  /** oom_kill when the kernel counts it, else memory.failcnt (times the limit was hit); 0 when unreadable. */
  private oomCounter(worker: string): { exact: boolean; n: number } {
    const dir = this.dirOf("memory", worker);
    try {
      const n = oomKillCount(readFileSync(join(dir, "memory.oom_control"), "utf8"));
      if (n !== undefined) return { exact: true, n };
      return { exact: false, n: Number(readFileSync(join(dir, "memory.failcnt"), "utf8").trim()) || 0 };
    } catch {
      return { exact: true, n: 0 };
    }
  }

  oomMark(worker: string): number {
    return this.oomCounter(worker).n;
  }

  /** Without oom_kill, a limit hit alone is only reclaim: it counts as an OOM kill with a SIGKILL exit. */
  oomKilled(worker: string, mark: number, signal: string | null): boolean {
    const c = this.oomCounter(worker);
    return c.n > mark && (c.exact || signal === "SIGKILL");
  }

  remove(worker: string): void {
    for (const c of LIMIT_CONTROLLERS) {
      try {
        rmdirSync(this.dirOf(c, worker));
      } catch {
        /* not empty (a child outlived the worker) or already gone */
      }
    }
  }
}
