/**
 * What the telemetry benchmarks read from /proc: a process's RSS and CPU time, and the processes
 * under one (vigil up's services, its nats-server and sink), named by what they run, so a drain's
 * CPU per event can be told apart by process.
 */
import { readFileSync, readdirSync } from "node:fs";

export function rssMb(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** CPU seconds (user + system, all threads) a process used so far, from /proc (0 when it is gone). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime (fields 14, 15) in clock ticks
  } catch {
    return 0;
  }
}

/** The direct children of a process (every thread's), from /proc. */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      const kids = readFileSync(`/proc/${pid}/task/${t}/children`, "utf8").trim();
      if (kids) for (const k of kids.split(/\s+/)) out.push(Number(k));
    }
  } catch {
    /* gone */
  }
  return out;
}

/**
 * What a process is, from its command line: `nats-server`, a Vigil service by its directory
 * (`services/<name>/dist/main.js` → `<name>`), `sink`, `vigil up`, or the program's base name.
 */
export function processName(pid: number): string {
  let argv: string[];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  } catch {
    return "?";
  }
  const joined = argv.join(" ");
  if (joined.includes("nats-server")) return "nats-server";
  const service = /services\/([a-z-]+)\/dist\/main\.js/.exec(joined);
  if (service) return service[1]!;
  if (/packages\/sink\/dist\/main\.js/.test(joined)) return "sink";
  if (/packages\/vigil\/dist\/main\.js/.test(joined)) return "vigil up";
  return (argv[0] ?? "?").split("/").pop()!;
}

/** A process and everything under it, each with its name. */
export function processTree(root: number): Array<{ pid: number; name: string }> {
  const out: Array<{ pid: number; name: string }> = [];
  const visit = (pid: number) => {
    out.push({ pid, name: processName(pid) });
    for (const k of childrenOf(pid)) visit(k);
  };
  visit(root);
  return out;
}

/** CPU seconds of every process of a tree, by name (several processes of one name are added up). */
export function treeCpuSeconds(root: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of processTree(root)) out.set(p.name, (out.get(p.name) ?? 0) + cpuSeconds(p.pid));
  return out;
}

/** µs of CPU per event, by name, between two snapshots (names with under 0.05 µs left out), largest first. */
export function cpuPerEvent(before: Map<string, number>, after: Map<string, number>, events: number): Record<string, number> {
  const rows: Array<[string, number]> = [];
  for (const [name, s] of after) {
    const us = Math.round((((s - (before.get(name) ?? 0)) * 1e6) / events) * 10) / 10;
    if (us >= 0.1) rows.push([name, us]);
  }
  return Object.fromEntries(rows.sort((a, b) => b[1] - a[1]));
}
