import { RestartPolicySchema, type RestartPolicy } from "@vigil/events";
import type { DockerDriver } from "./docker-driver.js";
import type { ProcessDriver, RunStatus } from "./process-driver.js";
import type { WorkerFacts, WorkerSpec } from "./plan.js";

/** What the executors need from a driver: one per workload kind (process, container). */
export interface WorkloadOps {
  status(name: string): { status: RunStatus; pid?: number };
  start(name: string): Promise<number | { pid: number; containerId: string; adopted: boolean }>;
  stop(name: string): Promise<void>;
  kill(name: string, signal: NodeJS.Signals): Promise<void>;
  pause(name: string): void | Promise<void>;
  resume(name: string): void | Promise<void>;
}

/** The declared workers and their drivers: desired and current state for the planner, the driver for a worker. */
export class Workloads {
  constructor(
    readonly processes: ProcessDriver,
    /** Only when containers are declared, so a device without Docker never needs the engine. */
    readonly containers: DockerDriver | undefined,
  ) {}

  opsOf(worker: string): WorkloadOps {
    return this.containers?.config(worker) ? this.containers : this.processes;
  }

  declaredNames(): string[] {
    return [...this.processes.declared(), ...(this.containers?.declared() ?? [])];
  }

  desired(): WorkerSpec[] {
    return [...this.processes.declared().map((name) => ({ name, kind: "process" as const })), ...(this.containers?.declared() ?? []).map((name) => ({ name, kind: "container" as const }))];
  }

  facts(worker: string): WorkerFacts {
    return { name: worker, ...this.opsOf(worker).status(worker) };
  }

  current(): WorkerFacts[] {
    return this.declaredNames().map((name) => this.facts(name));
  }

  restartPolicyOf(worker: string): RestartPolicy {
    return this.processes.config(worker)?.restart ?? this.containers?.config(worker)?.restart ?? RestartPolicySchema.parse({});
  }
}
