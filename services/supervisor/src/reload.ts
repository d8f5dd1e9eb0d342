import { randomUUID } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { loadConfig, type Logger, type VigilConfig } from "@vigil/events";
import { applySteps, type ApplyDeps, type StepReport } from "./apply.js";
import { withDeployment } from "./deployment.js";
import type { WorkerCgroups } from "./cgroups.js";
import type { Emit } from "./emit.js";
import type { OperatorStops } from "./operator-stops.js";
import { diffWorkers, plan, type Held, type Step, type WorkerDiff, type WorkerSpec } from "./plan.js";
import { processSpec, type Workloads } from "./workloads.js";

/**
 * A config reload (docs/reload.md): re-read the supervisor's own local config file (nothing from the
 * network declares a program), validate it, plan desired against current with the planner's
 * "converge" intent, emit the plan, run its steps and report each one, all under one change id.
 * The same path a deployment from the cloud will drive: desired workers changed → plan → steps.
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
    const previous = workloads.desired().filter((w) => w.kind === "process");
    const desired: WorkerSpec[] = config.workers.map(processSpec);
    const names = new Set([...previous, ...desired].map((w) => w.name));
    const current = [...names].map((n) => workloads.facts(n));
    const p = plan(desired, current, { kind: "converge", only: "process", previous });
    if (!p.ok) throw new Error(p.reason); // converge always plans
    const diff = diffWorkers(previous, desired);
    this.warnAboutContainers(config);
    const held = p.held ?? [];
    await emit("dec.config.planned", { change, configPath, diff, steps: p.steps.filter(hasWorker).map((s) => ({ action: s.action, worker: s.worker })), held, ...(req.dryRun ? { dryRun: true } : {}) });
    log.info({ change, added: diff.added, removed: diff.removed, changed: diff.changed, steps: p.steps.length, dryRun: !!req.dryRun }, "reload planned");
    if (req.dryRun) return { change, ok: true, dryRun: true, diff, steps: p.steps, held, reports: [] };
    workloads.processes.declare(config.workers);
    for (const w of diff.removed) this.deps.stops.clear(w); // a removed worker's stop is forgotten with it
    const reports = await applySteps(this.deps.apply, p.steps, desired, (r) => this.report(change, p.steps.length, r, config));
    for (const w of diff.removed) this.deps.cgroups?.remove(w);
    const failed = reports.filter((r) => !r.ok).length;
    await emit("out.config.applied", { change, steps: reports.length, failed, durationMs: this.deps.apply.now() - t0 });
    return { change, ok: true, dryRun: false, diff, steps: p.steps, held, reports };
  }

  /** Each step's outcome; a start is also the usual obs.worker.started (the decider and the console follow pids by it). */
  private async report(change: string, of: number, r: StepReport, config: VigilConfig): Promise<void> {
    const { emit, log } = this.deps;
    if (!hasWorker(r.step)) return;
    const worker = r.step.worker;
    if (!r.ok) log.error({ change, worker, action: r.step.action, err: r.error }, "reload step failed");
    if (r.started) {
      const w = config.workers.find((x) => x.name === worker);
      await emit("obs.worker.started", { worker, pid: r.started.pid, command: w ? [w.command, ...w.args].join(" ") : worker });
    }
    const pid = r.started?.pid;
    await emit("out.config.step", { change, step: r.index, of, action: r.step.action, worker, ok: r.ok, ...(pid ? { pid } : {}), ...(r.previousPid && r.previousPid !== pid ? { previousPid: r.previousPid } : {}), ...(r.error ? { error: r.error } : {}), durationMs: Math.round(r.durationMs * 1000) / 1000 });
  }

  /** Containers are not reloaded yet: say which declarations differ, instead of silently ignoring them. */
  private warnAboutContainers(config: VigilConfig): void {
    const running = this.deps.workloads.containers;
    const declaredNow = running?.declared() ?? [];
    const differs = config.containers.filter((c) => JSON.stringify(running?.config(c.name)) !== JSON.stringify(c)).map((c) => c.name);
    const removed = declaredNow.filter((n) => !config.containers.some((c) => c.name === n));
    if (differs.length || removed.length) this.deps.log.warn({ changed: differs, removed }, "reload: container changes are not applied by a reload; restart vigil up to apply them");
  }
}

const hasWorker = (s: Step): s is Exclude<Step, { action: "wait" }> => s.action !== "wait";
