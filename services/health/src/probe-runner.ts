import { resolve } from "node:path";
import { ownEntry, probeKind, type Logger, type ProbeConfig, type WorkerConfig } from "@vigil/events";
import { initialProbeState, runProbe, stepProbe, type ProbeResult, type ProbeState } from "./probes.js";
import type { WorkerPids } from "./workers.js";

export interface ProbeReport {
  worker: string;
  pid: number;
  kind: "http" | "tcp" | "exec";
  config: ProbeConfig;
  emit: "failed" | "recovered";
  state: ProbeState;
  result: ProbeResult;
}

interface Loop {
  pid: number;
  timer?: NodeJS.Timeout;
  stopped: boolean;
  state: ProbeState;
}

/**
 * Runs each worker's probe against its current process: starts after initialDelayMs, every periodMs
 * (never overlapping), and starts over — state reset, initial delay again — when the pid changes.
 * Paused or absent workers are not probed.
 */
export class ProbeRunner {
  private readonly loops = new Map<string, Loop>();
  /** Workers whose probe was failing when its loop ended (exit, pause): still failing for the next process. */
  private readonly failing = new Set<string>();
  private readonly probed: WorkerConfig[];

  constructor(
    workers: WorkerConfig[],
    private readonly o: { baseDir: string; log: Logger; report: (r: ProbeReport) => void; now?: () => number },
  ) {
    this.probed = workers.filter((w) => w.probe);
  }

  sync(pids: WorkerPids): void {
    const now = (this.o.now ?? Date.now)();
    for (const w of this.probed) {
      const cur = ownEntry(pids, w.name);
      const loop = this.loops.get(w.name);
      if (!cur || cur.paused) {
        if (loop) this.cancel(w.name);
        continue;
      }
      if (loop && loop.pid === cur.pid) continue;
      // A new process starts its counts over, but a probe that was failing stays failing until it
      // passes: that is what reports the restart as having worked (obs.probe.recovered).
      const failing = loop?.state.failing ?? this.failing.has(w.name);
      if (loop) this.cancel(w.name);
      const probe = w.probe!;
      const l: Loop = { pid: cur.pid, stopped: false, state: { ...initialProbeState, failing } };
      this.loops.set(w.name, l);
      const tick = async () => {
        if (l.stopped) return;
        const result = await runProbe(probe, { cwd: resolve(this.o.baseDir, w.cwd ?? ".") });
        if (l.stopped) return;
        const r = stepProbe(l.state, result.ok, probe);
        l.state = r.state;
        if (!result.ok) this.o.log.debug({ worker: w.name, failures: r.state.failures, error: result.error }, "probe failed");
        if (r.emit) this.o.report({ worker: w.name, pid: l.pid, kind: probeKind(probe), config: probe, emit: r.emit, state: r.state, result });
        l.timer = setTimeout(() => void tick(), probe.periodMs);
      };
      l.timer = setTimeout(() => void tick(), Math.max(0, cur.since + probe.initialDelayMs - now));
    }
  }

  private cancel(name: string): void {
    const l = this.loops.get(name);
    if (!l) return;
    l.stopped = true;
    if (l.state.failing) this.failing.add(name);
    else this.failing.delete(name);
    if (l.timer) clearTimeout(l.timer);
    this.loops.delete(name);
  }

  stop(): void {
    for (const n of [...this.loops.keys()]) this.cancel(n);
  }
}
