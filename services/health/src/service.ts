import { join, resolve } from "node:path";
import {
  createPublisher,
  DEFAULT_HYSTERESIS,
  deviceFilter,
  emitOrLog,
  loadDeciderView,
  resolveThreshold,
  tailEvents,
  type HealthMetric,
  type Publisher,
  type ServiceContext,
  type Tail,
} from "@vigil/events";
import { AnomalyDetector } from "./anomaly.js";
import { ProbeRunner } from "./probe-runner.js";
import { discoverMounts, Sampler, siTemperature, type Problem, type SampleData } from "./sampler.js";
import { ThresholdTracker } from "./thresholds.js";
import { pidsFromSnapshot, trackWorkers, type WorkerPids } from "./workers.js";

export interface HealthServiceOptions {
  /** Where /proc is (tests). */
  procRoot?: string;
}

/** The metrics the anomaly model sees, in order (docs/health.md). */
export const ANOMALY_METRICS = ["cpuPct", "memPct", "load1", "tempC", "workerCpuPct"] as const;

/**
 * Samples the device every interval and publishes `obs.health.sample`, threshold transitions (with
 * hysteresis), Isolation Forest anomalies and problems; runs the workers' liveness probes. Which pid
 * is which worker it learns from the supervisor's events only (decider snapshot, then the stream).
 */
export async function startHealth(ctx: ServiceContext, opts: HealthServiceOptions = {}): Promise<() => Promise<void>> {
  const { config, log } = ctx;
  const h = config.health;
  const bus: Publisher = await createPublisher(ctx.nc, { device: config.device, source: `vigil/${config.device}/health`, outboxDir: join(config.dataDir, "health", "outbox"), log });
  const emit = emitOrLog(bus, log);

  // Which pid is which worker at start: the decider's view (the one reader in libs/events), then the stream.
  const snap = await loadDeciderView(ctx.nc, config.device);
  let pids: WorkerPids = pidsFromSnapshot(snap?.state, Date.now());

  const probes = new ProbeRunner(config.workers, {
    baseDir: config.configDir,
    log,
    report(r) {
      if (r.emit === "failed") {
        log.warn({ worker: r.worker, pid: r.pid, failures: r.state.failures, error: r.result.error }, "probe failing");
        void emit("obs.probe.failed", { worker: r.worker, pid: r.pid, probe: r.kind, failures: r.state.failures, failureThreshold: r.config.failureThreshold, error: (r.result.error ?? "failed").slice(0, 1024) });
      } else {
        log.info({ worker: r.worker, pid: r.pid }, "probe recovered");
        void emit("obs.probe.recovered", { worker: r.worker, pid: r.pid, probe: r.kind, successes: r.state.successes, latencyMs: Math.round(r.result.latencyMs * 10) / 10 });
      }
    },
  });
  probes.sync(pids);

  const tail: Tail = await tailEvents(
    ctx.nc,
    { stream: config.stream.name, filter: deviceFilter(config.device), from: snap ? { seq: snap.seq + 1 } : "all" },
    (e) => {
      if (!/\.(obs\.worker|out\.worker|sys\.service\.heartbeat)/.test(e.subject)) return;
      pids = trackWorkers(pids, e);
      probes.sync(pids);
    },
  );

  const disks = h.disks.length ? h.disks : await discoverMounts();
  const thermalDir = resolve(config.configDir, h.thermalDir);
  const sampler = new Sampler({ thermalDir, disks, intervalMs: h.intervalMs, procRoot: opts.procRoot, temperatureFallback: siTemperature });
  const thresholds = new ThresholdTracker();
  const lines = Object.fromEntries(
    (Object.keys(DEFAULT_HYSTERESIS) as HealthMetric[]).map((m) => [m, resolveThreshold(h.thresholds[m], DEFAULT_HYSTERESIS[m])]),
  ) as Record<HealthMetric, { above: number; recoverBelow: number }>;
  const detector = h.anomaly.enabled ? new AnomalyDetector(ANOMALY_METRICS, h.anomaly) : undefined;
  const reported = new Map<string, string>();
  let lastTemp = 0;

  function reportProblems(problems: Problem[]): void {
    const now = new Map(problems.map((p) => [`${p.what}:${p.path ?? ""}`, p.error]));
    for (const p of problems) {
      const key = `${p.what}:${p.path ?? ""}`;
      if (reported.get(key) === p.error) continue; // reported once per distinct problem, not every sample
      log.warn({ what: p.what, path: p.path, error: p.error }, "health problem");
      void emit("obs.health.problem", { what: p.what, ...(p.path ? { path: p.path } : {}), error: p.error.slice(0, 1024) });
    }
    for (const key of reported.keys()) if (!now.has(key)) log.info({ key }, "health problem cleared");
    reported.clear();
    for (const [k, v] of now) reported.set(k, v);
  }

  function checkThresholds(d: SampleData): void {
    const check = (metric: HealthMetric, key: string, value: number | null, target?: string) => {
      const t = lines[metric];
      const tr = thresholds.step(key, value, t);
      if (!tr || value === null) return;
      const base = { metric, ...(target ? { target } : {}), value, above: t.above, recoverBelow: t.recoverBelow };
      log.info({ ...base, transition: tr }, `threshold ${tr}`);
      if (tr === "crossed") void emit("obs.health.threshold.crossed", { ...base, ...(metric === "cpu" && d.top ? { top: d.top } : {}) });
      else void emit("obs.health.threshold.recovered", base);
    };
    check("temperature", "temperature", d.tempC);
    check("cpu", "cpu", d.cpuPct);
    check("memory", "memory", d.memPct);
    for (const disk of d.disks) check("disk", `disk:${disk.mount}`, disk.usedPct, disk.mount);
  }

  function scoreAnomaly(d: SampleData): void {
    if (!detector) return;
    const busiest = [...d.workers].sort((a, b) => b.cpuPct - a.cpuPct)[0];
    if (d.tempC !== null) lastTemp = d.tempC;
    const s = detector.push([d.cpuPct, d.memPct, d.load1, d.tempC ?? lastTemp, busiest?.cpuPct ?? 0]);
    if (!s?.anomalous) return;
    const round = (x: number) => Math.round(x * 1000) / 1000;
    log.info({ score: s.score, feature: s.feature, worker: busiest?.worker }, "anomaly");
    void emit("obs.health.anomaly", {
      score: round(s.score),
      threshold: h.anomaly.threshold,
      feature: s.feature,
      deviation: round(s.deviation),
      ...(busiest ? { worker: busiest.worker, workerCpuPct: busiest.cpuPct } : {}),
      ...(d.top ? { top: d.top } : {}),
    });
  }

  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  const tick = async () => {
    try {
      const { data, problems } = await sampler.sample(pids);
      if (stopped) return;
      reportProblems(problems);
      await emit("obs.health.sample", data);
      checkThresholds(data);
      scoreAnomaly(data);
    } catch (err) {
      // A sampling failure is reported and the next interval tries again: never a crash.
      log.error({ err: (err as Error).message }, "sampling failed");
      reportProblems([{ what: "sampler", error: (err as Error).message }]);
    }
  };
  const loop = () => {
    if (stopped) return;
    running = tick().finally(() => {
      if (!stopped) timer = setTimeout(loop, h.intervalMs);
    });
  };
  loop();
  log.info({ intervalMs: h.intervalMs, thermalDir, disks, workers: Object.keys(pids), probes: config.workers.filter((w) => w.probe).map((w) => w.name) }, "health sampling");

  return async () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    probes.stop();
    await running?.catch(() => undefined);
    await tail.stop();
    await bus.flush();
    await bus.close();
  };
}
