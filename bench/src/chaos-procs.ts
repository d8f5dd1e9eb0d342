// Finding Vigil's processes through /proc (Linux): services are `vigil up`'s children, workers the supervisor's.
import { readdirSync, readFileSync } from "node:fs";
import { readPidStat } from "@vigil/events";

export interface ProcInfo {
  pid: number;
  ppid: number;
  /** Start time in clock ticks since boot: tells a pid apart from a later process that reuses it. */
  start: number;
  state: string;
  cmdline: string[];
}

export function procInfo(pid: number): ProcInfo | undefined {
  try {
    const stat = readPidStat(pid);
    if (!stat) return undefined;
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    return { pid, ppid: stat.ppid, start: stat.starttime, state: stat.state, cmdline };
  } catch {
    return undefined;
  }
}

export function allProcs(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    const p = procInfo(Number(d));
    if (p) out.push(p);
  }
  return out;
}

/** The service a process runs, from its command line (…/services/<name>/dist/main.js). */
export function serviceOf(p: ProcInfo): string | undefined {
  for (const a of p.cmdline) {
    const m = /\/services\/([a-z-]+)\/dist\/main\.js$/.exec(a);
    if (m) return m[1];
  }
  return undefined;
}

/** The running services under `vigil up` (pid `upPid`) and the workers under its supervisor. */
export function vigilTree(upPid: number, workerMarker: string): { services: Map<string, ProcInfo>; workers: ProcInfo[] } {
  const procs = allProcs();
  const services = new Map<string, ProcInfo>();
  for (const p of procs) {
    if (p.ppid !== upPid || p.state === "Z") continue;
    const s = serviceOf(p);
    if (s) services.set(s, p);
  }
  const workers = procs.filter((p) => p.state !== "Z" && p.cmdline.some((a) => a.includes(workerMarker)));
  return { services, workers };
}

export function rssMb(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Whether this very process (same pid and start time) still exists and is not a zombie. */
export function stillAlive(p: Pick<ProcInfo, "pid" | "start">): boolean {
  const now = procInfo(p.pid);
  return now !== undefined && now.start === p.start && now.state !== "Z";
}
