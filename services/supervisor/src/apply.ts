import { runStep, type Executors, type Started } from "./executors.js";
import type { Step, WorkerSpec } from "./plan.js";
import type { ShutdownFlag } from "./shutdown.js";
import type { WorkerQueues } from "./worker-books.js";
import type { Workloads } from "./workloads.js";

/** What one step of a converge plan (boot, reload) did. */
export interface StepReport {
  /** 1-based. */
  index: number;
  step: Step;
  ok: boolean;
  error?: string;
  /** A start's result. */
  started?: Started;
  /** The pid the worker had before the step, when it had one. */
  previousPid?: number;
  durationMs: number;
}

export interface ApplyDeps {
  executors: Executors;
  queues: WorkerQueues;
  shutdown: ShutdownFlag;
  workloads: Workloads;
  now: () => number;
}

const workerOf = (s: Step): string | undefined => ("worker" in s ? s.worker : undefined);

/**
 * Runs a converge plan's steps in order, each on its worker's queue (so a command for that worker
 * never interleaves), and reports every step. A step that fails does not stop the others, except
 * that a worker whose start or readiness failed fails the starts of the workers depending on it.
 */
export async function applySteps(deps: ApplyDeps, steps: readonly Step[], specs: readonly WorkerSpec[], onStep: (r: StepReport) => Promise<void>): Promise<StepReport[]> {
  const dependsOn = new Map(specs.map((w) => [w.name, w.dependsOn ?? []]));
  const failed = new Set<string>();
  const reports: StepReport[] = [];
  for (const [i, step] of steps.entries()) {
    if (deps.shutdown.stopping()) break;
    const worker = workerOf(step);
    const t0 = deps.now();
    const blockedBy = worker === undefined ? undefined : step.action === "ready" ? (failed.has(worker) ? worker : undefined) : step.action === "start" ? dependsOn.get(worker)?.find((d) => failed.has(d)) : undefined;
    let report: StepReport;
    if (blockedBy !== undefined) {
      if (worker) failed.add(worker);
      report = { index: i + 1, step, ok: false, error: blockedBy === worker ? `${worker} did not start` : `not started: its dependency ${blockedBy} did not start or get ready`, durationMs: 0 };
    } else {
      report = await runOne(deps, step, i + 1, t0);
      if (!report.ok && worker && (step.action === "start" || step.action === "ready")) failed.add(worker);
    }
    reports.push(report);
    await onStep(report);
  }
  return reports;
}

async function runOne(deps: ApplyDeps, step: Step, index: number, t0: number): Promise<StepReport> {
  const worker = workerOf(step);
  const previousPid = worker ? deps.workloads.facts(worker).pid : undefined;
  const base = { index, step, ...(previousPid ? { previousPid } : {}) };
  const run = async (): Promise<StepReport> => {
    try {
      if (step.action === "start") {
        const started = await deps.executors.start(step);
        return { ...base, ok: true, started, durationMs: deps.now() - t0 };
      }
      await runStep(deps.executors, step);
      return { ...base, ok: true, durationMs: deps.now() - t0 };
    } catch (err) {
      return { ...base, ok: false, error: err instanceof Error ? err.message : String(err), durationMs: deps.now() - t0 };
    }
  };
  if (!worker) return run();
  let report!: StepReport;
  await deps.queues.enqueue(worker, async () => void (report = await run()));
  return report;
}
