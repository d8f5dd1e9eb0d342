import { readdirSync, readFileSync, statfsSync } from "node:fs";

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

/** The fields of /proc/<pid>/stat Vigil uses. */
export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  pgrp: number;
  /** utime + stime, ticks. */
  cpuTicks: number;
  /** Start time after boot, ticks: with the pid, identifies one process across pid reuse. */
  starttime: number;
}

/** Parses /proc/<pid>/stat; the command name may contain spaces and parentheses, so split at the last ')'. */
export function parseProcessStat(text: string): ProcStat | undefined {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) return undefined;
  const rest = text.slice(close + 2).split(" ");
  const pid = Number(text.slice(0, open).trim());
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(pid) || !Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return { pid, comm: text.slice(open + 1, close), state: rest[0] ?? "?", pgrp: Number(rest[2]), cpuTicks: utime + stime, starttime: Number(rest[19]) };
}

export function readProcessStat(pid: number, root = "/proc"): ProcStat | undefined {
  try {
    return parseProcessStat(readFileSync(`${root}/${pid}/stat`, "utf8"));
  } catch {
    return undefined; // gone
  }
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
