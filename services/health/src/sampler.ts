import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import si from "systeminformation";
import type { DataOf } from "@vigil/events";
import { CLOCK_TICKS, cpuPercent, diskUsedPercent, parseMeminfo, readCpuTimes, readRssBytes, scanProcesses, type CpuTimes } from "./procfs.js";
import { readThermalZones, type ThermalReading } from "./thermal.js";
import type { WorkerPids } from "./workers.js";

export type SampleData = DataOf<"obs.health.sample">;

export interface Problem {
  what: string;
  path?: string;
  error: string;
}

export interface SamplerOptions {
  thermalDir: string;
  /** Mount points to watch. */
  disks: string[];
  intervalMs: number;
  /** Where /proc is (tests). */
  procRoot?: string;
  /** Temperature when no thermal zone exists: systeminformation, asked at most once a minute. */
  temperatureFallback?: () => Promise<number | null>;
}

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

/** systeminformation's CPU temperature (hwmon, vcgencmd …), for boards without thermal zones. */
export async function siTemperature(): Promise<number | null> {
  try {
    const t = await si.cpuTemperature();
    return typeof t.main === "number" && Number.isFinite(t.main) ? t.main : null;
  } catch {
    return null;
  }
}

/** Real filesystems to watch (systeminformation once at start; `df` is too costly per sample). */
export async function discoverMounts(): Promise<string[]> {
  const skip = new Set(["tmpfs", "devtmpfs", "squashfs", "ramfs", "proc", "sysfs", "efivarfs", "devfs", "autofs", "overlay"]);
  try {
    const fss = await si.fsSize();
    const mounts = [...new Set(fss.filter((f) => f.mount.startsWith("/") && !skip.has(f.type)).map((f) => f.mount))];
    return mounts.length ? mounts : ["/"];
  } catch {
    return ["/"];
  }
}

/**
 * One sample per call, from cheap reads: /proc/stat (CPU), /proc/meminfo (memory; systeminformation
 * where there is no /proc), statfs (disks), the thermal zone files, and one pass over /proc/<pid>/stat
 * for every process (per-worker CPU by process group, and the busiest process on the device).
 */
export class Sampler {
  private prevCpu: CpuTimes | undefined;
  private prevProcs = new Map<number, { ticks: number; starttime: number }>();
  private prevUptime: number | undefined;
  private fallbackTemp: { at: number; value: number | null } | undefined;
  readonly selfPid = process.pid;

  constructor(private readonly o: SamplerOptions) {}

  private root(): string {
    return this.o.procRoot ?? "/proc";
  }

  private uptimeSeconds(): number {
    return Number(readFileSync(`${this.root()}/uptime`, "utf8").split(" ")[0]);
  }

  private async temperature(thermal: ThermalReading): Promise<number | null> {
    if (!thermal.missing || !this.o.temperatureFallback) return thermal.tempC;
    const now = Date.now();
    if (!this.fallbackTemp || now - this.fallbackTemp.at > 60_000) this.fallbackTemp = { at: now, value: await this.o.temperatureFallback() };
    return this.fallbackTemp.value;
  }

  async sample(workers: WorkerPids): Promise<{ data: SampleData; problems: Problem[] }> {
    const problems: Problem[] = [];
    const root = this.root();

    const cpuNow = readCpuTimes(root);
    const cpuPct = this.prevCpu ? cpuPercent(this.prevCpu, cpuNow) : 0;
    this.prevCpu = cpuNow;

    let memPct: number;
    try {
      memPct = parseMeminfo(readFileSync(`${root}/meminfo`, "utf8"))?.usedPct ?? 0;
    } catch {
      const m = await si.mem();
      memPct = m.total ? ((m.total - m.available) / m.total) * 100 : 0;
    }

    const thermal = readThermalZones(this.o.thermalDir);
    for (const p of thermal.problems) problems.push({ what: "thermal", path: p.path, error: p.error });
    const tempC = await this.temperature(thermal);

    const disks: SampleData["disks"] = [];
    for (const mount of this.o.disks) {
      try {
        disks.push({ mount, usedPct: round(diskUsedPercent(mount)) });
      } catch (err) {
        problems.push({ what: "disk", path: mount, error: `statfs failed: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
      }
    }

    // Per-process CPU since the last sample (a pid whose start time changed is a new process).
    const uptime = this.uptimeSeconds();
    const elapsed = this.prevUptime !== undefined ? uptime - this.prevUptime : this.o.intervalMs / 1000;
    const procs = scanProcesses(root);
    const next = new Map<number, { ticks: number; starttime: number }>();
    const usage: Array<{ pid: number; pgrp: number; comm: string; pct: number }> = [];
    for (const p of procs) {
      next.set(p.pid, { ticks: p.cpuTicks, starttime: p.starttime });
      const before = this.prevProcs.get(p.pid);
      let dTicks: number;
      if (before && before.starttime === p.starttime) dTicks = p.cpuTicks - before.ticks;
      else if (this.prevUptime !== undefined && p.starttime / CLOCK_TICKS >= this.prevUptime - 0.01) dTicks = p.cpuTicks; // born since the last sample
      else dTicks = 0;
      const pct = this.prevUptime !== undefined && elapsed > 0 ? (dTicks / CLOCK_TICKS / elapsed) * 100 : 0;
      usage.push({ pid: p.pid, pgrp: p.pgrp, comm: p.comm, pct });
    }
    this.prevProcs = next;
    this.prevUptime = uptime;

    const byPid = new Map(Object.entries(workers).map(([name, w]) => [w.pid, name]));
    const workerOfProc = (u: { pid: number; pgrp: number }) => byPid.get(u.pid) ?? byPid.get(u.pgrp);
    const workerStats: SampleData["workers"] = [];
    for (const [name, w] of Object.entries(workers)) {
      const members = usage.filter((u) => u.pid === w.pid || u.pgrp === w.pid);
      if (!members.some((m) => m.pid === w.pid)) continue; // gone: the supervisor will say so
      const cpu = members.reduce((a, m) => a + m.pct, 0);
      const rss = members.reduce((a, m) => a + readRssBytes(m.pid, root), 0);
      workerStats.push({ worker: name, pid: w.pid, cpuPct: round(cpu), rssBytes: rss });
    }
    const busiest = usage.filter((u) => u.pct > 0).sort((a, b) => b.pct - a.pct);
    const top = busiest[0];
    const describe = (u: (typeof usage)[number]) => {
      const worker = workerOfProc(u);
      return { pid: u.pid, name: u.comm.slice(0, 64), cpuPct: round(u.pct), ...(worker ? { worker } : {}) };
    };
    const hot = busiest.filter((u) => u.pct >= 50).slice(0, 5).map(describe);

    const data: SampleData = {
      cpuPct: round(cpuPct),
      load1: round(loadavg()[0] ?? 0, 2),
      memPct: round(memPct),
      tempC: tempC === null ? null : round(tempC),
      disks,
      workers: workerStats,
      ...(top ? { top: describe(top) } : {}),
      ...(hot.length ? { hot } : {}),
      intervalMs: this.o.intervalMs,
    };
    return { data, problems };
  }
}
