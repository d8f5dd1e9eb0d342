import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { LogsSchema, readPidStat, RotatingLog, traceAt, type Logger, type LogsConfig, type WorkerConfig } from "@vigil/events";
import { spawnThroughGroups, type LimitsBackend } from "./cgroups.js";
import { NotReady, whenReady } from "./readiness.js";
import { workerEnv } from "./worker-env.js";
import { discardSpare, forkSpare, spareKey, wakeSpare, type Spare } from "./spare.js";

/** A spare is forked this long after a start, off the start's own path (its outcome event goes first). */
const SPARE_DELAY_MS = 100;

export type RunStatus = "running" | "paused" | "stopped" | "exited";

export interface ExitInfo {
  worker: string;
  pid?: number;
  code: number | null;
  signal: string | null;
  /** Vigil asked for it (stop, restart, kill, shutdown). */
  expected: boolean;
  uptimeMs: number;
  error?: string;
  /** Its last lines of output (logs.lastLines): why it died, carried by obs.worker.exited. */
  lastLines?: string[];
  /** The kernel's OOM killer ended it (its cgroup's memory limit; cgroups.ts). */
  oom?: boolean;
}

export interface DriverEvents {
  onStarted(worker: string, pid: number, at: number): void;
  onExited(info: ExitInfo): void;
  onStable(worker: string, pid: number, uptimeMs: number): void;
  /** The pids the driver is responsible for changed (for the orphan registry). */
  onPidsChanged(pids: Record<string, number>): void;
}

interface Run {
  child: ChildProcess;
  pid: number;
  startedAt: number;
  expected: boolean;
  paused: boolean;
  exited: Promise<void>;
  stableTimer?: NodeJS.Timeout;
  /** Resolves when the worker's `ready` condition holds (at once without one). */
  ready: Promise<void>;
  /** The limits backend's OOM mark at start (undefined: not limited). */
  oomBefore?: number;
}

/** The state letter of /proc/<pid>/stat (R, S, T …), undefined once the process is gone. */
export function processState(pid: number): string | undefined {
  return readPidStat(pid)?.state;
}

/**
 * Signals are delivered asynchronously: wait (up to 1 s, checking every millisecond) until the
 * process shows the state the signal causes. Linux offers no event for it that Node exposes.
 */
async function waitForState(pid: number, ok: (state: string | undefined) => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !ok(processState(pid)); i++) await new Promise((r) => setTimeout(r, 1));
}

/** Epoch ms with sub-ms precision. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * Runs declared workers as child processes, each in its own process group, and reports exits the
 * moment Node sees them (no polling). Knows nothing of the bus: the service wires it up.
 */
export class ProcessDriver {
  private readonly runs = new Map<string, Run>();
  private workers: Map<string, WorkerConfig>;
  /** Each worker's next process, forked ahead (spare.ts). */
  private readonly spares = new Map<string, Spare>();
  private stoppingAll = false;

  constructor(
    workers: WorkerConfig[],
    private readonly opts: { baseDir: string; logDir: string; log: Logger; events: DriverEvents; logs?: LogsConfig; logCapDirs?: string[]; cgroups?: LimitsBackend },
  ) {
    this.workers = new Map(workers.map((w) => [w.name, w]));
    mkdirSync(opts.logDir, { recursive: true });
  }

  private readonly outputs = new Map<string, RotatingLog>();

  /**
   * A worker's output goes through pipes the supervisor always drains into a size-rotated file
   * (rotating-log.ts): a slow or full disk drops and counts lines, it never blocks the worker.
   */
  private output(name: string): RotatingLog {
    let out = this.outputs.get(name);
    if (out) return out;
    const l = this.opts.logs ?? LogsSchema.parse({});
    const file = join(this.opts.logDir, `${name}.log`);
    out = new RotatingLog({
      file,
      maxFileBytes: l.maxFileBytes,
      keepFiles: l.keepFiles,
      maxTotalBytes: l.maxTotalBytes,
      capDirs: this.opts.logCapDirs ?? [this.opts.logDir],
      tailLines: l.lastLines,
      tailLineBytes: l.lineMaxBytes,
      onProblem: (p) =>
        p.state === "failing"
          ? this.opts.log.warn({ worker: name, file, err: p.error }, "cannot write the worker's log: its output is dropped and counted until writing works again; the worker keeps running")
          : this.opts.log.info({ worker: name, file, droppedLines: p.droppedLines, droppedBytes: p.droppedBytes }, "the worker's log is written again"),
    });
    this.outputs.set(name, out);
    return out;
  }

  /** The exit is reported once the pipes are read to the end (at most 50 ms), so the last lines are its last lines. */
  private outputClosed(child: ChildProcess): Promise<void> {
    if ((child.stdout?.closed ?? true) && (child.stderr?.closed ?? true)) return Promise.resolve();
    return new Promise((r) => {
      const t = setTimeout(r, 50);
      child.once("close", () => {
        clearTimeout(t);
        r();
      });
    });
  }

  /** A reload's new declarations: runs go on (the planner stops or restarts them); the next start uses these. */
  declare(workers: WorkerConfig[]): void {
    this.workers = new Map(workers.map((w) => [w.name, w]));
    // A spare made for a removed or changed worker would start the wrong program.
    for (const [name, s] of this.spares) {
      const w = this.workers.get(name);
      if (!w || !this.wantsSpare(w) || s.key !== spareKey(w, this.cwdOf(w))) this.dropSpare(name);
    }
  }

  private cwdOf(w: WorkerConfig): string {
    return resolve(this.opts.baseDir, w.cwd ?? ".");
  }

  /** A limited worker joins its groups through its own shell before its exec: it is spawned as usual. */
  private wantsSpare(w: WorkerConfig): boolean {
    return w.restart.prespawn && !(w.limits && this.opts.cgroups);
  }

  private prepareSpare(name: string): void {
    const w = this.workers.get(name);
    if (!w || this.stoppingAll || this.spares.has(name) || !this.wantsSpare(w)) return;
    const spare = forkSpare(w, this.cwdOf(w), workerEnv(process.env, w));
    this.spares.set(name, spare);
    spare.child.once("exit", () => this.spares.get(name) === spare && this.spares.delete(name));
  }

  private dropSpare(name: string): void {
    const s = this.spares.get(name);
    this.spares.delete(name);
    if (s) discardSpare(s);
  }

  /** The worker's spare, woken (its exec follows at once); undefined: spawn as usual. */
  private takeSpare(name: string, w: WorkerConfig): ChildProcess | undefined {
    const s = this.spares.get(name);
    if (!s) return undefined;
    this.spares.delete(name);
    if (s.key === spareKey(w, this.cwdOf(w)) && wakeSpare(s)) return s.child;
    discardSpare(s);
    return undefined;
  }

  /** Resolves when the running worker is ready for its dependents; rejects when it is not running or never gets ready. */
  whenReady(name: string): Promise<void> {
    const r = this.runs.get(name);
    return r ? r.ready : Promise.reject(new NotReady(`${name} is not running`));
  }

  /** The program and arguments to spawn: through a shell that joins the worker's groups first when it has limits. */
  private commandLine(w: WorkerConfig): { command: string; args: string[]; limited?: boolean } {
    const cg = this.opts.cgroups;
    if (!w.limits || !cg) return { command: w.command, args: w.args };
    return { ...spawnThroughGroups(cg.place(w.name, w.limits), w.command, w.args), limited: true };
  }

  declared(): string[] {
    return [...this.workers.keys()];
  }

  config(name: string): WorkerConfig | undefined {
    return this.workers.get(name);
  }

  status(name: string): { status: RunStatus; pid?: number } {
    const r = this.runs.get(name);
    if (!r) return { status: "stopped" };
    return { status: r.paused ? "paused" : "running", pid: r.pid };
  }

  pids(): Record<string, number> {
    return Object.fromEntries([...this.runs].map(([n, r]) => [n, r.pid]));
  }

  /** Spawns the worker; resolves with its pid, or rejects when the program cannot be started. */
  start(name: string): Promise<number> {
    const w = this.workers.get(name);
    if (!w) return Promise.reject(new Error(`unknown worker "${name}"`));
    const existing = this.runs.get(name);
    if (existing) return Promise.resolve(existing.pid);
    const out = this.output(name);
    out.clearTail();
    const t0 = nowMs();
    const line = this.commandLine(w);
    const oomBefore = line.limited ? this.opts.cgroups!.oomMark(name) : undefined;
    // Readiness on stdout reads the worker's output on its way to the log (both listen to the pipe).
    const spare = line.limited ? undefined : this.takeSpare(name, w);
    const child: ChildProcess = spare ?? spawn(line.command, line.args, {
      cwd: this.cwdOf(w),
      // A clean environment: the supervisor's own holds its bus password (docs/security.md, "What workers get").
      env: workerEnv(process.env, w),
      // Own process group: stop/pause reach the worker's children too, and a Ctrl-C meant for vigil does not.
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.on("data", (b: Buffer) => out.write(b));
    child.stderr?.on("data", (b: Buffer) => out.write(b));
    const pid = child.pid;
    if (pid === undefined) {
      return new Promise((_, reject) => {
        child.once("error", (err: NodeJS.ErrnoException) => {
          const msg = `${w.command}: ${err.code ?? err.message}`;
          this.opts.events.onExited({ worker: name, code: null, signal: null, expected: false, uptimeMs: 0, error: msg });
          reject(new Error(msg));
        });
      });
    }
    const at = nowMs();
    let resolveExit!: () => void;
    const exited = new Promise<void>((r) => (resolveExit = r));
    const ready = whenReady(w.ready, { worker: name, stdout: child.stdout ?? undefined, probe: w.probe, exited });
    ready.catch(() => undefined); // awaited by a ready step, if any
    const run: Run = { child, pid, startedAt: at, expected: false, paused: false, exited, ready, oomBefore };
    this.runs.set(name, run);
    child.on("error", (err) => this.opts.log.warn({ worker: name, err: err.message }, "worker process error"));
    child.on("exit", (code, signal) => {
      traceAt("sup.exit");
      if (run.stableTimer) clearTimeout(run.stableTimer);
      // The leader is gone; take whatever it left behind in its group with it.
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        /* group already empty */
      }
      if (this.runs.get(name) === run) this.runs.delete(name);
      const uptimeMs = Math.max(0, nowMs() - run.startedAt);
      void this.outputClosed(child).then(() => {
        const lastLines = out.lastLines();
        // Report first: the pid file write is bookkeeping and stays off the recovery path.
        const oom = run.oomBefore !== undefined && this.opts.cgroups!.oomKilled(name, run.oomBefore, signal);
        this.opts.events.onExited({ worker: name, pid, code, signal, expected: run.expected, uptimeMs, ...(oom ? { oom: true } : {}), ...(lastLines.length ? { lastLines } : {}) });
        // A group lives while its worker runs: the next start makes it again (a start already under way keeps it).
        if (run.oomBefore !== undefined && !this.runs.has(name)) this.opts.cgroups!.remove(name);
        this.opts.events.onPidsChanged(this.pids());
        resolveExit();
      });
    });
    run.stableTimer = setTimeout(() => {
      if (this.runs.get(name) === run) this.opts.events.onStable(name, pid, Math.round(nowMs() - run.startedAt));
    }, w.restart.stableMs);
    run.stableTimer.unref();
    traceAt("sup.spawned");
    this.opts.log.debug({ worker: name, pid, spawnMs: at - t0, spare: spare !== undefined }, "worker spawned");
    setTimeout(() => this.prepareSpare(name), SPARE_DELAY_MS).unref();
    this.opts.events.onStarted(name, pid, at);
    this.opts.events.onPidsChanged(this.pids());
    return Promise.resolve(pid);
  }

  /** SIGTERM to the group, SIGKILL after the grace period; resolves when the worker has exited. */
  async stop(name: string, graceMs?: number): Promise<void> {
    const r = this.runs.get(name);
    if (!r) return;
    r.expected = true;
    const grace = graceMs ?? this.workers.get(name)?.stopGraceMs ?? 5_000;
    this.signalGroup(r, "SIGTERM");
    if (r.paused) this.signalGroup(r, "SIGCONT"); // a stopped process cannot act on SIGTERM
    const timer = setTimeout(() => this.signalGroup(r, "SIGKILL"), grace);
    await r.exited;
    clearTimeout(timer);
  }

  /** Sends a signal to the worker's group and waits for the exit (kill command). */
  async kill(name: string, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const r = this.runs.get(name);
    if (!r) return;
    r.expected = true;
    this.signalGroup(r, signal);
    if (r.paused) this.signalGroup(r, "SIGCONT");
    await r.exited;
  }

  /** SIGSTOP to the group; resolves once the kernel shows the worker stopped (state T), so the outcome is true when reported. */
  async pause(name: string): Promise<void> {
    const r = this.runs.get(name);
    if (!r || r.paused) return;
    this.signalGroup(r, "SIGSTOP");
    r.paused = true;
    await waitForState(r.pid, (s) => s === "T" || s === "t" || s === undefined);
  }

  async resume(name: string): Promise<void> {
    const r = this.runs.get(name);
    if (!r || !r.paused) return;
    this.signalGroup(r, "SIGCONT");
    r.paused = false;
    await waitForState(r.pid, (s) => s !== "T" && s !== "t");
  }


  /** Stops every worker (shutdown): all at once, each with its grace period. */
  async stopAll(): Promise<void> {
    this.stoppingAll = true;
    for (const name of [...this.spares.keys()]) this.dropSpare(name);
    await Promise.all([...this.runs.keys()].map((n) => this.stop(n)));
    await Promise.all([...this.outputs.values()].map((o) => o.close()));
  }

  private signalGroup(r: Run, signal: NodeJS.Signals): void {
    try {
      process.kill(-r.pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
    }
  }
}
