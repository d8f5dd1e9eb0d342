import type { Attachment, DockerDriver } from "./docker-driver.js";
import type { Step, StepAction, StepOf } from "./plan.js";
import type { Workloads } from "./workloads.js";

/** What a start reports: a process's pid; a container's id and whether it was adopted. */
export interface Started {
  pid: number;
  containerId?: string;
  adopted?: boolean;
}

export interface StepResults {
  wait: void;
  stop: void;
  start: Started;
  ready: void;
  remove: void;
  pause: void;
  resume: void;
  kill: void;
  reattach: { vnics: Attachment[]; warnings: string[] };
}

/** One executor per step action, each typed for its own step: no cast. */
export type Executors = { [A in StepAction]: (step: StepOf<A>) => Promise<StepResults[A]> };

/** Backoff delays in flight; shutdown cuts them short (and then nothing further runs). */
export class Waits {
  private readonly pending = new Set<() => void>();
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.pending.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.pending.add(done);
    });
  }
  releaseAll(): void {
    for (const release of [...this.pending]) release();
  }
}

export function createExecutors(workloads: Workloads, waits: Waits): Executors {
  const ops = (w: string) => workloads.opsOf(w);
  return {
    wait: (s) => waits.wait(s.ms),
    stop: (s) => ops(s.worker).stop(s.worker),
    start: async (s) => {
      const r = await ops(s.worker).start(s.worker);
      return typeof r === "number" ? { pid: r } : r;
    },
    // Containers count as ready once started (their health is the docker driver's).
    ready: (s) => (workloads.containers?.config(s.worker) ? Promise.resolve() : workloads.processes.whenReady(s.worker)),
    // The stop before it was graceful (its own step); this deletes the container and its internal network.
    remove: (s) => containersOf(workloads, s.worker).remove(s.worker),
    pause: async (s) => ops(s.worker).pause(s.worker),
    resume: async (s) => ops(s.worker).resume(s.worker),
    kill: (s) => ops(s.worker).kill(s.worker, s.signal),
    reattach: (s) => containersOf(workloads, s.worker).reattach(s.worker, s.interface, { subnet: s.subnet, gateway: s.gateway }),
  };
}

function containersOf(workloads: Workloads, worker: string): DockerDriver {
  if (!workloads.containers?.owns(worker)) throw new Error(`unknown container workload "${worker}"`);
  return workloads.containers;
}

/** Runs one step with its own executor (the switch narrows the step for it). */
export function runStep(ex: Executors, step: Step): Promise<unknown> {
  switch (step.action) {
    case "wait":
      return ex.wait(step);
    case "stop":
      return ex.stop(step);
    case "start":
      return ex.start(step);
    case "ready":
      return ex.ready(step);
    case "remove":
      return ex.remove(step);
    case "pause":
      return ex.pause(step);
    case "resume":
      return ex.resume(step);
    case "kill":
      return ex.kill(step);
    case "reattach":
      return ex.reattach(step);
  }
}

/** Runs the steps in order; stops early (false) once the supervisor is shutting down. */
export async function runSteps(ex: Executors, steps: readonly Step[], stopping: () => boolean): Promise<boolean> {
  for (const step of steps) {
    if (stopping()) return false;
    await runStep(ex, step);
  }
  return !stopping();
}
