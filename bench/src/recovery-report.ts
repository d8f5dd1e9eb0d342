// The recovery benchmark's report: the table, results/recovery.json and results/recovery.md.
import { execFileSync } from "node:child_process";
import { natsServerBinary } from "@vigil/events/testing";
import type { Summary } from "./recovery-common.js";

// ───────────────────────────── report ─────────────────────────────

export function natsVersion(): string {
  try {
    return execFileSync(natsServerBinary(), ["--version"], { encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
}

export function table(rows: Array<[string, Summary]>): string {
  const head = ["series (ms)", "n", "p50", "p95", "p99", "max", "mean"];
  const body = rows.map(([name, s]) => [name, String(s.n), ...[s.p50, s.p95, s.p99, s.max, s.mean].map((v) => v.toFixed(2))]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`;
  const sep = `|${widths.map((w, i) => (i === 0 ? "-".repeat(w + 2) : `${"-".repeat(w + 1)}:`)).join("|")}|`;
  return [line(head), sep, ...body.map(line)].join("\n");
}

export function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}

export function markdown(r: { [k: string]: any }, tbl: string): string {
  const m = r.machine;
  return `# Recovery latency

${r.date} — ${m.nproc} cores (${m.cpu}), Linux ${m.kernel}, Node ${m.node}, ${m.nats_server}; load average ${m.loadavg_start[0]} before, ${m.loadavg_end[0]} after.
${r.iterations} iterations per series after ${r.warmup} warmup iterations; nearest-rank percentiles, in milliseconds.

${tbl}

Targets: p50 ≤ ${r.targets.recovery_p50_ms} ms and p99 ≤ ${r.targets.recovery_p99_ms} ms for kill → new pid running: **${r.meets_targets ? "met" : "missed"}** (p50 ${r.recovery_p50_ms.toFixed(2)} ms, p99 ${r.recovery_p99_ms.toFixed(2)} ms).${r.first_iteration_ms ? ` The first, cold restart (discarded as warmup) took ${r.first_iteration_ms.recovery.toFixed(2)} ms.` : ""}

**What each figure measures.** *Vigil: kill → new pid running* is the recovery latency: from just before the benchmark sends SIGKILL to the worker (\`/bin/sleep\`) to the moment the supervisor's \`spawn()\` of the replacement returned a pid (the \`data.at\` it stamps on \`out.worker.restarted\`). In between, the real services run as separate processes against a real \`nats-server -js\` (file storage): the supervisor sees the exit and publishes \`obs.worker.exited\`, the decider consumes it, decides and publishes \`dec.remediation.decided\` and \`cmd.worker.restart\` (backoff 0), and the supervisor consumes the command and spawns. *kill → out.worker.restarted received* adds publishing the outcome and its delivery to the benchmark; the indented Vigil rows show when each intermediate event reached the benchmark (a core subscription on \`vigil.bench.>\`). The *JetStream floor* is the same hops with no Vigil logic — exit → \`js.publish\` → a durable pull consumer in a second process that republishes a command → a durable pull consumer in the benchmark process → \`spawn()\` — the least any design on this bus could do. The *spawn floor* is the bare cost of \`child_process.spawn\` of the same program (to \`spawn()\` returning a pid and to the \`'spawn'\` event). All times are epoch milliseconds from \`performance.timeOrigin + performance.now()\` on one machine. For scale: systemd waits \`RestartSec\`, 100 ms by default, before it even starts a failed unit again, and the process watchdog Vigil replaces polls every 5 s, so a crash waits up to 5 s before it is noticed.
`;
}
