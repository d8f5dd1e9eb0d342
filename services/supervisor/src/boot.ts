import type { Logger, VigilConfig } from "@vigil/events";
import type { Emit } from "./emit.js";
import { applySteps, type ApplyDeps } from "./apply.js";
import { runStep, type Executors, type Started } from "./executors.js";
import { plan, type Step, type WorkloadKind } from "./plan.js";
import type { ShutdownFlag } from "./shutdown.js";
import type { Workloads } from "./workloads.js";

export interface BootDeps {
  config: VigilConfig;
  log: Logger;
  emit: Emit;
  workloads: Workloads;
  executors: Executors;
  shutdown: ShutdownFlag;
}

/** The steps that bring one kind of workload from nothing running to what the config declares. */
function bootSteps(workloads: Workloads, kind: WorkloadKind): Step[] {
  const p = plan(workloads.desired(), workloads.current(), { kind: "converge", only: kind });
  return p.ok ? p.steps : [];
}

/** Runs one boot step; a start that fails is reported by `onFailure` and the others still run. */
async function bootStep(deps: BootDeps, step: Step, onStarted: (worker: string, r: Started) => Promise<void>, onFailure: (worker: string, err: Error) => Promise<void>): Promise<void> {
  if (step.action !== "start") return void (await runStep(deps.executors, step));
  try {
    await onStarted(step.worker, await deps.executors.start(step));
  } catch (err) {
    await onFailure(step.worker, err instanceof Error ? err : new Error(String(err)));
  }
}

/**
 * Boot: every declared process worker starts, in dependency order, each after its dependencies are
 * ready; workers the operator stopped stay stopped (and so do the ones depending on them).
 */
export async function bootProcesses(deps: BootDeps & { apply: ApplyDeps }): Promise<void> {
  const byName = new Map(deps.config.workers.map((w) => [w.name, w]));
  const desired = deps.workloads.desired().filter((w) => w.kind === "process");
  const p = plan(desired, deps.workloads.current(), { kind: "converge", only: "process" });
  if (!p.ok) return;
  for (const h of p.held ?? []) deps.log.info(h, "worker held at boot");
  await applySteps(deps.apply, p.steps, desired, async (r) => {
    if (r.step.action === "start" && r.started) {
      const w = byName.get(r.step.worker);
      await deps.emit("obs.worker.started", { worker: r.step.worker, pid: r.started.pid, command: w ? [w.command, ...w.args].join(" ") : r.step.worker });
    } else if (!r.ok && "worker" in r.step) deps.log.error({ worker: r.step.worker, step: r.step.action, err: r.error }, "worker could not start");
  });
}

/**
 * Containers: reach the engine, then adopt or start each one. Without the engine the process
 * workers run on; the driver says so (event + log) and keeps trying every 5 s. Returns the stop of the retry.
 */
export function bootContainers(deps: BootDeps): { booted: Promise<void>; stop: () => void } {
  let retry: NodeJS.Timeout | undefined;
  const attempt = async (): Promise<void> => {
    const docker = deps.workloads.containers;
    if (!docker || deps.shutdown.stopping()) return;
    const socketPath = deps.config.docker.socketPath;
    let version: string;
    try {
      version = await docker.connect();
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      deps.log.error({ socketPath, err: error }, "docker driver unavailable: container workloads are not running (process workers are unaffected); retrying every 5 s");
      if (!retry) await deps.emit("sys.docker.unavailable", { socketPath, error, workloads: docker.declared() });
      retry = setTimeout(() => void attempt(), 5_000);
      retry.unref();
      return;
    }
    const adopted = await startContainers(deps);
    deps.log.info({ version, adopted }, "docker driver ready");
    await deps.emit("sys.docker.available", { socketPath, version, adopted });
  };
  return { booted: attempt(), stop: () => clearTimeout(retry) };
}

/** Adopts or starts every declared container; returns the adopted ones. */
async function startContainers(deps: BootDeps): Promise<string[]> {
  const byName = new Map(deps.config.containers.map((c) => [c.name, c]));
  const adopted: string[] = [];
  for (const step of bootSteps(deps.workloads, "container")) {
    await bootStep(
      deps,
      step,
      async (worker, r) => {
        const c = byName.get(worker);
        if (r.adopted) adopted.push(worker);
        await deps.emit("obs.worker.started", { worker, pid: r.pid, command: c ? [c.image, ...(c.command ?? [])].join(" ") : worker, containerId: r.containerId, ...(r.adopted ? { adopted: true } : {}) });
      },
      async (worker, err) => {
        deps.log.error({ worker, err: err.message }, "container could not start");
        await deps.emit("obs.worker.exited", { worker, code: null, signal: null, expected: false, uptimeMs: 0, error: err.message });
      },
    );
  }
  return adopted;
}
