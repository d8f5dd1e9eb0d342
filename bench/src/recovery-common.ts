// Shared by the recovery benchmark's parts (recovery.bench.ts): paths, clocks, options and statistics.
import { spawn, type ChildProcess } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { choiceOption, integerOption } from "./lib/options.js";
import { summarize as summarizeStats, type Summary as StatsSummary } from "./lib/stats.js";

export const HERE = dirname(fileURLToPath(import.meta.url));
export const BENCH_DIR = resolve(HERE, "..");
export const REPO = resolve(BENCH_DIR, "..");
export const RESULTS_DIR = join(BENCH_DIR, "results");
export const VIGIL_MAIN = join(REPO, "packages", "vigil", "dist", "main.js");
export const DEMO_DIR = join(REPO, "packages", "vigil", "demo");
export const SERVICE_MAIN = {
  decider: join(REPO, "services", "decider", "dist", "main.js"),
  supervisor: join(REPO, "services", "supervisor", "dist", "main.js"),
} as const;

export const TARGETS = { recovery_p50_ms: 10, recovery_p99_ms: 40 };
export const WAIT_MS = 10_000;
export const PROGRAM = "/bin/sleep";
export const PROGRAM_ARGS = ["3600"];

/** Epoch ms with sub-ms precision: the same clock the supervisor stamps `data.at` with. */
export const now = () => performance.timeOrigin + performance.now();
export const progress = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

// ───────────────────────────── options and statistics ─────────────────────────────

export const PROFILES = ["both", "isolated", "full"] as const;
export type Profile = (typeof PROFILES)[number];

export interface Options {
  iterations: number;
  warmup: number;
  /** isolated: decider + supervisor, idle; full: `vigil up` as shipped under load; both (npm run bench). */
  profile: Profile;
  /** Full system: kills of the worker (≥ 200 asked by issue 13). */
  kills: number;
  /** Full system: pause after each recovery before the next kill. */
  gapMs: number;
  /** Full system: background events per second on the bus. */
  loadRate: number;
  /** Full system: kills of a second, traced run (where the time goes); 0 skips it. */
  traceKills: number;
}

export function parseOptions(argv: string[]): Options {
  const src = { argv };
  return {
    iterations: integerOption("iterations", "BENCH_ITERATIONS", 300, 1, src),
    warmup: integerOption("warmup", "BENCH_WARMUP", 5, 0, src),
    profile: choiceOption("profile", "BENCH_PROFILE", PROFILES, "both", src),
    kills: integerOption("kills", "BENCH_KILLS", 250, 1, src),
    gapMs: integerOption("gap-ms", "BENCH_GAP_MS", 250, 0, src),
    loadRate: integerOption("load-rate", "BENCH_LOAD_RATE", 1_000, 1, src),
    traceKills: integerOption("trace-kills", "BENCH_TRACE_KILLS", 60, 0, src),
  };
}

export type Summary = StatsSummary<50 | 95 | 99>;

export const summarize = (xs: number[]): Summary => summarizeStats(xs, [50, 95, 99], 3);

/** Rejects after ms, naming what it waited for. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      t = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

export function spawnSleep(): ChildProcess {
  return spawn(PROGRAM, PROGRAM_ARGS, { detached: true, stdio: "ignore" });
}
