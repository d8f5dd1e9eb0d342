#!/usr/bin/env node
/**
 * Recovery-latency benchmark. In one run, side by side:
 *
 *  1. Vigil end to end: a real nats-server -js, the real decider and supervisor as separate processes
 *     (as `vigil up` runs them), one worker (/bin/sleep) with zero backoff. Each iteration SIGKILLs the
 *     worker and waits for the supervisor's `out.worker.restarted`; it records kill → new pid running
 *     (the outcome's `data.at`, taken right after spawn) and kill → outcome event received here.
 *  2. Spawn floor: what spawning the same program from Node costs, nothing else.
 *  3. JetStream floor: the same hops with no Vigil logic: exit → js.publish → durable pull consumer
 *     in a second process → js.publish a command → durable pull consumer here → spawn.
 *
 *  4. The full system (--profile full, recovery-full.ts): `vigil up` as shipped under 1,000 events/s
 *     of background traffic, the worker killed ≥ 200 times, the new pid seen in /proc, and the
 *     JetStream floor measured on the same server under the same load.
 *
 * Prints the tables, writes results/recovery.json and results/recovery.md (a run of one profile keeps
 * the other profile's figures from the report on disk).
 *
 *   node dist/recovery.bench.js [--profile both|isolated|full] [--iterations N] [--warmup N]
 *                               [--kills N] [--gap-ms N] [--load-rate N] [--trace-kills N]
 *   (or BENCH_PROFILE, BENCH_ITERATIONS, BENCH_WARMUP, BENCH_KILLS, BENCH_GAP_MS, BENCH_LOAD_RATE)
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg, release, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, StorageType, type ConsumerMessages } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { natsServerBinary, startNatsServer, type TestNatsServer } from "@vigil/events/testing";
import { Cleanup } from "./recovery-cleanup.js";
import { exitWithUsageIfAsked } from "./lib/options.js";
import { now, parseOptions, PROGRAM, PROGRAM_ARGS, progress, RESULTS_DIR, SERVICE_MAIN, summarize, TARGETS, WAIT_MS, withTimeout, type Options, type Summary } from "./recovery-common.js";
import { jetstreamFloor, spawnFloor, type JetStreamFloor, type SpawnFloor } from "./recovery-floors.js";
import { fullSystem, summarizeFull } from "./recovery-full.js";
import { markdown, natsVersion, round } from "./recovery-report.js";
import { EventTap, T } from "./recovery-tap.js";

exitWithUsageIfAsked(`
usage: node bench/dist/recovery.bench.js [--profile both|isolated|full] [--iterations N] [--warmup N]
                                         [--kills N] [--gap-ms N] [--load-rate N] [--trace-kills N]

  --profile P      isolated (decider + supervisor, idle), full (vigil up as shipped under load) or both (default)
  --iterations N   kills in the isolated profile and each floor (default 300; BENCH_ITERATIONS)
  --warmup N       discarded first iterations (default 5; BENCH_WARMUP)
  --kills N        kills in the full-system profile (default 250; BENCH_KILLS)
  --gap-ms N       pause between full-system kills (default 250; BENCH_GAP_MS)
  --load-rate N    background events/s during the full-system profile (default 1000; BENCH_LOAD_RATE)
  --trace-kills N  kills of a second, traced full-system run: where the time goes along the path
                   (default 60; BENCH_TRACE_KILLS; 0 skips it)

Writes bench/results/recovery.json and recovery.md (a run of one profile keeps the other's figures).
`);

// ───────────────────────────── 1. Vigil end to end ─────────────────────────────

interface VigilRun {
  /** kill → new pid running (the outcome's data.at, stamped by the supervisor right after spawn). */
  recovery: number[];
  /** kill → out.worker.restarted received here. */
  event: number[];
  /** Where the time goes, each as kill → that event received here. */
  exitSeen: number[];
  decisionSeen: number[];
  commandSeen: number[];
  /** The first (cold) iteration, before warmup is discarded. */
  first?: { recovery: number; event: number };
}


async function vigilEndToEnd(o: Options, url: string, cleanup: Cleanup): Promise<VigilRun> {
  const dir = cleanup.dir(mkdtempSync(join(tmpdir(), "vigil-bench-")));
  const configFile = join(dir, "vigil.yaml");
  const dataDir = join(dir, "data");
  cleanup.registry(join(dataDir, "supervisor", "pids.json"));
  // JSON is YAML: no YAML writer needed.
  writeFileSync(
    configFile,
    JSON.stringify(
      {
        device: "bench",
        dataDir,
        workers: [
          {
            name: "target",
            command: PROGRAM,
            args: PROGRAM_ARGS,
            // Backoff 0: every restart is immediate. A crash-loop window of 1 ms: the breaker never trips.
            restart: { backoffBaseMs: 0, backoffFactor: 1, backoffCapMs: 0, maxRestarts: 1_000_000, windowMs: 1, stableMs: 3_600_000 },
          },
        ],
      },
      null,
      2,
    ),
  );

  const nc = cleanup.connection(await connect({ servers: url, name: "bench-watch" }));
  const tap = new EventTap(nc, "vigil.bench.>");
  await nc.flush();

  const started = tap.waitFor("obs.worker.started of target", (e) => e.type === T("obs.worker.started") && e.data.worker === "target", 30_000);
  const servicesUp = ["decider", "supervisor"].map((s) =>
    tap.waitFor(`sys.service.started of ${s}`, (e) => e.type === T("sys.service.started") && e.data.service === s, 30_000),
  );

  // As production (`vigil up`) runs them: one process each, config and bus from the environment.
  const env = { ...process.env, VIGIL_CONFIG: configFile, VIGIL_NATS_URL: url, VIGIL_LOG_LEVEL: "warn", VIGIL_DATA_DIR: dataDir };
  let died: (err: Error) => void = () => undefined;
  const death = new Promise<never>((_, reject) => (died = reject));
  death.catch(() => undefined);
  for (const name of ["decider", "supervisor"] as const) {
    const child = cleanup.child(name, spawn(process.execPath, [SERVICE_MAIN[name]], { env, stdio: ["ignore", "inherit", "inherit", "ipc"] }));
    child.channel?.unref();
    child.once("exit", (code, signal) => died(new Error(`the ${name} exited during the benchmark (${signal ?? `code ${code}`})`)));
  }
  const [first] = await Promise.race([Promise.all([started, ...servicesUp]), death]);
  let pid = first.e.data.pid as number;
  cleanup.group(pid);

  // One iteration at a time; the causation chain (exited → command → outcome) ties events to it.
  let cur:
    | {
        killed: number;
        exitId?: string;
        exitAt?: number;
        decisionAt?: number;
        cmdId?: string;
        cmdAt?: number;
        done: (r: { at: number; outAt: number; pid: number }) => void;
        fail: (err: Error) => void;
      }
    | undefined;
  const off = tap.on((e, at) => {
    const c = cur;
    if (!c) return;
    switch (e.type) {
      case T("obs.worker.exited"):
        if (e.data.worker === "target" && e.data.pid === c.killed) {
          c.exitId = e.id;
          c.exitAt = at;
        }
        break;
      case T("dec.remediation.decided"):
        if (c.exitId && e.causation === c.exitId) c.decisionAt = at;
        break;
      case T("cmd.worker.restart"):
        if (c.exitId && e.causation === c.exitId) {
          c.cmdId = e.id;
          c.cmdAt = at;
        }
        break;
      case T("out.worker.restarted"):
        if (c.cmdId && e.causation === c.cmdId) c.done({ at: e.data.at, outAt: at, pid: e.data.pid });
        break;
      case T("dec.incident.escalated"):
        c.fail(new Error(`the decider escalated instead of restarting: ${e.data.reason}`));
        break;
      case T("out.command.failed"):
      case T("out.command.rejected"):
        if (c.cmdId && e.data.command === c.cmdId) c.fail(new Error(`restart command ${e.type}: ${JSON.stringify(e.data)}`));
        break;
    }
  });

  const out: VigilRun = { recovery: [], event: [], exitSeen: [], decisionSeen: [], commandSeen: [] };
  try {
    for (let i = 0; i < o.warmup + o.iterations; i++) {
      const killed = pid;
      const done = new Promise<{ at: number; outAt: number; pid: number }>((res, rej) => (cur = { killed, done: res, fail: rej }));
      const t0 = now();
      process.kill(killed, "SIGKILL");
      const r = await Promise.race([withTimeout(done, WAIT_MS, `out.worker.restarted after killing pid ${killed} (iteration ${i})`), death]).catch((err: Error) => {
        throw new Error(`${err.message}; last events:\n  ${tap.recent.join("\n  ")}`);
      });
      const c = cur!;
      cur = undefined;
      if (!r.pid || r.pid === killed) throw new Error(`iteration ${i}: the outcome names pid ${r.pid}, not a new one`);
      if (typeof r.at !== "number") throw new Error(`iteration ${i}: the outcome has no data.at`);
      cleanup.forget(killed);
      pid = r.pid;
      cleanup.group(pid);
      if (i === 0) out.first = { recovery: r.at - t0, event: r.outAt - t0 };
      if (i < o.warmup) continue;
      out.recovery.push(r.at - t0);
      out.event.push(r.outAt - t0);
      out.exitSeen.push(c.exitAt! - t0);
      out.decisionSeen.push((c.decisionAt ?? c.cmdAt!) - t0);
      out.commandSeen.push(c.cmdAt! - t0);
      const n = i + 1 - o.warmup;
      if (n % 50 === 0) progress(`vigil ${n}/${o.iterations}: last kill → new pid ${(r.at - t0).toFixed(2)} ms`);
    }
  } finally {
    off();
  }
  return out;
}

/** The isolated series (decider + supervisor only, idle, beside the spawn and JetStream floors): the report's original keys. */
async function isolatedProfile(o: Options): Promise<Record<string, unknown>> {
  const cleanup = new Cleanup();
  let spawnRes: SpawnFloor;
  let floor: JetStreamFloor;
  let vigil: VigilRun;
  try {
    progress("spawn floor …");
    spawnRes = await spawnFloor(o, cleanup);
    cleanup.nats = await startNatsServer();
    progress(`nats-server at ${cleanup.nats.url}, store ${cleanup.nats.storeDir}`);
    progress("JetStream floor …");
    floor = await jetstreamFloor(o, cleanup.nats.url, cleanup);
    progress("Vigil end to end …");
    vigil = await vigilEndToEnd(o, cleanup.nats.url, cleanup);
  } finally {
    await cleanup.run();
  }
  const s = {
    recovery: summarize(vigil.recovery),
    event: summarize(vigil.event),
    exitSeen: summarize(vigil.exitSeen),
    decisionSeen: summarize(vigil.decisionSeen),
    commandSeen: summarize(vigil.commandSeen),
    spawn: summarize(spawnRes.returned),
    spawnEvent: summarize(spawnRes.spawnEvent),
    floor: summarize(floor.total),
    floorExit: summarize(floor.exitSeen),
    floorCommand: summarize(floor.commandSeen),
  };
  return {
    recovery_p50_ms: s.recovery.p50,
    recovery_p95_ms: s.recovery.p95,
    recovery_p99_ms: s.recovery.p99,
    recovery_event_p50_ms: s.event.p50,
    recovery_event_p95_ms: s.event.p95,
    recovery_event_p99_ms: s.event.p99,
    spawn_p50_ms: s.spawn.p50,
    spawn_p99_ms: s.spawn.p99,
    spawn_event_p50_ms: s.spawnEvent.p50,
    jetstream_floor_p50_ms: s.floor.p50,
    jetstream_floor_p95_ms: s.floor.p95,
    jetstream_floor_p99_ms: s.floor.p99,
    jetstream_floor_note: "exit → js.publish → durable pull consumer in a separate relay process (publish, then ack) → js.publish command → durable pull consumer in the bench process → spawn; file storage, ≈500-byte payloads, no validation or state",
    iterations: o.iterations,
    warmup: o.warmup,
    first_iteration_ms: vigil.first ? { recovery: round(vigil.first.recovery), event: round(vigil.first.event) } : undefined,
    series: {
      vigil_recovery: s.recovery,
      vigil_event: s.event,
      vigil_exit_seen: s.exitSeen,
      vigil_decision_seen: s.decisionSeen,
      vigil_command_seen: s.commandSeen,
      jetstream_floor: s.floor,
      jetstream_floor_exit_seen: s.floorExit,
      jetstream_floor_command_seen: s.floorCommand,
      spawn_returned: s.spawn,
      spawn_event: s.spawnEvent,
    },
    meets_targets: s.recovery.p50 <= TARGETS.recovery_p50_ms && s.recovery.p99 <= TARGETS.recovery_p99_ms,
  };
}

/** The full-system profile (recovery-full.ts): `vigil up` as shipped, under load, the new pid seen in /proc. */
async function fullProfile(o: Options): Promise<Record<string, unknown>> {
  const r = await fullSystem(o);
  const s = summarizeFull(r);
  let traced: Awaited<ReturnType<typeof fullSystem>> | undefined;
  if (o.traceKills > 0) {
    progress(`full system, traced: ${o.traceKills} more kills on a second vigil up whose services write trace points …`);
    traced = await fullSystem({ ...o, kills: o.traceKills }, true);
  }
  return {
    full_system_recovery_p50_ms: s.procSeen!.p50,
    full_system_recovery_p95_ms: s.procSeen!.p95,
    full_system_recovery_p99_ms: s.procSeen!.p99,
    full_system_floor_p50_ms: s.floor!.p50,
    full_system_floor_p95_ms: s.floor!.p95,
    full_system_floor_p99_ms: s.floor!.p99,
    full_system: {
      kills: r.kills,
      warmup: o.warmup,
      gap_ms: o.gapMs,
      load_events_per_s_target: o.loadRate,
      load: { ...r.load, acked_per_s: Math.round(r.load.acked / r.load.seconds) },
      proc_polls_per_kill: r.pollsPerKill,
      observer_nice: r.observerNice,
      series: {
        proc_seen: s.procSeen,
        spawn_returned: s.spawned,
        exit_stamped: s.exitStamped,
        exit_seen: s.exitSeen,
        command_seen: s.commandSeen,
        outcome_seen: s.outcomeSeen,
        jetstream_floor: s.floor,
        jetstream_floor_command_seen: s.floorCommandSeen,
        decider_hop: s.deciderHop,
        supervisor_hop: s.supervisorHop,
        spawn_to_proc: s.spawnToProc,
      },
    },
    ...(traced?.trace ? { full_system_trace: { kills_traced: traced.trace.kills, kills_asked: o.traceKills, steps: traced.trace.steps } } : {}),
    full_system_meets_targets: s.procSeen!.p50 <= TARGETS.recovery_p50_ms && s.procSeen!.p99 <= TARGETS.recovery_p99_ms,
  };
}

function machineNow(loadStart: number[]) {
  return {
    nproc: availableParallelism(),
    cpu: cpus()[0]?.model ?? "unknown",
    kernel: release(),
    node: process.version,
    nats_server: natsVersion(),
    /** 1, 5 and 15 min load averages: this benchmark is sensitive to anything else running. */
    loadavg_start: loadStart,
    loadavg_end: loadavg().map((v) => Math.round(v * 100) / 100),
  };
}

/** The report on disk, so that a run of one profile keeps the other's figures (marked with their own date). */
function previousReport(): Record<string, any> {
  try {
    return JSON.parse(readFileSync(join(RESULTS_DIR, "recovery.json"), "utf8")) as Record<string, any>;
  } catch {
    return {};
  }
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const began = Date.now();
  const date = new Date().toISOString();
  const loadStart = loadavg().map((v) => Math.round(v * 100) / 100);
  progress(`profile ${o.profile}: ${o.iterations} iterations isolated, ${o.kills} kills full system (+${o.warmup} warmup); ${availableParallelism()} cores, node ${process.version}`);
  const previous = o.profile === "both" ? {} : previousReport();
  const isolated = o.profile === "full" ? undefined : await isolatedProfile(o);
  const full = o.profile === "isolated" ? undefined : await fullProfile(o);
  const machine = machineNow(loadStart);
  const result: Record<string, any> = {
    ...previous,
    ...(isolated ? { ...isolated, machine, date } : {}),
    ...(full ? { ...full, full_system_machine: machine, full_system_date: date } : {}),
    duration_s: Math.round((Date.now() - began) / 100) / 10,
    profile: o.profile,
    targets: TARGETS,
  };
  const { md, tables } = markdown(result);
  process.stdout.write(`\n${tables}\n\n`);
  for (const [name, p50, p99] of [["isolated", result.recovery_p50_ms, result.recovery_p99_ms], ["full system", result.full_system_recovery_p50_ms, result.full_system_recovery_p99_ms]] as const) {
    if (p50 === undefined) continue;
    const met = p50 <= TARGETS.recovery_p50_ms && p99 <= TARGETS.recovery_p99_ms;
    process.stdout.write(`${name}: targets p50 ≤ ${TARGETS.recovery_p50_ms} ms, p99 ≤ ${TARGETS.recovery_p99_ms} ms → ${met ? "met" : "MISSED"} (p50 ${p50}, p99 ${p99})\n`);
  }
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, "recovery.json"), JSON.stringify(result, null, 2) + "\n");
  writeFileSync(join(RESULTS_DIR, "recovery.md"), md);
  process.stdout.write(`wrote ${join(RESULTS_DIR, "recovery.json")} and recovery.md (${result.duration_s} s)\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
