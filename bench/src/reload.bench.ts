#!/usr/bin/env node
// Reload: plan + apply time for 50 declared workers with 5 changed (config change → last step's
// outcome), p50 over 20 reloads, and the cost of an unchanged reload (target: no worker touched, < 100 ms).
// A real nats-server, real processes (sleep), the supervisor in this process. Writes bench/results/reload.{json,md}.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createLogger, loadConfig, startService } from "@vigil/events";
import { startNatsServer } from "@vigil/events/testing";
import { startSupervisor, type RunningSupervisor } from "@vigil/supervisor";
import { summarize } from "./lib/stats.js";

const WORKERS = 50;
const CHANGED = 5;
const RELOADS = 20;
const results = join(dirname(fileURLToPath(import.meta.url)), "..", "results");

const srv = await startNatsServer();
const dataDir = mkdtempSync(join(tmpdir(), "vigil-reload-bench-"));
const file = join(dataDir, "vigil.yaml");
const workers = (round: number) => Array.from({ length: WORKERS }, (_, i) => ({ name: `w${i}`, command: "sleep", args: [String(i < CHANGED ? 600 + round : 600)], stopGraceMs: 2_000 }));
const write = (round: number) => writeFileSync(file, JSON.stringify({ device: "bench", dataDir, nats: { url: srv.url }, log: { level: "silent" }, workers: workers(round) }));
write(0);
let sup!: RunningSupervisor;
const svc = await startService("supervisor", loadConfig(file, {}), async (ctx) => (sup = await startSupervisor(ctx, { configPath: file, env: {} })), createLogger("bench", "silent"));
try {
  const apply: number[] = [];
  for (let round = 1; round <= RELOADS; round++) {
    write(round);
    const t0 = performance.now();
    const r = await sup.reload();
    const ms = performance.now() - t0;
    if (!r.ok || r.reports.length !== 2 * CHANGED || r.reports.some((x) => !x.ok)) throw new Error(`reload ${round}: ${JSON.stringify(r).slice(0, 400)}`);
    apply.push(ms);
  }
  const unchanged: number[] = [];
  for (let i = 0; i < RELOADS; i++) {
    const t0 = performance.now();
    const r = await sup.reload();
    unchanged.push(performance.now() - t0);
    if (!r.ok || r.steps.length !== 0) throw new Error(`an unchanged reload planned steps: ${JSON.stringify(r).slice(0, 400)}`);
  }
  const a = summarize(apply, [50, 90], 1);
  const u = summarize(unchanged, [50, 90], 1);
  const report = {
    bench: "reload",
    workers: WORKERS,
    changed: CHANGED,
    reloads: RELOADS,
    reload_apply_p50_ms: a.p50,
    reload_apply_p90_ms: a.p90,
    unchanged_reload_ms: u.p50,
    unchanged_reload_p90_ms: u.p90,
    unchanged_target_ms: 100,
    unchanged_touched_workers: 0,
    machine: { node: process.version, note: "2 cores shared with other engineers' builds and tests" },
    at: new Date().toISOString(),
  };
  mkdirSync(results, { recursive: true });
  writeFileSync(join(results, "reload.json"), JSON.stringify(report, null, 2) + "\n");
  writeFileSync(
    join(results, "reload.md"),
    `# Reload benchmark\n\n${WORKERS} declared process workers (sleep), ${CHANGED} of them changed (args) per reload, ${RELOADS} reloads; time from the config change (reload asked) to the last step's outcome (out.config.applied emitted), with a real nats-server.\n\n| measure | p50 | p90 |\n|---|---|---|\n| reload with ${CHANGED} changed (stop + start each) | ${a.p50} ms | ${a.p90} ms |\n| unchanged reload (no worker touched; target < 100 ms) | ${u.p50} ms | ${u.p90} ms |\n\nA changed worker is stopped gracefully (SIGTERM; sleep exits at once) and started again; the steps run one after another, so the time grows with the number of changed workers. An unchanged reload re-reads and validates the file, plans, and emits the plan and the end event: no step.\n\nRun: \`npm run build && node bench/dist/reload.bench.js\` (${report.at}, Node ${process.version}, 2 shared cores).\n`,
  );
  console.log(JSON.stringify(report, null, 2));
} finally {
  await svc.stop();
  await srv.cleanup();
}
