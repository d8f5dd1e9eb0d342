/**
 * The recovery benchmark's full-system profile (issue 13): `vigil up` exactly as shipped — the
 * embedded nats-server with a bus user per service, every service, telemetry forwarding to the local
 * sink, health sampling every second, the demo's sensor — plus the bench's victim worker, under
 * background traffic on the bus (recovery-load.ts, as admin). The victim is SIGKILLed again and
 * again; the new pid is seen from outside, in /proc (the supervisor's children), not from any
 * timestamp of the supervisor's. The JetStream floor runs against the same server under the same load.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { setPriority, tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { freePort } from "@vigil/events/testing";
import { Cleanup } from "./recovery-cleanup.js";
import { DEMO_DIR, HERE, now, progress, SERVICE_MAIN, summarize, VIGIL_MAIN, WAIT_MS, withTimeout, type Options, type Summary } from "./recovery-common.js";
import { startJetStreamFloor, type BusAuth, type FloorSample } from "./recovery-floors.js";
import { childrenOf, cmdlineOf, startProcWatch, type ProcWatch } from "./recovery-proc-watch.js";
import { chainSubjects, EventTap, followChain } from "./recovery-tap.js";
import { traceBreakdown } from "./recovery-trace.js";

export const FULL_DEVICE = "bench-full";
const VICTIM = "victim";
// A distinct argument, so the victim is told from any other sleep in /proc.
const VICTIM_CMD = ["/bin/sleep", "3599"];

export interface FullRun {
  /** kill → the new pid among the supervisor's children in /proc (the headline figure). */
  procSeen: number[];
  /** kill → spawn() returned (out.worker.restarted's data.at, the supervisor's own stamp). */
  spawned: number[];
  /** kill → the supervisor handled the exit (obs.worker.exited's time, ms precision). */
  exitStamped: number[];
  exitSeen: number[];
  commandSeen: number[];
  outcomeSeen: number[];
  floor: number[];
  floorCommandSeen: number[];
  /** Per kill: the decider's hop (exit received → command received, both at the bench's tap). */
  deciderHop: number[];
  /** Per kill: the supervisor's hop (command received at the tap → spawn() returned, its stamp). */
  supervisorHop: number[];
  /** Per kill: spawn() returned → the new pid seen in /proc (the exec, and the watch's lateness). */
  spawnToProc: number[];
  /** How often the /proc watch looked per kill, on average (its resolution is one timer turn, ≈ 1 ms). */
  pollsPerKill: number;
  load: { generated: number; acked: number; failed: number; skipped: number; seconds: number };
  kills: number;
  /** Where the time goes along the path, per step (a traced run only: recovery-trace.ts). */
  trace?: ReturnType<typeof traceBreakdown>;
  /** The /proc watching thread's nice value during the kills (raised when allowed; recovery-proc-watch.ts). */
  observerNice: number;
}

/** Linux nice is per thread: -10 for this one only, after every child is spawned, so no process of vigil up inherits it. */
function raiseThisThread(): void {
  try {
    setPriority(-10);
  } catch {
    /* not allowed: the floor's bench-side hop then runs at nice 0 */
  }
}

function writeConfig(dir: string, dataDir: string): string {
  const file = join(dir, "vigil.yaml");
  const demo = readFileSync(join(DEMO_DIR, "vigil.yaml"), "utf8");
  if (!demo.includes("sensor.js")) throw new Error(`${DEMO_DIR}/vigil.yaml no longer runs sensor.js: update the full-system bench's workers`);
  // JSON is YAML. The demo's sensor with the demo's restart policy; the victim restarts at once and
  // never trips a breaker (a crash-loop window of 1 ms), so each kill measures one plain restart.
  const config = {
    device: FULL_DEVICE,
    dataDir,
    gateway: { port: 0 },
    health: { intervalMs: 1_000 },
    workers: [
      { name: "sensor", command: "node", args: [join(DEMO_DIR, "sensor.js")], essential: false, restart: { backoffBaseMs: 100, backoffFactor: 2, backoffCapMs: 30_000, maxRestarts: 5, windowMs: 60_000, stableMs: 10_000 } },
      { name: VICTIM, command: VICTIM_CMD[0], args: VICTIM_CMD.slice(1), restart: { backoffBaseMs: 0, backoffFactor: 1, backoffCapMs: 0, maxRestarts: 1_000_000, windowMs: 1, stableMs: 3_600_000 } },
    ],
  };
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

/** `vigil up -q` with the bench's config; resolves once it says "running". */
async function startUp(configFile: string, dataDir: string, cleanup: Cleanup, traced: boolean): Promise<ChildProcess> {
  const env: NodeJS.ProcessEnv = { ...process.env, VIGIL_DATA_DIR: dataDir, VIGIL_SINK_PORT: "0" };
  // The services write their trace points into their logs (libs/events trace-timing.ts, recovery-trace.ts).
  if (traced) env.VIGIL_TRACE_TIMING = "1";
  // BENCH_CPU_PROF_DIR=<dir>: every process of vigil up writes a V8 CPU profile there when it stops (recovery-cpu-prof.ts).
  if (process.env.BENCH_CPU_PROF_DIR) env.NODE_OPTIONS = `${env.NODE_OPTIONS ?? ""} --import=${join(HERE, "recovery-cpu-prof.js")}`.trim();
  for (const k of ["VIGIL_NATS_URL", "VIGIL_NATS_USER", "VIGIL_NATS_PASS", "VIGIL_LOG_LEVEL", "VIGIL_DURABILITY", "VIGIL_UP_SERVICES", "VIGIL_TELEMETRY_URL"]) delete env[k];
  // A free port of its own: others on this machine may hold 4222.
  const port = await freePort();
  const up = cleanup.child("vigil up", spawn(process.execPath, [VIGIL_MAIN, "up", "-q", "--config", configFile, "--port", String(port)], { env, stdio: ["ignore", "pipe", "pipe"] }));
  let text = "";
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      const onData = (d: Buffer) => {
        text = (text + d.toString()).slice(-20_000);
        if (text.includes("vigil: running")) resolve();
      };
      up.stdout!.on("data", onData);
      up.stderr!.on("data", onData);
      up.once("exit", (code, signal) => reject(new Error(`vigil up exited (${signal ?? code}):\n${text.slice(-2000)}`)));
    }),
    120_000,
    `vigil up to say "running"; its output:\n${text.slice(-2000)}`,
  );
  up.removeAllListeners("exit");
  return up;
}

/** The background traffic, in its own process; resolves once its first publish was acknowledged. */
async function startLoad(url: string, admin: BusAuth, rate: number, cleanup: Cleanup): Promise<{ stop: () => Promise<FullRun["load"]> }> {
  const env = { ...process.env, RECOVERY_LOAD_URL: url, RECOVERY_LOAD_USER: admin.user, RECOVERY_LOAD_PASS: admin.pass, RECOVERY_LOAD_DEVICE: FULL_DEVICE, RECOVERY_LOAD_RATE: String(rate) };
  const child = cleanup.child("recovery-load", spawn(process.execPath, [join(HERE, "recovery-load.js")], { env, stdio: ["ignore", "inherit", "inherit", "ipc"] }));
  let stats: FullRun["load"] | undefined;
  const gotStats = new Promise<void>((resolve) => child.on("message", (m: { stats?: FullRun["load"] }) => m.stats && ((stats = m.stats), resolve())));
  await withTimeout(new Promise<void>((resolve) => child.on("message", (m: { ready?: boolean }) => m.ready && resolve())), 30_000, "the background load's first acknowledged publish");
  return {
    stop: async () => {
      child.kill("SIGTERM");
      await withTimeout(gotStats, 30_000, "the background load's counts");
      return stats!;
    },
  };
}

function supervisorOf(upPid: number): number {
  const pid = childrenOf(upPid).find((p) => cmdlineOf(p).includes(SERVICE_MAIN.supervisor));
  if (pid === undefined) throw new Error(`vigil up (pid ${upPid}) runs no ${SERVICE_MAIN.supervisor}`);
  return pid;
}

type Series = Omit<FullRun, "pollsPerKill" | "load" | "kills" | "observerNice" | "trace">;

/**
 * The kill loop: one kill at a time, each measured from outside and along the event chain, and
 * after each one a floor iteration, so that the floor sees the same load at the same moments.
 */
async function killLoop(o: Options, tap: EventTap, watch: ProcWatch, floor: { iterate(): Promise<FloorSample> }): Promise<Series & { polls: number }> {
  const out: Series = { procSeen: [], spawned: [], exitStamped: [], exitSeen: [], commandSeen: [], outcomeSeen: [], floor: [], floorCommandSeen: [], deciderHop: [], supervisorHop: [], spawnToProc: [] };
  const polls = { n: 0 };
  let pid = (await watch.next(undefined, now(), WAIT_MS)).pid;
  for (let i = 0; i < o.warmup + o.kills; i++) {
    const chain = followChain(tap, VICTIM, pid);
    const t0 = now();
    // Asked before the kill: the watching thread is already looking when the old process goes.
    const looking = watch.next(pid, t0, WAIT_MS);
    process.kill(pid, "SIGKILL");
    try {
      const seen = await looking;
      polls.n += seen.polls;
      const c = await withTimeout(chain.done, WAIT_MS, `out.worker.restarted after killing pid ${pid} (kill ${i})`).catch((err: Error) => {
        throw new Error(`${err.message}; last events:\n  ${tap.recent.join("\n  ")}`);
      });
      if (c.pid !== seen.pid) throw new Error(`kill ${i}: /proc shows pid ${seen.pid}, the outcome names ${c.pid}`);
      pid = seen.pid;
      await new Promise((r) => setTimeout(r, o.gapMs / 2));
      const f = await floor.iterate();
      if (i >= o.warmup) {
        out.procSeen.push(seen.at - t0);
        out.spawned.push(c.spawnedAt - t0);
        out.exitStamped.push(c.exitStamp - t0);
        out.exitSeen.push(c.exitAt - t0);
        out.commandSeen.push(c.commandAt - t0);
        out.outcomeSeen.push(c.outcomeAt - t0);
        out.floor.push(f.total);
        out.floorCommandSeen.push(f.commandSeen);
        out.deciderHop.push(c.commandAt - c.exitAt);
        out.supervisorHop.push(c.spawnedAt - c.commandAt);
        out.spawnToProc.push(seen.at - c.spawnedAt);
        const n = i + 1 - o.warmup;
        if (n % 50 === 0) progress(`full system ${n}/${o.kills}: last kill → new pid in /proc ${(seen.at - t0).toFixed(2)} ms, floor ${f.total.toFixed(2)} ms`);
      }
    } finally {
      chain.stop();
    }
    await new Promise((r) => setTimeout(r, o.gapMs / 2));
  }
  return { ...out, polls: polls.n };
}

/**
 * One full-system run. `traced`: the services also write trace points (VIGIL_TRACE_TIMING=1), read
 * back into `trace` (where the time goes along the path); a separate run, so the headline figures
 * carry none of the tracing's own cost.
 */
export async function fullSystem(o: Options, traced = false): Promise<FullRun> {
  const cleanup = new Cleanup();
  try {
    // BENCH_KEEP_DIR=1 keeps the run's folder (config, services' logs, data) to look into afterwards.
    const made = mkdtempSync(join(tmpdir(), "vigil-bench-full-"));
    const dir = process.env.BENCH_KEEP_DIR === "1" ? made : cleanup.dir(made);
    if (dir === made && process.env.BENCH_KEEP_DIR === "1") progress(`full system: run folder ${dir} (kept)`);
    const dataDir = join(dir, "data");
    const configFile = writeConfig(dir, dataDir);
    cleanup.registry(join(dataDir, "supervisor", "pids.json"));
    const up = await startUp(configFile, dataDir, cleanup, traced);
    const { natsUrl } = JSON.parse(readFileSync(join(dataDir, "runtime.json"), "utf8")) as { natsUrl: string };
    const admin = JSON.parse(readFileSync(join(dataDir, "creds", "admin.json"), "utf8")) as BusAuth;
    progress(`full system: vigil up (pid ${up.pid}) running, bus ${natsUrl}; background load ${o.loadRate} events/s`);
    const nc = cleanup.connection(await connect({ servers: natsUrl, name: "bench-full-watch", user: admin.user, pass: admin.pass }));
    const tap = new EventTap(nc, chainSubjects(FULL_DEVICE));
    await nc.flush();
    const load = await startLoad(natsUrl, admin, o.loadRate, cleanup);
    const floor = await startJetStreamFloor(natsUrl, cleanup, admin);
    progress(`full system: ${o.kills} kills (+${o.warmup} warmup), ${o.gapMs} ms apart, each followed by a JetStream floor iteration on the same server …`);
    // The floor's bench-side hop runs in this thread: at the same nice as before the watch had a thread.
    raiseThisThread();
    const watch = await startProcWatch(supervisorOf(up.pid!), VICTIM_CMD);
    if (watch.nice === 0) progress("full system: could not raise the /proc watcher's priority; its lateness counts in the figures");
    const series = await killLoop(o, tap, watch, floor).finally(() => Promise.all([floor.stop(), watch.stop()]));
    const loadStats = await load.stop();
    const { polls, ...rest } = series;
    // vigil up is stopped by the cleanup; the services' trace lines are in their logs already.
    const trace = traced ? traceBreakdown(join(dataDir, "logs")) : undefined;
    return { ...rest, pollsPerKill: Math.round((polls / (o.kills + o.warmup + 1)) * 10) / 10, load: loadStats, kills: o.kills, observerNice: watch.nice, ...(trace ? { trace } : {}) };
  } finally {
    await cleanup.run();
  }
}

export function summarizeFull(r: FullRun): Record<string, Summary> {
  return {
    procSeen: summarize(r.procSeen),
    spawned: summarize(r.spawned),
    exitStamped: summarize(r.exitStamped),
    exitSeen: summarize(r.exitSeen),
    commandSeen: summarize(r.commandSeen),
    outcomeSeen: summarize(r.outcomeSeen),
    floor: summarize(r.floor),
    floorCommandSeen: summarize(r.floorCommandSeen),
    deciderHop: summarize(r.deciderHop),
    supervisorHop: summarize(r.supervisorHop),
    spawnToProc: summarize(r.spawnToProc),
  };
}
