#!/usr/bin/env node
/**
 * Soak of an unattended device (issue 14, Benchmark): `node bench/dist/soak.bench.js --minutes 60
 * --warmup-minutes 10 --sample-seconds 60` (or SOAK_MINUTES, SOAK_WARMUP_MINUTES, SOAK_SAMPLE_SECONDS).
 *
 * Runs `vigil up` as a user does (embedded nats-server, one bus user per service) with the demo
 * sensor worker, health sampling every 1 s, 100 events/s of background traffic published as admin,
 * the worker killed (-9) every minute and the cloud (a local sink this harness owns) away for 10 of
 * the minutes. Every sample: RSS (VmRSS) and open file descriptors of every service, nats-server and
 * vigil up itself, read from /proc. At the end: the least-squares RSS slope (MB per hour) over the
 * samples after the warm-up, per process, the data dir's bytes and the logs' bytes against their caps.
 * bench/results/soak.json and soak.md are rewritten after every sample, so a run cut short still
 * leaves its samples.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { jetstream } from "@nats-io/jetstream";
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import { CLOUDEVENTS_CONTENT_TYPE, DEFAULT_SERVICE_MEMORY, encodeEvent, makeEvent } from "@vigil/events";
import { freePort } from "@vigil/events/testing";
import type { SinkProcess } from "@vigil/sink";
import { allProcs, rssMb, stillAlive, vigilTree, type ProcInfo } from "./chaos-procs.js";
import { REPO, RESULTS_DIR, SECRET, chaosSink, sleep, VIGIL_MAIN, waitFor } from "./chaos-harness.js";
import { optionText, positiveNumber } from "./lib/options.js";

const HELP = `usage: node bench/dist/soak.bench.js [--minutes N] [--warmup-minutes N] [--sample-seconds N] [--out-dir DIR] [--note TEXT]

  --minutes N          how long vigil up runs (default 60; SOAK_MINUTES)
  --warmup-minutes N   samples before this are not fitted (default 10; SOAK_WARMUP_MINUTES)
  --sample-seconds N   RSS and fds sampled this often (default 60; SOAK_SAMPLE_SECONDS)
  --out-dir DIR        where soak.json and soak.md go (default bench/results; SOAK_OUT_DIR):
                       a short exploratory run should not overwrite the committed report
  --note TEXT          said in the report (why a run differs from the issue's; SOAK_NOTE)
  SOAK_LOG_LEVEL=debug  services also log their memory by kind after each heap compaction;
                       SOAK_KEEP=1 keeps the run dir (its logs) afterwards
`;
if (process.argv.includes("--help") || process.argv.includes("-h")) {
  process.stdout.write(HELP);
  process.exit(0);
}
const OUT_DIR = optionText("out-dir", "SOAK_OUT_DIR") ?? RESULTS_DIR;
const MINUTES = positiveNumber("minutes", "SOAK_MINUTES", 60);
/** Warm-up minutes: 0 is valid (the smoke run), which positiveNumber refuses. */
function warmupMinutes(): number {
  const v = optionText("warmup-minutes", "SOAK_WARMUP_MINUTES");
  if (v === undefined) return 10;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || n >= MINUTES) throw new Error(`--warmup-minutes (or SOAK_WARMUP_MINUTES) must be a number ≥ 0 and below --minutes (${MINUTES}), got "${v}"`);
  return n;
}
const WARMUP_MINUTES = warmupMinutes();
const SAMPLE_S = positiveNumber("sample-seconds", "SOAK_SAMPLE_SECONDS", 60);
const CLOUD_AWAY_MIN = Math.min(10, MINUTES / 3);
/** Said in the report as given: why a run differs from the issue's (e.g. shorter than 60 minutes). */
const NOTE = optionText("note", "SOAK_NOTE");
const RATE = 100;
const CRASH_EVERY_MS = 60_000;
const HEALTH_INTERVAL_MS = 1_000;
const DEVICE = "soak-001";
const SLOPE_LIMIT_MB_PER_H = 2;
const DEMO_SENSOR = join(REPO, "packages", "vigil", "demo", "sensor.js");

const t0 = Date.now();
const progress = (msg: string) => process.stderr.write(`soak ${((Date.now() - t0) / 1000).toFixed(0).padStart(5)} s: ${msg}\n`);

/** One process's samples: [seconds since the load started, RSS MB, open fds]. */
interface Series {
  name: string;
  pid: number;
  samples: Array<[number, number, number]>;
}

/** Least-squares slope of y over x (x in seconds, y in MB), as MB per hour; undefined below 2 points. */
export function slopeMbPerHour(points: Array<[number, number]>): number | undefined {
  if (points.length < 2) return undefined;
  const n = points.length;
  const mx = points.reduce((a, p) => a + p[0], 0) / n;
  const my = points.reduce((a, p) => a + p[1], 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  return sxx === 0 ? undefined : (sxy / sxx) * 3600;
}

function fdCount(pid: number): number | undefined {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return undefined;
  }
}

/** Bytes of every file under dir (recursive); files that vanish mid-walk count 0. */
function dirBytes(dir: string, match: (f: string) => boolean = () => true): number {
  let total = 0;
  let entries: import("node:fs").Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += dirBytes(p, match);
    else if (e.isFile() && match(e.name)) {
      try {
        total += statSync(p).size;
      } catch {
        /* rotated away while walking */
      }
    }
  }
  return total;
}

/** The config a user would write: the demo sensor, health at 1 s, every cap at its default. */
function writeConfig(dir: string): { configFile: string; sensor: string } {
  const sensor = join(dir, "sensor.js"); // a copy: its path tells this run's worker from anyone else's
  copyFileSync(DEMO_SENSOR, sensor);
  const configFile = join(dir, "vigil.yaml");
  writeFileSync(
    configFile,
    stringify({
      device: DEVICE,
      dataDir: "data",
      gateway: { port: 0 },
      health: { intervalMs: HEALTH_INTERVAL_MS },
      workers: [{ name: "sensor", command: process.execPath, args: [sensor], essential: false, restart: { backoffBaseMs: 100, backoffFactor: 2, backoffCapMs: 30_000, maxRestarts: 5, windowMs: 60_000, stableMs: 10_000 } }],
    }),
  );
  return { configFile, sensor };
}

/** 100 events/s of obs.demo.reading, paced by the clock, at most 2,000 in flight (the rest skipped). */
function startLoad(nc: NatsConnection) {
  const js = jetstream(nc);
  const h = headers();
  h.set("Content-Type", CLOUDEVENTS_CONTENT_TYPE);
  const stats = { generated: 0, acked: 0, failed: 0, skipped: 0, inflight: 0 };
  const started = Date.now();
  const timer = setInterval(() => {
    const due = Math.floor(((Date.now() - started) / 1000) * RATE) - stats.generated - stats.skipped;
    for (let i = 0; i < due; i++) {
      if (stats.inflight >= 2_000) {
        stats.skipped += due - i;
        break;
      }
      const e = makeEvent(DEVICE, `vigil/${DEVICE}/soak-load`, "obs.demo.reading", { sensor: "load", seq: stats.generated, value: Math.random() });
      stats.generated++;
      stats.inflight++;
      js.publish(e.subject, encodeEvent(e), { msgID: e.id, headers: h, timeout: 5_000 }).then(
        () => (stats.acked++, stats.inflight--),
        () => (stats.failed++, stats.inflight--),
      );
    }
  }, 100);
  return { stats, stop: () => clearInterval(timer) };
}

interface RunState {
  series: Map<string, Series>;
  loads: number[];
  events: Array<{ atS: number; what: string }>;
  load?: ReturnType<typeof startLoad>["stats"];
  final?: Record<string, unknown>;
  partial: boolean;
  runDir: string;
}

/** Per process name: the incarnation with the most samples after the warm-up, its slope and fd maximum. */
function figures(st: RunState) {
  const warm = WARMUP_MINUTES * 60;
  const byName = new Map<string, Series[]>();
  for (const s of st.series.values()) byName.set(s.name, [...(byName.get(s.name) ?? []), s]);
  const out: Record<string, { rss_slope_mb_per_h: number | null; fd_max: number; rss_first_mb: number; rss_last_mb: number; rss_max_mb: number; samples_after_warmup: number; incarnations: number; pid: number }> = {};
  for (const [name, list] of [...byName].sort()) {
    const after = (s: Series) => s.samples.filter((p) => p[0] >= warm);
    const best = list.reduce((a, b) => (after(b).length > after(a).length ? b : a));
    const pts = after(best);
    const slope = slopeMbPerHour(pts.map((p) => [p[0], p[1]]));
    const all = list.flatMap((s) => s.samples);
    out[name] = {
      rss_slope_mb_per_h: slope === undefined ? null : Math.round(slope * 100) / 100,
      fd_max: Math.max(...all.map((p) => p[2])),
      rss_first_mb: pts[0]?.[1] ?? NaN,
      rss_last_mb: pts.at(-1)?.[1] ?? NaN,
      rss_max_mb: Math.max(...all.map((p) => p[1])),
      samples_after_warmup: pts.length,
      incarnations: list.length,
      pid: best.pid,
    };
  }
  return out;
}

function writeReport(st: RunState): void {
  const per = figures(st);
  const slopes = Object.values(per).map((p) => p.rss_slope_mb_per_h).filter((s): s is number => s !== null);
  const flat = slopes.length > 0 && slopes.every((s) => s < SLOPE_LIMIT_MB_PER_H);
  const meanLoad = st.loads.length ? Math.round((st.loads.reduce((a, b) => a + b, 0) / st.loads.length) * 100) / 100 : null;
  const result = {
    soak_minutes: MINUTES,
    warmup_minutes: WARMUP_MINUTES,
    sample_seconds: SAMPLE_S,
    partial: st.partial,
    note: NOTE ?? null,
    slope_limit_mb_per_h: SLOPE_LIMIT_MB_PER_H,
    flat,
    rss_slope_mb_per_h: Object.fromEntries(Object.entries(per).map(([k, v]) => [k, v.rss_slope_mb_per_h])),
    fd_max: Object.fromEntries(Object.entries(per).map(([k, v]) => [k, v.fd_max])),
    data_dir_bytes: (st.final?.data_dir_bytes as number | undefined) ?? null,
    details: {
      per_process: per,
      load_average_1m: { mean: meanLoad, min: st.loads.length ? Math.min(...st.loads) : null, max: st.loads.length ? Math.max(...st.loads) : null, cores: 2 },
      traffic: { rate_per_s: RATE, ...st.load },
      health_interval_ms: HEALTH_INTERVAL_MS,
      worker_crash_every_s: CRASH_EVERY_MS / 1000,
      cloud_away_minutes: Math.round(CLOUD_AWAY_MIN * 100) / 100,
      cloud_away_s: Math.round(CLOUD_AWAY_MIN * 60),
      timeline: st.events,
      end: st.final ?? null,
      samples: Object.fromEntries([...st.series].map(([k, s]) => [k, s.samples])),
      run_dir: st.runDir,
    },
  };
  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(join(OUT_DIR, "soak.json"), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(join(OUT_DIR, "soak.md"), markdown(result, per));
}

function markdown(r: any, per: ReturnType<typeof figures>): string {
  const rows = Object.entries(per)
    .map(([k, v]) => `| ${k} | ${v.rss_slope_mb_per_h ?? "–"} | ${v.rss_first_mb} → ${v.rss_last_mb} (max ${v.rss_max_mb}) | ${v.fd_max} | ${v.samples_after_warmup} | ${v.incarnations} |`)
    .join("\n");
  const e = r.details.end;
  const la = r.details.load_average_1m;
  return `# Soak of an unattended device (issue 14)

Generated by bench/src/soak.bench.ts: \`node bench/dist/soak.bench.js --minutes ${r.soak_minutes} --warmup-minutes ${r.warmup_minutes} --sample-seconds ${r.sample_seconds}\`.
${r.partial ? "\n**PARTIAL: the run has not finished (or was stopped); the figures are over the samples written so far.**\n" : ""}
**${r.flat ? "FLAT" : "NOT FLAT"}**: ${r.flat ? "every" : "not every"} process's RSS slope after the warm-up is below ${r.slope_limit_mb_per_h} MB per hour.
${r.note ? `\nNote: ${r.note}\n` : ""}

## What ran

\`vigil up\` as the unit \`vigil install\` writes starts it (\`node --max-old-space-size=${DEFAULT_SERVICE_MEMORY.maxOldSpaceMb} --max-semi-space-size=${DEFAULT_SERVICE_MEMORY.maxSemiSpaceMb}${DEFAULT_SERVICE_MEMORY.compactEverySeconds > 0 ? " --expose-gc" : ""}\`; embedded nats-server, one bus user per service, each service with \`serviceMemory:\` at its defaults, so a full GC every ${DEFAULT_SERVICE_MEMORY.compactEverySeconds} s), the demo sensor worker,
health sampling every ${r.details.health_interval_ms} ms, ${r.details.traffic.rate_per_s} events/s of \`obs.demo.reading\` published as admin,
the worker killed with SIGKILL every ${r.details.worker_crash_every_s} s, and the cloud (a local sink owned by the harness) stopped for
${r.details.cloud_away_minutes} minutes (${r.details.cloud_away_s} s) in the middle of the measured window. Every cap (stream, logs) at its default.

## How each figure is computed

- **RSS**: \`VmRSS\` from \`/proc/<pid>/status\`, every ${r.sample_seconds} s, for each service (a child of \`vigil up\` running \`services/<name>/dist/main.js\`), the embedded nats-server and \`vigil up\` itself.
- **rss_slope_mb_per_h**: the least-squares slope of RSS (MB) against time over the samples taken at or after the ${r.warmup_minutes}-minute warm-up, × 3600 s. If a service was restarted, the incarnation with the most samples after the warm-up is used (incarnations column).
- **fd_max**: the largest number of entries in \`/proc/<pid>/fd\` (what \`ls /proc/<pid>/fd | wc -l\` counts) over all samples.
- **data_dir_bytes**: the sum of the sizes of every file under the data dir at the end, before \`vigil up\` is stopped.
- **logs bytes**: the sum of every \`*.log*\` file under the data dir's log folders (services' and workers'), against \`logs.maxTotalBytes\`.
- **load average**: the 1-minute load average (\`os.loadavg()\`) at each sample; the machine has 2 cores shared with other work.

## Per process

| process | rss_slope_mb_per_h | RSS MB after warm-up: first → last | fd_max | samples after warm-up | incarnations |
| --- | --- | --- | --- | --- | --- |
${rows}

## At the end

| figure | value |
| --- | --- |
| data_dir_bytes | ${e?.data_dir_bytes ?? "–"} |
| nats store bytes (cap: stream.maxBytes ${e?.stream_max_bytes ?? "–"}) | ${e?.nats_store_bytes ?? "–"} |
| logs bytes (cap: logs.maxTotalBytes ${e?.logs_max_total_bytes ?? "–"}) | ${e?.logs_bytes ?? "–"} ${e ? (e.logs_within_cap ? "(within)" : "(OVER)") : ""} |
| vigil up exit after SIGTERM | ${e?.exit ? JSON.stringify(e.exit) : "–"} |
| processes left behind | ${e?.orphans ?? "–"} |
| load average (1 min) mean / min / max | ${la.mean} / ${la.min} / ${la.max} |
| traffic generated / acked / failed / skipped | ${r.details.traffic.generated ?? "–"} / ${r.details.traffic.acked ?? "–"} / ${r.details.traffic.failed ?? "–"} / ${r.details.traffic.skipped ?? "–"} |

## Timeline

${r.details.timeline.map((t: any) => `- ${t.atS} s: ${t.what}`).join("\n")}
`;
}

/** Start `vigil up` on the config; resolves when every service is running. */
async function startUp(configFile: string, sink: SinkProcess, busPort: number, outFile: string, sensor: string) {
  const env: NodeJS.ProcessEnv = { ...process.env, VIGIL_TELEMETRY_URL: `${sink.base}/v1/events`, VIGIL_TELEMETRY_SECRET: SECRET, VIGIL_LOG_LEVEL: process.env.SOAK_LOG_LEVEL ?? "info" };
  delete env.VIGIL_NATS_URL;
  // As the unit `vigil install` writes starts it: vigil up's own heap bounded like its services' (docs/unattended.md).
  const m = DEFAULT_SERVICE_MEMORY;
  // As the unit vigil install writes (packages/vigil service-memory.ts serviceNodeArgs).
  const nodeFlags = [`--max-old-space-size=${m.maxOldSpaceMb}`, `--max-semi-space-size=${m.maxSemiSpaceMb}`, ...(m.compactEverySeconds > 0 ? ["--expose-gc"] : [])];
  const up = spawn(process.execPath, [...nodeFlags, VIGIL_MAIN, "up", "-q", "--config", configFile, "--port", String(busPort)], { env, stdio: ["ignore", "pipe", "pipe"] });
  const state = { text: "", exit: undefined as { code: number | null; signal: string | null } | undefined };
  const onOut = (d: Buffer) => {
    state.text += d.toString();
    if (state.text.length > 1_000_000) state.text = state.text.slice(-100_000);
    appendFileSync(outFile, d);
  };
  up.stdout!.on("data", onOut);
  up.stderr!.on("data", onOut);
  up.once("exit", (code, signal) => (state.exit = { code, signal }));
  await waitFor("vigil up to say it is running", () => state.text.includes("vigil: running"), 120_000, 200);
  await waitFor("the services and the worker to be up", () => {
    const t = vigilTree(up.pid!, sensor);
    return t.services.size >= 6 && t.workers.length > 0;
  }, 60_000, 500);
  return { up, state };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "vigil-soak-"));
  const dataDir = join(dir, "data");
  const { configFile, sensor } = writeConfig(dir);
  const st: RunState = { series: new Map(), loads: [], events: [], partial: true, runDir: dir };
  const sink = chaosSink(await freePort(), join(dir, "sink"), join(dir, "sink.log"));
  await sink.start();
  cleanup = () => sink.stop();
  const busPort = await freePort();
  const { up, state } = await startUp(configFile, sink, busPort, join(dir, "vigil-up.out"), sensor);
  const stopAll = async () => {
    if (!state.exit) up.kill("SIGKILL");
    await sink.stop();
  };
  cleanup = stopAll;
  process.once("SIGTERM", () => void stopAll().then(() => process.exit(143)));
  process.once("SIGINT", () => void stopAll().then(() => process.exit(130)));
  progress(`vigil up (pid ${up.pid}) running; run dir ${dir}; ${MINUTES} min, warm-up ${WARMUP_MINUTES} min, sample every ${SAMPLE_S} s`);
  const admin = JSON.parse(readFileSync(join(dataDir, "creds", "admin.json"), "utf8")) as { user: string; pass: string };
  const nc = await connect({ servers: `nats://127.0.0.1:${busPort}`, user: admin.user, pass: admin.pass, name: "soak-load", maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  const load = startLoad(nc);
  st.load = load.stats;
  const loadStart = Date.now();
  const atS = () => Math.round((Date.now() - loadStart) / 1000);
  const seen = new Map<string, ProcInfo>();

  const sample = () => {
    const tree = vigilTree(up.pid!, sensor);
    const procs: Array<[string, ProcInfo | { pid: number; start: number }]> = [...tree.services];
    const nats = allProcs().find((p) => p.ppid === up.pid && p.state !== "Z" && p.cmdline[0]?.endsWith("nats-server"));
    if (nats) procs.push(["nats-server", nats]);
    procs.push(["vigil up", { pid: up.pid!, start: 0 }]);
    for (const [name, p] of procs) {
      if ("cmdline" in p) seen.set(`${name}#${p.pid}`, p as ProcInfo);
      const mb = rssMb(p.pid);
      const fds = fdCount(p.pid);
      if (mb === undefined || fds === undefined) continue;
      const key = `${name}#${p.pid}:${p.start}`;
      let s = st.series.get(key);
      if (!s) st.series.set(key, (s = { name, pid: p.pid, samples: [] }));
      s.samples.push([atS(), Math.round(mb * 10) / 10, fds]);
    }
    for (const w of tree.workers) seen.set(`worker#${w.pid}`, w);
    st.loads.push(Math.round(loadavg()[0]! * 100) / 100);
    writeReport(st);
  };
  sample();
  const sampler = setInterval(sample, SAMPLE_S * 1000);
  const crash = () => {
    const w = vigilTree(up.pid!, sensor).workers[0];
    if (!w) return void st.events.push({ atS: atS(), what: "worker crash: no worker running, skipped" });
    process.kill(w.pid, "SIGKILL");
    st.events.push({ atS: atS(), what: `worker sensor killed -9 (pid ${w.pid})` });
  };
  // Every minute, half a minute out of step with the samples (so a 1-minute smoke run crashes it too).
  let crasher: NodeJS.Timeout | undefined;
  const firstCrash = setTimeout(() => (crash(), (crasher = setInterval(crash, CRASH_EVERY_MS))), CRASH_EVERY_MS / 2);
  const reporter = setInterval(() => progress(`traffic ${JSON.stringify(load.stats)}; ${st.events.length} events on the timeline`), 60_000);

  // The cloud away for CLOUD_AWAY_MIN, centred in the measured window (after the warm-up).
  const awayAtMs = (WARMUP_MINUTES + (MINUTES - WARMUP_MINUTES - CLOUD_AWAY_MIN) / 2) * 60_000;
  await sleep(Math.max(0, loadStart + awayAtMs - Date.now()));
  await sink.stop();
  st.events.push({ atS: atS(), what: `cloud sink stopped for ${Math.round(CLOUD_AWAY_MIN * 60)} s` });
  progress("cloud away");
  await sleep(CLOUD_AWAY_MIN * 60_000);
  await sink.start();
  st.events.push({ atS: atS(), what: "cloud sink back" });
  progress("cloud back");
  await sleep(Math.max(0, loadStart + MINUTES * 60_000 - Date.now()));

  clearTimeout(firstCrash);
  clearInterval(crasher);
  clearInterval(reporter);
  clearInterval(sampler);
  sample();
  load.stop();
  await finish(st, { up, state, sink, nc, dataDir, configFile, seen: [...seen.values()], dir });
}

/** The end: sizes against the caps, then SIGTERM vigil up and look for anything left behind. */
async function finish(st: RunState, r: { up: ChildProcess; state: { exit?: { code: number | null; signal: string | null } }; sink: SinkProcess; nc: NatsConnection; dataDir: string; configFile: string; seen: ProcInfo[]; dir: string }) {
  const logDirsList = [join(r.dataDir, "logs"), join(r.dataDir, "supervisor", "logs")];
  const logsBytes = logDirsList.reduce((a, d) => a + dirBytes(d, (f) => /\.log/.test(f)), 0);
  const logsCap = 200 * 1024 * 1024; // logs.maxTotalBytes default (the config leaves it unset)
  const streamCap = 1024 * 1024 * 1024; // stream.maxBytes default
  const end: Record<string, unknown> = {
    data_dir_bytes: dirBytes(r.dataDir),
    nats_store_bytes: dirBytes(join(r.dataDir, "nats")),
    stream_max_bytes: streamCap,
    logs_bytes: logsBytes,
    logs_max_total_bytes: logsCap,
    logs_within_cap: logsBytes <= logsCap,
  };
  await r.nc.close().catch(() => undefined);
  const termAt = Date.now();
  r.up.kill("SIGTERM");
  await waitFor("vigil up to exit", () => r.state.exit !== undefined, 120_000, 200).catch((err: Error) => progress(err.message));
  end.exit = r.state.exit ?? null;
  end.shutdown_s = Math.round((Date.now() - termAt) / 100) / 10;
  await sleep(2_000);
  const orphans = r.seen.filter((p) => stillAlive(p));
  end.orphans = orphans.length;
  for (const p of orphans) process.kill(p.pid, "SIGKILL");
  if (!r.state.exit) r.up.kill("SIGKILL");
  await r.sink.stop();
  st.final = end;
  st.partial = false;
  writeReport(st);
  progress(`done: ${JSON.stringify(end)}; report bench/results/soak.json and soak.md`);
  if (!process.env.SOAK_KEEP) rmSync(r.dir, { recursive: true, force: true });
}

/** Undone on failure too: nothing this harness started may outlive it. */
let cleanup: () => Promise<void> = async () => undefined;

main().catch(async (err) => {
  process.stderr.write(`soak: ${(err as Error).stack ?? err}\n`);
  await cleanup().catch(() => undefined);
  process.exit(1);
});
