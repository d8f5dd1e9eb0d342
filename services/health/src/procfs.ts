import { readdirSync, readFileSync, statfsSync } from "node:fs";
import { parsePidStat, readPidStat, type PidStat } from "@vigil/events";

/** Linux USER_HZ: the unit of utime/stime in /proc/<pid>/stat (100 on every mainstream architecture). */
export const CLOCK_TICKS = 100;

/** Aggregate CPU time from the first line of /proc/stat, in ticks. */
export interface CpuTimes {
  busy: number;
  total: number;
}

export function parseProcStat(text: string): CpuTimes {
  const line = text.slice(0, text.indexOf("\n"));
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  return { busy: total - idle, total };
}

export function readCpuTimes(root = "/proc"): CpuTimes {
  return parseProcStat(readFileSync(`${root}/stat`, "utf8"));
}

/** CPU % of the whole machine between two readings. */
export function cpuPercent(prev: CpuTimes, now: CpuTimes): number {
  const dt = now.total - prev.total;
  if (dt <= 0) return 0;
  return Math.max(0, Math.min(100, ((now.busy - prev.busy) / dt) * 100));
}

/** The fields of /proc/<pid>/stat health uses (the parsing is @vigil/events' parsePidStat). */
export type ProcStat = Pick<PidStat, "pid" | "comm" | "state" | "pgrp" | "cpuTicks" | "starttime">;

/** Parses /proc/<pid>/stat; the command name may contain spaces and parentheses (see parsePidStat). */
export function parseProcessStat(text: string): ProcStat | undefined {
  const s = parsePidStat(text);
  return s && healthFields(s);
}

/** undefined once the process is gone. */
export function readProcessStat(pid: number, root = "/proc"): ProcStat | undefined {
  const s = readPidStat(pid, root);
  return s && healthFields(s);
}

function healthFields(s: PidStat): ProcStat {
  return { pid: s.pid, comm: s.comm, state: s.state, pgrp: s.pgrp, cpuTicks: s.cpuTicks, starttime: s.starttime };
}

/** Every process's stat (a process that exits mid-scan is skipped). */
export function scanProcesses(root = "/proc"): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of readdirSync(root)) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const s = readProcessStat(Number(name), root);
    if (s) out.push(s);
  }
  return out;
}

/** VmRSS from /proc/<pid>/status, bytes (0 for kernel threads and zombies). */
export function readRssBytes(pid: number, root = "/proc"): number {
  try {
    const text = readFileSync(`${root}/${pid}/status`, "utf8");
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(text);
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Used % of a filesystem as df computes it (root's reserved blocks count as unavailable). */
export function diskUsedPercent(mount: string): number {
  const s = statfsSync(mount);
  const used = s.blocks - s.bfree;
  const denom = used + s.bavail;
  return denom > 0 ? (used / denom) * 100 : 0;
}

/** Memory in use, % (MemTotal − MemAvailable), from /proc/meminfo text. */
export function parseMeminfo(text: string): { totalBytes: number; availableBytes: number; usedPct: number } | undefined {
  const get = (k: string) => {
    const m = new RegExp(`^${k}:\\s+(\\d+)\\s+kB`, "m").exec(text);
    return m ? Number(m[1]) * 1024 : undefined;
  };
  const total = get("MemTotal");
  const avail = get("MemAvailable") ?? get("MemFree");
  if (!total || avail === undefined) return undefined;
  return { totalBytes: total, availableBytes: avail, usedPct: ((total - avail) / total) * 100 };
}
