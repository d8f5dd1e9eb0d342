/**
 * The recovery benchmark's full-system profile (issue 13): `vigil up` exactly as shipped — the
 * embedded nats-server with a bus user per service, every service, telemetry forwarding to the local
 * sink, health sampling every second, the demo's sensor — plus the bench's victim worker, under
 * background traffic on the bus (recovery-load.ts, as admin). The victim is SIGKILLed again and
 * again; the new pid is seen from outside, in /proc (the supervisor's children), not from any
 * timestamp of the supervisor's. The JetStream floor runs against the same server under the same load.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { getPriority, setPriority, tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { freePort } from "@vigil/events/testing";
import { Cleanup } from "./recovery-cleanup.js";
import { DEMO_DIR, HERE, now, progress, SERVICE_MAIN, summarize, VIGIL_MAIN, WAIT_MS, withTimeout, type Options, type Summary } from "./recovery-common.js";
import { startJetStreamFloor, type BusAuth, type FloorSample } from "./recovery-floors.js";
import { EventTap, followChain } from "./recovery-tap.js";

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
  /** How often the /proc watch looked per kill, on average (its resolution is one timer turn, ≈ 1 ms). */
  pollsPerKill: number;
  load: { generated: number; acked: number; failed: number; skipped: number; seconds: number };
  kills: number;
  /** The bench's main thread's nice value during the kills (raised when allowed; see raiseObserverPriority). */
  observerNice: number;
}

/**
 * On a loaded machine a 1 ms timer fires late, and that lateness would count as recovery time.
 * Linux nice is per thread: this raises only the bench's main thread (the /proc watch and the
 * floor's bench-side hop), after every child is spawned, so no process of vigil up inherits it.
 */
function raiseObserverPriority(): number {
  try {
    setPriority(-10);
  } catch (err) {
    progress(`full system: could not raise the watcher's priority (${(err as Error).message}); its timer lateness counts in the figures`);
  }
  return getPriority();
}

/** The pids of `pid`'s children, from every thread's children list (spawn may run on any). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tasks) {
    try {
      for (const c of readFileSync(`/proc/${pid}/task/${t}/children`, "utf8").split(" ")) if (c) out.push(Number(c));
    } catch {
      /* the thread ended */
    }
  }
  return out;
}

function cmdlineOf(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  } catch {
    return [];
  }
}

const isVictim = (pid: number) => cmdlineOf(pid).join(" ") === VICTIM_CMD.join(" ");

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
async function startUp(configFile: string, dataDir: string, cleanup: Cleanup): Promise<ChildProcess> {
  const env: NodeJS.ProcessEnv = { ...process.env, VIGIL_DATA_DIR: dataDir, VIGIL_SINK_PORT: "0" };
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

/** Waits for a child of the supervisor running the victim, other than `old`; returns it with when it was seen. */
async function newVictim(supervisor: number, old: number | undefined, t0: number, polls: { n: number }): Promise<{ pid: number; at: number }> {
  for (;;) {
    polls.n++;
    const pid = childrenOf(supervisor).find((p) => p !== old && isVictim(p));
    const at = now();
    if (pid !== undefined) return { pid, at };
    if (at - t0 > WAIT_MS) throw new Error(`no new ${VICTIM} among the supervisor's (pid ${supervisor}) children in /proc ${WAIT_MS} ms after killing pid ${old}`);
    await new Promise((r) => setTimeout(r, 0));
  }
}

function supervisorOf(upPid: number): number {
  const pid = childrenOf(upPid).find((p) => cmdlineOf(p).includes(SERVICE_MAIN.supervisor));
  if (pid === undefined) throw new Error(`vigil up (pid ${upPid}) runs no ${SERVICE_MAIN.supervisor}`);
  return pid;
}

type Series = Omit<FullRun, "pollsPerKill" | "load" | "kills" | "observerNice">;

/**
 * The kill loop: one kill at a time, each measured from outside and along the event chain, and
 * after each one a floor iteration, so that the floor sees the same load at the same moments.
 */
async function killLoop(o: Options, tap: EventTap, supervisor: number, floor: { iterate(): Promise<FloorSample> }): Promise<Series & { polls: number }> {
  const out: Series = { procSeen: [], spawned: [], exitStamped: [], exitSeen: [], commandSeen: [], outcomeSeen: [], floor: [], floorCommandSeen: [] };
  const polls = { n: 0 };
  let pid = (await newVictim(supervisor, undefined, now(), polls)).pid;
  for (let i = 0; i < o.warmup + o.kills; i++) {
    const chain = followChain(tap, VICTIM, pid);
    const t0 = now();
    process.kill(pid, "SIGKILL");
    try {
      const seen = await newVictim(supervisor, pid, t0, polls);
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

export async function fullSystem(o: Options): Promise<FullRun> {
  const cleanup = new Cleanup();
  try {
    // BENCH_KEEP_DIR=1 keeps the run's folder (config, services' logs, data) to look into afterwards.
    const made = mkdtempSync(join(tmpdir(), "vigil-bench-full-"));
    const dir = process.env.BENCH_KEEP_DIR === "1" ? made : cleanup.dir(made);
    if (dir === made && process.env.BENCH_KEEP_DIR === "1") progress(`full system: run folder ${dir} (kept)`);
    const dataDir = join(dir, "data");
    const configFile = writeConfig(dir, dataDir);
    cleanup.registry(join(dataDir, "supervisor", "pids.json"));
    const up = await startUp(configFile, dataDir, cleanup);
    const { natsUrl } = JSON.parse(readFileSync(join(dataDir, "runtime.json"), "utf8")) as { natsUrl: string };
    const admin = JSON.parse(readFileSync(join(dataDir, "creds", "admin.json"), "utf8")) as BusAuth;
    progress(`full system: vigil up (pid ${up.pid}) running, bus ${natsUrl}; background load ${o.loadRate} events/s`);
    const nc = cleanup.connection(await connect({ servers: natsUrl, name: "bench-full-watch", user: admin.user, pass: admin.pass }));
    const tap = new EventTap(nc, `vigil.${FULL_DEVICE}.>`);
    await nc.flush();
    const load = await startLoad(natsUrl, admin, o.loadRate, cleanup);
    const floor = await startJetStreamFloor(natsUrl, cleanup, admin);
    progress(`full system: ${o.kills} kills (+${o.warmup} warmup), ${o.gapMs} ms apart, each followed by a JetStream floor iteration on the same server …`);
    const observerNice = raiseObserverPriority();
    const series = await killLoop(o, tap, supervisorOf(up.pid!), floor).finally(() => floor.stop());
    const loadStats = await load.stop();
    const { polls, ...rest } = series;
    return { ...rest, pollsPerKill: Math.round((polls / (o.kills + o.warmup + 1)) * 10) / 10, load: loadStats, kills: o.kills, observerNice };
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
  };
}
