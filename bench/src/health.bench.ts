#!/usr/bin/env node
/**
 * Health benchmark. In one run:
 *
 *  1. Cost of the health service: the real service (services/health/dist/main.js) as a child process
 *     against a real nats-server, sampling every 1 s and then every 5 s, with three managed workers to
 *     attribute (sleep processes announced the way the supervisor announces them), a thermal zone file
 *     and the default anomaly settings. CPU = utime+stime from /proc/<pid>/stat over the measured
 *     window (after a warm-up), as % of one core and CPU-seconds per minute; RSS from /proc/<pid>/status.
 *     A 45 s window at 5 s holds no forest retraining, so the cost of one retraining (measured here on a
 *     full window) is added, amortised over retrainEvery samples.
 *  2. Anomaly quality on synthetic metric series with injected anomalies (spikes, small spikes, slow
 *     memory leaks, stuck readings, heat), beside a static-threshold detector (the health service's
 *     default thresholds: CPU ≥ 90 %, memory ≥ 90 %, temperature ≥ 75 °C) on the same series:
 *     precision (alarmed samples inside an anomaly window), recall (windows with an alarm), detection
 *     delay (samples). The detector's threshold and noveltyZ were chosen on seeds 1–3; this reports
 *     held-out seeds. The pure forest (novelty rule off) is reported too.
 *
 * Writes results/health.json and results/health.md.
 *
 *   node dist/health.bench.js [--seconds N]     (or BENCH_HEALTH_SECONDS; default 45 per interval)
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, release, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { jetstreamManager } from "@nats-io/jetstream";
import { connectBus, createLogger, createPublisher, ensureStream, parseConfig, readPidStat } from "@vigil/events";
import { startNatsServer } from "@vigil/events/testing";
import { AnomalyDetector, ANOMALY_METRICS } from "@vigil/health";
import { evaluate, makeSeries, type Quality } from "./health-series.js";
import { positiveNumber } from "./lib/options.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const BENCH_DIR = resolve(HERE, "..");
const REPO = resolve(BENCH_DIR, "..");
const RESULTS_DIR = join(BENCH_DIR, "results");
const HEALTH_MAIN = join(REPO, "services", "health", "dist", "main.js");
const CLOCK_TICKS = 100;
const progress = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

const SECONDS = positiveNumber("seconds", "BENCH_HEALTH_SECONDS", 45);
const WARMUP_S = 6;
const TUNING_SEEDS = [1, 2, 3];
const TEST_SEEDS = [101, 102, 103];
const TARGETS = { health_cpu_pct: 1 };

/** utime + stime of a live process, in clock ticks. */
function cpuTicks(pid: number): number {
  const s = readPidStat(pid);
  if (!s) throw new Error(`process ${pid} is gone: cannot read its CPU time`);
  return s.cpuTicks;
}

function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : 0;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface CostResult {
  intervalMs: number;
  seconds: number;
  cpuPct: number;
  cpuSecondsPerMinute: number;
  rssBytes: number;
  samples: number;
}

async function measureCost(natsUrl: string, intervalMs: number, seconds: number): Promise<CostResult> {
  const dir = mkdtempSync(join(tmpdir(), "vigil-bench-health-"));
  const device = `bench-${intervalMs}`;
  mkdirSync(join(dir, "thermal", "thermal_zone0"), { recursive: true });
  writeFileSync(join(dir, "thermal", "thermal_zone0", "temp"), "48000\n");
  const config = { device, dataDir: "data", log: { level: "warn" }, health: { intervalMs, thermalDir: "thermal" }, workers: ["a", "b", "c"].map((name) => ({ name, command: "sleep", args: ["600"] })) };
  writeFileSync(join(dir, "vigil.yaml"), stringify(config));
  const workers = ["a", "b", "c"].map(() => spawn("sleep", ["600"], { stdio: "ignore" }));
  const nc = await connectBus({ url: natsUrl }, "bench");
  await ensureStream(await jetstreamManager(nc, { checkAPI: false }), parseConfig({}, { env: {} }).stream);
  const log = createLogger("bench", "silent");
  const pub = await createPublisher(nc, { device, source: `vigil/${device}/supervisor`, log });
  let child: ChildProcess | undefined;
  try {
    for (const [i, w] of workers.entries()) await pub.emit("obs.worker.started", { worker: ["a", "b", "c"][i]!, pid: w.pid!, command: "sleep 600" });
    child = spawn(process.execPath, [HEALTH_MAIN], { env: { ...process.env, VIGIL_CONFIG: join(dir, "vigil.yaml"), VIGIL_NATS_URL: natsUrl }, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr!.on("data", (d) => (err += d));
    await sleep(WARMUP_S * 1000);
    if (child.exitCode !== null) throw new Error(`health service exited: ${err}`);
    const t0 = performance.now();
    const c0 = cpuTicks(child.pid!);
    await sleep(seconds * 1000);
    const c1 = cpuTicks(child.pid!);
    const wall = (performance.now() - t0) / 1000;
    const rss = rssBytes(child.pid!);
    const cpuS = (c1 - c0) / CLOCK_TICKS;
    return { intervalMs, seconds: Math.round(wall * 10) / 10, cpuPct: (cpuS / wall) * 100, cpuSecondsPerMinute: (cpuS / wall) * 60, rssBytes: rss, samples: Math.floor(wall / (intervalMs / 1000)) };
  } finally {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    }
    for (const w of workers) w.kill("SIGKILL");
    await pub.close();
    await nc.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** CPU ms of one forest retraining on a full window (what the 5 s run does every retrainEvery samples). */
function trainingCostMs(): number {
  const a = parseConfig({}, { env: {} }).health.anomaly;
  const s = makeSeries(7, a.windowSamples + a.retrainEvery * 4);
  const d = new AnomalyDetector(ANOMALY_METRICS, { ...a, retrainEvery: 1_000_000 });
  for (const r of s.rows.slice(0, a.windowSamples)) d.push(r);
  const runs: number[] = [];
  for (let i = 0; i < 5; i++) {
    const d2 = new AnomalyDetector(ANOMALY_METRICS, { ...a, warmupSamples: a.windowSamples, retrainEvery: 1_000_000 });
    const rows = s.rows.slice(i * 10, i * 10 + a.windowSamples);
    for (const r of rows.slice(0, -1)) d2.push(r);
    const u0 = process.cpuUsage();
    d2.push(rows[rows.length - 1]!); // the push that trains
    const u = process.cpuUsage(u0);
    runs.push((u.user + u.system) / 1000);
  }
  return runs.sort((x, y) => x - y)[2]!;
}

interface Detected {
  quality: Quality;
  alarms: boolean[];
}

function runDetector(rows: number[][], settings: { threshold: number; noveltyZ: number }): boolean[] {
  const a = parseConfig({}, { env: {} }).health.anomaly;
  const d = new AnomalyDetector(ANOMALY_METRICS, { ...a, ...settings });
  return rows.map((r) => d.push(r)?.anomalous ?? false);
}

function pooled(results: Detected[]): Quality {
  // Pool over the held-out series: alarms and windows summed, then the ratios.
  let tp = 0;
  let alarms = 0;
  let windows = 0;
  let detected = 0;
  let delaySum = 0;
  const byKind: Quality["byKind"] = {};
  for (const r of results) {
    tp += Math.round(r.quality.precision * r.quality.alarms);
    alarms += r.quality.alarms;
    for (const [k, v] of Object.entries(r.quality.byKind)) {
      const b = (byKind[k] ??= { windows: 0, detected: 0 });
      b.windows += v.windows;
      b.detected += v.detected;
      windows += v.windows;
      detected += v.detected;
    }
    const det = Object.values(r.quality.byKind).reduce((x, y) => x + y.detected, 0);
    if (Number.isFinite(r.quality.delay)) delaySum += r.quality.delay * det;
  }
  return { precision: alarms ? tp / alarms : 0, recall: windows ? detected / windows : 0, delay: detected ? delaySum / detected : NaN, alarms, byKind };
}

function quality(seeds: number[]) {
  const a = parseConfig({}, { env: {} }).health.anomaly;
  const shipped: Detected[] = [];
  const forestOnly: Detected[] = [];
  const statics: Detected[] = [];
  let samples = 0;
  for (const seed of seeds) {
    const s = makeSeries(seed);
    samples += s.rows.length;
    const from = 600; // the first anomaly comes after the warm-up; count alarms from there on
    const sh = runDetector(s.rows, { threshold: a.threshold, noveltyZ: a.noveltyZ });
    shipped.push({ alarms: sh, quality: evaluate(sh, s.windows, from) });
    const fo = runDetector(s.rows, { threshold: a.threshold, noveltyZ: 0 });
    forestOnly.push({ alarms: fo, quality: evaluate(fo, s.windows, from) });
    const st = s.rows.map((r) => r[0]! >= 90 || r[1]! >= 90 || r[3]! >= 75);
    statics.push({ alarms: st, quality: evaluate(st, s.windows, from) });
    progress(`series ${seed}: detector P ${shipped.at(-1)!.quality.precision.toFixed(2)} R ${shipped.at(-1)!.quality.recall.toFixed(2)} · static P ${statics.at(-1)!.quality.precision.toFixed(2)} R ${statics.at(-1)!.quality.recall.toFixed(2)}`);
  }
  return { shipped: pooled(shipped), forestOnly: pooled(forestOnly), static: pooled(statics), samples, settings: { threshold: a.threshold, noveltyZ: a.noveltyZ, windowSamples: a.windowSamples, warmupSamples: a.warmupSamples, retrainEvery: a.retrainEvery, trees: a.trees } };
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;

async function main(): Promise<void> {
  const t0 = performance.now();
  progress("anomaly quality on held-out synthetic series");
  const q = quality(TEST_SEEDS);
  progress("one forest retraining on a full window");
  const trainMs = trainingCostMs();
  const srv = await startNatsServer();
  let cost1: CostResult;
  let cost5: CostResult;
  try {
    progress(`health service at a 1 s interval for ${SECONDS} s`);
    cost1 = await measureCost(srv.url, 1000, SECONDS);
    progress(`health service at a 5 s interval for ${SECONDS} s`);
    cost5 = await measureCost(srv.url, 5000, SECONDS);
  } finally {
    await srv.cleanup();
  }
  const a = q.settings;
  const amortised5 = (trainMs / 1000 / (a.retrainEvery * 5)) * 100;
  const amortised1 = (trainMs / 1000 / (a.retrainEvery * 1)) * 100;
  // The 1 s window (≥ 45 samples) already holds one or more retrainings; the 5 s one holds none.
  const cpu5 = cost5.cpuPct + amortised5;
  const result = {
    health_cpu_pct: r3(cpu5),
    health_cpu_pct_5s_measured: r3(cost5.cpuPct),
    health_cpu_pct_1s: r3(cost1.cpuPct),
    health_cpu_seconds_per_minute_1s: r3(cost1.cpuSecondsPerMinute),
    health_cpu_seconds_per_minute_5s: r3((cpu5 / 100) * 60),
    health_rss_mb_1s: r3(cost1.rssBytes / 1048576),
    health_rss_mb_5s: r3(cost5.rssBytes / 1048576),
    anomaly_retrain_cpu_ms: r3(trainMs),
    anomaly_retrain_amortised_pct_5s: r3(amortised5),
    anomaly_retrain_amortised_pct_1s: r3(amortised1),
    anomaly_precision: r3(q.shipped.precision),
    anomaly_recall: r3(q.shipped.recall),
    anomaly_delay_samples: r3(q.shipped.delay),
    threshold_precision: r3(q.static.precision),
    threshold_recall: r3(q.static.recall),
    threshold_delay_samples: r3(q.static.delay),
    forest_only_precision: r3(q.forestOnly.precision),
    forest_only_recall: r3(q.forestOnly.recall),
    forest_only_delay_samples: r3(q.forestOnly.delay),
    by_kind: { detector: q.shipped.byKind, forest_only: q.forestOnly.byKind, static: q.static.byKind },
    anomaly_settings: a,
    series: { tuning_seeds: TUNING_SEEDS, test_seeds: TEST_SEEDS, samples: q.samples },
    cost_runs: { "1s": cost1, "5s": cost5 },
    machine: { nproc: cpus().length, cpu: cpus()[0]?.model ?? "?", kernel: release(), node: process.version },
    date: new Date().toISOString(),
    duration_s: Math.round((performance.now() - t0) / 100) / 10,
    targets: { health_cpu_pct: "< 1 (5 s interval)", anomaly: "recall above the static threshold's at equal or better precision" },
    meets_targets: {
      cpu: cpu5 < TARGETS.health_cpu_pct,
      anomaly: q.shipped.recall > q.static.recall && q.shipped.precision >= q.static.precision,
      forest_only: q.forestOnly.recall > q.static.recall && q.forestOnly.precision >= q.static.precision,
    },
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, "health.json"), JSON.stringify(result, null, 2) + "\n");
  const kinds = Object.keys(q.static.byKind).sort();
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  const md = `# Health benchmark

${result.date} · ${result.machine.nproc} × ${result.machine.cpu} · Linux ${result.machine.kernel} · Node ${result.machine.node} · ${result.duration_s} s

## Cost of the health service

The real service as a process, a real nats-server, 3 managed workers, one thermal zone, default anomaly
settings; CPU from utime+stime over ${SECONDS} s after a ${WARMUP_S} s warm-up.

| interval | CPU (% of one core) | CPU-seconds per minute | RSS |
| --- | --- | --- | --- |
| 1 s | ${cost1.cpuPct.toFixed(3)} % | ${cost1.cpuSecondsPerMinute.toFixed(3)} | ${(cost1.rssBytes / 1048576).toFixed(1)} MiB |
| 5 s (measured) | ${cost5.cpuPct.toFixed(3)} % | ${cost5.cpuSecondsPerMinute.toFixed(3)} | ${(cost5.rssBytes / 1048576).toFixed(1)} MiB |
| 5 s + amortised retraining | **${cpu5.toFixed(3)} %** | ${((cpu5 / 100) * 60).toFixed(3)} | |

One forest retraining (${a.windowSamples} samples, ${a.trees} trees) costs ${trainMs.toFixed(1)} ms of CPU; every
${a.retrainEvery} samples that is ${amortised5.toFixed(3)} % of a core at 5 s (${amortised1.toFixed(3)} % at 1 s, already inside the 1 s
measurement). Target: below 1 % at 5 s — **${result.meets_targets.cpu ? "met" : "not met"}**.

## Anomaly quality

${q.samples} synthetic samples (held-out seeds ${TEST_SEEDS.join(", ")}; settings chosen on seeds ${TUNING_SEEDS.join(", ")}):
a daily-like cycle, noise, harmless short bursts and an hourly batch job above 90 % CPU (normal for
the device), with injected spikes, small spikes (75–80 % CPU), slow memory leaks, stuck readings and
heat. Precision: alarmed samples inside an anomaly window (+3); recall: windows with at least one alarm;
delay: samples from a window's start to its first alarm.

| detector | precision | recall | delay (samples) |
| --- | --- | --- | --- |
| **Vigil: isolation forest + novelty rule** (threshold ${a.threshold}, noveltyZ ${a.noveltyZ}) | ${pct(q.shipped.precision)} | ${pct(q.shipped.recall)} | ${q.shipped.delay.toFixed(1)} |
| isolation forest alone (noveltyZ 0) | ${pct(q.forestOnly.precision)} | ${pct(q.forestOnly.recall)} | ${q.forestOnly.delay.toFixed(1)} |
| static thresholds (CPU ≥ 90, memory ≥ 90, temperature ≥ 75) | ${pct(q.static.precision)} | ${pct(q.static.recall)} | ${q.static.delay.toFixed(1)} |

Windows detected, by kind:

| kind | windows | Vigil | forest alone | static |
| --- | --- | --- | --- | --- |
${kinds.map((k) => `| ${k} | ${q.static.byKind[k]!.windows} | ${q.shipped.byKind[k]?.detected ?? 0} | ${q.forestOnly.byKind[k]?.detected ?? 0} | ${q.static.byKind[k]!.detected} |`).join("\n")}

Target (recall above the static threshold's at equal or better precision): Vigil's detector —
**${result.meets_targets.anomaly ? "met" : "not met"}**; the isolation forest alone — **${result.meets_targets.forest_only ? "met" : "not met"}**.
The forest cannot extrapolate (its splits lie inside the training range), so values far outside
what it was trained on — heat, a frozen reader — score like the most extreme ordinary sample; the
novelty rule (a feature ≥ noveltyZ standard deviations from its training mean) covers that. See
docs/health.md.
`;
  writeFileSync(join(RESULTS_DIR, "health.md"), md);
  process.stdout.write(md);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench failed: ${(err as Error).stack}\n`);
    process.exit(1);
  },
);
