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

type Report = { [k: string]: any };

const ISOLATED_ROWS: Array<[string, string]> = [
  ["Vigil: kill → new pid running", "vigil_recovery"],
  ["Vigil: kill → out.worker.restarted received", "vigil_event"],
  ["  kill → obs.worker.exited received", "vigil_exit_seen"],
  ["  kill → dec.remediation.decided received", "vigil_decision_seen"],
  ["  kill → cmd.worker.restart received", "vigil_command_seen"],
  ["JetStream floor: kill → respawned", "jetstream_floor"],
  ["  floor: kill → 'exit' seen by the parent", "jetstream_floor_exit_seen"],
  ["  floor: kill → command consumed", "jetstream_floor_command_seen"],
  ["spawn floor: spawn() returned", "spawn_returned"],
  ["spawn floor: 'spawn' event", "spawn_event"],
];

const FULL_ROWS: Array<[string, string]> = [
  ["full system: kill → new pid seen in /proc", "proc_seen"],
  ["  kill → spawn() returned (supervisor's data.at)", "spawn_returned"],
  ["  kill → exit handled (obs.worker.exited time, ms)", "exit_stamped"],
  ["  kill → obs.worker.exited received", "exit_seen"],
  ["  kill → cmd.worker.restart received", "command_seen"],
  ["  kill → out.worker.restarted received", "outcome_seen"],
  ["JetStream floor, same server, same load", "jetstream_floor"],
  ["  floor: kill → command consumed", "jetstream_floor_command_seen"],
];

const rowsOf = (defs: Array<[string, string]>, series: Record<string, Summary> | undefined): Array<[string, Summary]> =>
  defs.filter(([, k]) => series?.[k]).map(([name, k]) => [name, series![k]!]);

const verdict = (r: Report, p50: number, p99: number) =>
  `Targets: p50 ≤ ${r.targets.recovery_p50_ms} ms and p99 ≤ ${r.targets.recovery_p99_ms} ms: **${p50 <= r.targets.recovery_p50_ms && p99 <= r.targets.recovery_p99_ms ? "met" : "missed"}** (p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms)`;

const machineLine = (m: Report, date: string) =>
  `${date} — ${m.nproc} cores (${m.cpu}), Linux ${m.kernel}, Node ${m.node}, ${m.nats_server}; load average ${m.loadavg_start[0]} before, ${m.loadavg_end[0]} after.`;

function fullSection(r: Report, tbl: string): string {
  const f = r.full_system;
  const s = f.series;
  const gap = (a: string, b: string) => (s[b].p50 - s[a].p50).toFixed(2);
  return `## Full system: \`vigil up\` as shipped, under load

${machineLine(r.full_system_machine, r.full_system_date)}
${f.kills} kills after ${f.warmup} warmup kills, ${f.gap_ms} ms apart; background traffic ${f.load.acked_per_s} events/s acknowledged (target ${f.load_events_per_s_target}; ${f.load.failed} failed, ${f.load.skipped} skipped); nearest-rank percentiles, in milliseconds.

${tbl}

${verdict(r, r.full_system_recovery_p50_ms, r.full_system_recovery_p99_ms)} for kill → new pid seen in \`/proc\`, against a JetStream floor of p50 ${r.full_system_floor_p50_ms.toFixed(2)} ms, p99 ${r.full_system_floor_p99_ms.toFixed(2)} ms measured on the same server under the same load.

Median gaps along the chain: kill → exit received ${s.exit_seen.p50.toFixed(2)} ms; exit received → command received ${gap("exit_seen", "command_seen")} ms (the decider's hop); command received → spawn() returned ${gap("command_seen", "spawn_returned")} ms (the supervisor's hop); spawn() returned → seen in /proc ${gap("spawn_returned", "proc_seen")} ms (the watch's resolution, ${f.proc_polls_per_kill} looks per kill).

**What it runs.** \`vigil up -q --config <bench config>\`: the embedded nats-server with one bus user per service, every service (decider, supervisor, health sampling every 1 s, gateway, telemetry forwarding to the local sink \`vigil up\` starts, netmon, alerts), the durability barrier \`vigil up\` runs for its own server, the demo's \`sensor\` worker with the demo's restart policy, and the bench's \`victim\` (\`/bin/sleep\`, backoff 0, no breaker: a crash-loop window of 1 ms). A separate process (recovery-load.ts) publishes \`obs.demo.reading\` on the device's subjects as admin at the load rate the whole time, so the decider, telemetry and the other consumers read it. **How it is measured.** The bench SIGKILLs the victim and watches \`/proc/<supervisor>/task/*/children\` (one look per timer turn, ≈ 1 ms) until a new child runs the victim's command line: that moment, on the bench's clock, is the recovery. The supervisor's own stamp (\`out.worker.restarted\` \`data.at\`) and the arrival of each event of the causation chain at an admin subscription are shown beside it, to see where the time goes. The floor is the isolated bench's JetStream floor (exit → publish → relay process → publish → consumer → spawn) run on the same embedded server while the same load runs.
`;
}

function isolatedSection(r: Report, tbl: string): string {
  return `## Isolated: decider + supervisor, idle

${machineLine(r.machine, r.date)}
${r.iterations} iterations per series after ${r.warmup} warmup iterations; nearest-rank percentiles, in milliseconds.

${tbl}

${verdict(r, r.recovery_p50_ms, r.recovery_p99_ms)} for kill → new pid running.${r.first_iteration_ms ? ` The first, cold restart (discarded as warmup) took ${r.first_iteration_ms.recovery.toFixed(2)} ms.` : ""}

**What each figure measures.** *Vigil: kill → new pid running* is the recovery latency: from just before the benchmark sends SIGKILL to the worker (\`/bin/sleep\`) to the moment the supervisor's \`spawn()\` of the replacement returned a pid (the \`data.at\` it stamps on \`out.worker.restarted\`). In between, the real services run as separate processes against a real \`nats-server -js\` (file storage, no bus users, no barrier): the supervisor sees the exit and publishes \`obs.worker.exited\`, the decider consumes it, decides and publishes \`dec.remediation.decided\` and \`cmd.worker.restart\` (backoff 0), and the supervisor consumes the command and spawns. *kill → out.worker.restarted received* adds publishing the outcome and its delivery to the benchmark; the indented Vigil rows show when each intermediate event reached the benchmark (a core subscription on \`vigil.bench.>\`). The *JetStream floor* is the same hops with no Vigil logic — exit → \`js.publish\` → a durable pull consumer in a second process that republishes a command → a durable pull consumer in the benchmark process → \`spawn()\` — the least any design on this bus could do. The *spawn floor* is the bare cost of \`child_process.spawn\` of the same program. All times are epoch milliseconds from \`performance.timeOrigin + performance.now()\` on one machine. For scale: systemd waits \`RestartSec\`, 100 ms by default, before it even starts a failed unit again, and the process watchdog Vigil replaces polls every 5 s.
`;
}

/** The report: both profiles' tables (from the JSON's series) and how each figure is computed. */
export function markdown(r: Report): { md: string; tables: string } {
  const parts: string[] = [];
  const tables: string[] = [];
  if (r.full_system) {
    const tbl = table(rowsOf(FULL_ROWS, r.full_system.series));
    tables.push(`Full system (kill → new pid in /proc), ms\n${tbl}`);
    parts.push(fullSection(r, tbl), WHERE_THE_TIME_WENT);
  }
  if (r.series) {
    const tbl = table(rowsOf(ISOLATED_ROWS, r.series));
    tables.push(`Isolated (decider + supervisor, idle), ms\n${tbl}`);
    parts.push(isolatedSection(r, tbl));
  }
  return { md: `# Recovery latency\n\n${parts.join("\n")}`, tables: tables.join("\n\n") };
}

/** What profiling the full system found (issue 13), and what was changed: written down, not generated. */
const WHERE_THE_TIME_WENT = `## Where the time went in the full system, and what changed

(filled in below)
`;
