import { randomUUID } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { loadConfig, type Logger, type VigilConfig } from "@vigil/events";
import { applySteps, type ApplyDeps, type StepReport } from "./apply.js";
import { withDeployment } from "./deployment.js";
import type { WorkerCgroups } from "./cgroups.js";
import type { Emit } from "./emit.js";
import type { OperatorStops } from "./operator-stops.js";
import type { DockerDriver } from "./docker-driver.js";
import type { Started } from "./executors.js";
import { diffWorkers, plan, type Held, type Step, type WorkerDiff, type WorkerSpec, type WorkloadKind } from "./plan.js";
import { containerSpec, processSpec, type Workloads } from "./workloads.js";

/**
 * A config reload (docs/reload.md): re-read the supervisor's own local config file (nothing from the
 * network declares a program), validate it, plan desired against current with the planner's
 * "converge" intent, emit the plan, run its steps and report each one, all under one change id.
 * Workers and containers alike; a deployment from the cloud drives the same path: desired changed → plan → steps.
 */

export interface ReloadRequest {
  /** The change id (vigil reload picks it, to find its events); default a new one. */
  change?: string;
  /** Plan and report, change nothing. */
  dryRun?: boolean;
  /** The config to apply instead of re-reading the file (tests, benchmarks). */
  config?: VigilConfig;
}

export type ReloadResult =
  | { change: string; ok: true; dryRun: boolean; diff: WorkerDiff; steps: Step[]; held: Held[]; reports: StepReport[] }
  | { change: string; ok: false; error: string };

export interface ReloadDeps {
  /** The file to re-read ($VIGIL_CONFIG of the supervisor). */
  configPath: string | undefined;
  env: NodeJS.ProcessEnv;
  log: Logger;
  emit: Emit;
  workloads: Workloads;
  apply: ApplyDeps;
  stops: OperatorStops;
  cgroups?: WorkerCgroups;
  /** Makes the docker driver when a reload declares the first containers (service.ts: the one boot would have made). */
  dockerDriver?: () => DockerDriver;
}

/** Where `vigil reload` leaves its request (change id, dry run) before it signals: <dataDir>/reload-request.json. */
export const reloadRequestFile = (dataDir: string): string => join(dataDir, "reload-request.json");

/** Reads and removes the request `vigil reload` left; a bare SIGHUP (kill -HUP) has none. */
export function takeReloadRequest(dataDir: string): ReloadRequest {
  const file = reloadRequestFile(dataDir);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
    rmSync(file, { force: true });
  } catch {
    return {};
  }
  const r = (raw ?? {}) as { change?: unknown; dryRun?: unknown };
  return {
    ...(typeof r.change === "string" && /^[A-Za-z0-9_-]{1,64}$/.test(r.change) ? { change: r.change } : {}),
    ...(r.dryRun === true ? { dryRun: true } : {}),
  };
}

/** Reloads one at a time, in the order asked. */
export class Reloads {
  private chain: Promise<unknown> = Promise.resolve();
  constructor(private readonly deps: ReloadDeps) {}

  reload(req: ReloadRequest = {}): Promise<ReloadResult> {
    const next = this.chain.then(() => this.once(req));
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async once(req: ReloadRequest): Promise<ReloadResult> {
    const { log, emit, workloads } = this.deps;
    const change = req.change ?? randomUUID();
    const configPath = resolve(this.deps.configPath ?? "vigil.yaml");
    const t0 = this.deps.apply.now();
    let config: VigilConfig;
    try {
      // A deployment from the cloud rides on the local config (deployment.ts): a local reload keeps it.
      config = req.config ?? withDeployment(loadConfig(this.deps.configPath, this.deps.env), log);
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      log.warn({ change, err: error }, "reload refused: the config does not validate; nothing changed");
      await emit("dec.config.rejected", { change, configPath, error });
      return { change, ok: false, error };
    }
    const switched = kindSwitches(workloads.desired(), config);
    if (switched.length) {
      const error = `${switched.join(", ")}: a worker cannot become a container, or a container a worker, in one reload (remove it, reload, then declare it again)`;
      log.warn({ change, err: error }, "reload refused; nothing changed");
      await emit("dec.config.rejected", { change, configPath, error });
      return { change, ok: false, error };
    }
    const { diff, steps, held, specs, removedProcesses } = this.planChange(config);
    await emit("dec.config.planned", { change, configPath, diff, steps: steps.filter(hasWorker).map((s) => ({ action: s.action, worker: s.worker })), held, ...(req.dryRun ? { dryRun: true } : {}) });
    log.info({ change, added: diff.added, removed: diff.removed, changed: diff.changed, steps: steps.length, dryRun: !!req.dryRun }, "reload planned");
    if (req.dryRun) return { change, ok: true, dryRun: true, diff, steps, held, reports: [] };
    workloads.processes.declare(config.workers);
    (await this.dockerFor(config))?.declare(config.containers);
    for (const w of diff.removed) this.deps.stops.clear(w); // a removed worker's stop is forgotten with it
    const reports = await applySteps(this.deps.apply, steps, specs, (r) => this.report(change, steps.length, r, config));
    for (const w of removedProcesses) this.deps.cgroups?.remove(w);
    const failed = reports.filter((r) => !r.ok).length;
    await emit("out.config.applied", { change, steps: reports.length, failed, durationMs: this.deps.apply.now() - t0 });
    return { change, ok: true, dryRun: false, diff, steps, held, reports };
  }

  /**
   * One plan per workload kind (processes, then containers), each desired against what was declared
   * before and what runs, joined into one change: one diff, one list of steps, one list of held workers.
   */
  private planChange(config: VigilConfig): { diff: WorkerDiff; steps: Step[]; held: Held[]; specs: WorkerSpec[]; removedProcesses: string[] } {
    const { workloads } = this.deps;
    const desiredOf: Record<WorkloadKind, WorkerSpec[]> = { process: config.workers.map(processSpec), container: config.containers.map(containerSpec) };
    const diff: WorkerDiff = { added: [], removed: [], changed: [], unchanged: [] };
    const steps: Step[] = [];
    const held: Held[] = [];
    let removedProcesses: string[] = [];
    for (const kind of ["process", "container"] as const) {
      const previous = workloads.desired().filter((w) => w.kind === kind);
      const desired = desiredOf[kind];
      const names = new Set([...previous, ...desired].map((w) => w.name));
      const p = plan(desired, [...names].map((n) => workloads.facts(n)), { kind: "converge", only: kind, previous });
      if (!p.ok) throw new Error(p.reason); // converge always plans
      const d = diffWorkers(previous, desired);
      diff.added.push(...d.added);
      diff.removed.push(...d.removed);
      diff.changed.push(...d.changed);
      diff.unchanged.push(...d.unchanged);
      steps.push(...p.steps);
      held.push(...(p.held ?? []));
      if (kind === "process") removedProcesses = d.removed;
    }
    return { diff, steps, held, specs: [...desiredOf.process, ...desiredOf.container], removedProcesses };
  }

  /**
   * The docker driver for a config that declares containers. Boot made one when it had containers (and
   * keeps retrying the engine itself); the first containers a reload declares get a new one, connected
   * here: when the engine does not answer, their starts fail with its message and it is said once.
   */
  private async dockerFor(config: VigilConfig): Promise<DockerDriver | undefined> {
    const { workloads, log, emit } = this.deps;
    if (workloads.containers || !config.containers.length || !this.deps.dockerDriver) return workloads.containers;
    const driver = this.deps.dockerDriver();
    workloads.useContainers(driver);
    const socketPath = config.docker.socketPath;
    try {
      const version = await driver.connect();
      await emit("sys.docker.available", { socketPath, version, adopted: [] });
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      log.error({ socketPath, err: error }, "docker driver unavailable: the reload's containers cannot start");
      await emit("sys.docker.unavailable", { socketPath, error, workloads: config.containers.map((c) => c.name) });
    }
    return driver;
  }

  /** Each step's outcome; a start is also the usual obs.worker.started (the decider and the console follow pids by it). */
  private async report(change: string, of: number, r: StepReport, config: VigilConfig): Promise<void> {
    const { emit, log } = this.deps;
    if (!hasWorker(r.step)) return;
    const worker = r.step.worker;
    if (!r.ok) log.error({ change, worker, action: r.step.action, err: r.error }, "reload step failed");
    if (r.started) await emit("obs.worker.started", startedData(config, worker, r.started));
    const pid = r.started?.pid;
    await emit("out.config.step", { change, step: r.index, of, action: r.step.action, worker, ok: r.ok, ...(pid ? { pid } : {}), ...(r.previousPid && r.previousPid !== pid ? { previousPid: r.previousPid } : {}), ...(r.error ? { error: r.error } : {}), durationMs: Math.round(r.durationMs * 1000) / 1000 });
  }
}

/** Names declared now as one kind and in `config` as the other: the two drivers would each think the other runs it. */
function kindSwitches(declared: readonly WorkerSpec[], config: VigilConfig): string[] {
  const kindNow = new Map(declared.map((w) => [w.name, w.kind]));
  return [...config.workers.filter((w) => kindNow.get(w.name) === "container"), ...config.containers.filter((c) => kindNow.get(c.name) === "process")].map((w) => w.name);
}

/** obs.worker.started for a start a reload made, as boot says it (a container's with its id). */
function startedData(config: VigilConfig, worker: string, s: Started) {
  const w = config.workers.find((x) => x.name === worker);
  if (w) return { worker, pid: s.pid, command: [w.command, ...w.args].join(" ") };
  const c = config.containers.find((x) => x.name === worker);
  return { worker, pid: s.pid, command: c ? [c.image, ...(c.command ?? [])].join(" ") : worker, ...(s.containerId ? { containerId: s.containerId } : {}), ...(s.adopted ? { adopted: true } : {}) };
}

const hasWorker = (s: Step): s is Exclude<Step, { action: "wait" }> => s.action !== "wait";
