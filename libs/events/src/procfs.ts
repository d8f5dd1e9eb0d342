import { readFileSync } from "node:fs";

/** The fields of `/proc/<pid>/stat` (proc(5)) Vigil's services, tests and benches read. */
export interface PidStat {
  pid: number;
  /** The command name, without the parentheses around it (it may itself hold spaces and parentheses). */
  comm: string;
  /** R running, S sleeping, D disk wait, T stopped, Z zombie, X dead, … */
  state: string;
  ppid: number;
  pgrp: number;
  /** User-mode CPU time, clock ticks (USER_HZ). */
  utime: number;
  /** Kernel-mode CPU time, clock ticks. */
  stime: number;
  /** utime + stime, clock ticks. */
  cpuTicks: number;
  /** Start time after boot, clock ticks: with the pid, identifies one process across pid reuse. */
  starttime: number;
  /** Resident set size, pages. */
  rssPages: number;
}

/**
 * Parses one `/proc/<pid>/stat` line; undefined when it is not one. The command name sits between
 * the first '(' and the LAST ')' (a name like "a) b (c" is legal), so the fields are counted from
 * after that last ')': field 3 (state) is the first of them.
 */
export function parsePidStat(text: string): PidStat | undefined {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) return undefined;
  const rest = text.slice(close + 2).trimEnd().split(" ");
  const pid = Number(text.slice(0, open).trim());
  const field = (n: number) => Number(rest[n - 3]);
  const utime = field(14);
  const stime = field(15);
  if (!Number.isInteger(pid) || !Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return {
    pid,
    comm: text.slice(open + 1, close),
    state: rest[0] || "?",
    ppid: field(4),
    pgrp: field(5),
    utime,
    stime,
    cpuTicks: utime + stime,
    starttime: field(22),
    rssPages: field(24),
  };
}

/** Reads `<root>/<pid>/stat`; undefined once the process is gone (or the line is unreadable). */
export function readPidStat(pid: number, root = "/proc"): PidStat | undefined {
  let text: string;
  try {
    text = readFileSync(`${root}/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  return parsePidStat(text);
}
