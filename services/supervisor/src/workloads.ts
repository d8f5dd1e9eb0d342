import { RestartPolicySchema, type ContainerConfig, type RestartPolicy, type WorkerConfig } from "@vigil/events";
import type { DockerDriver } from "./docker-driver.js";
import type { ProcessDriver, RunStatus } from "./process-driver.js";
import type { OperatorStops } from "./operator-stops.js";
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
    private docker: DockerDriver | undefined,
    /** Workers the operator stopped: they stay stopped until started (operator-stops.ts). */
    readonly stops?: OperatorStops,
  ) {}

  get containers(): DockerDriver | undefined {
    return this.docker;
  }

  /** The docker driver a reload made when the first containers were declared (boot had none). */
  useContainers(driver: DockerDriver): void {
    this.docker = driver;
  }

  opsOf(worker: string): WorkloadOps {
    return this.docker?.owns(worker) ? this.docker : this.processes;
  }

  declaredNames(): string[] {
    return [...this.processes.declared(), ...(this.containers?.declared() ?? [])];
  }

  desired(): WorkerSpec[] {
    const processes = this.processes.declared().map((name) => processSpec(this.processes.config(name)!));
    return [...processes, ...(this.docker?.declared() ?? []).map((name) => containerSpec(this.docker!.config(name)!))];
  }

  facts(worker: string): WorkerFacts {
    return { name: worker, ...this.opsOf(worker).status(worker), ...(this.stops?.has(worker) ? { stoppedByOperator: true } : {}) };
  }

  current(): WorkerFacts[] {
    return this.declaredNames().map((name) => this.facts(name));
  }

  restartPolicyOf(worker: string): RestartPolicy {
    return this.processes.config(worker)?.restart ?? this.containers?.config(worker)?.restart ?? RestartPolicySchema.parse({});
  }
}

/** JSON with object keys sorted, so `env: {a, b}` and `env: {b, a}` compare equal. */
function canonical(v: unknown): string {
  if (v === undefined) return "";
  if (Array.isArray(v) || v === null || typeof v !== "object") return JSON.stringify(v);
  return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(",")}}`;
}

/**
 * A process worker's spec for the planner. `settings` are what a running process was started with
 * (a change restarts it); the rest (restart policy, priority, probe, ready, stopGraceMs …) is read
 * from the config when needed, so a reload applies it without touching the process.
 */
export function processSpec(w: WorkerConfig): WorkerSpec {
  const settings = { command: w.command, args: w.args, env: w.env, inheritEnv: w.inheritEnv, cwd: w.cwd, limits: w.limits };
  return {
    name: w.name,
    kind: "process",
    settings: Object.fromEntries(Object.entries(settings).map(([k, v]) => [k, canonical(v)])),
    dependsOn: w.dependsOn,
    restartWithDependency: w.restartWithDependency,
  };
}

/**
 * A container workload's spec for the planner. `settings` are what the engine created the container
 * from (the fields of networks.ts specHash: image, command, env, labels, cpus, memory, internalNetwork,
 * vnics): a change recreates it. Restart policy, stopGraceMs, essential and priority are Vigil's, read
 * when needed, so they apply without touching the container (Docker's own restart policy stays off).
 */
export function containerSpec(c: ContainerConfig): WorkerSpec {
  const settings = { image: c.image, command: c.command, env: c.env, labels: c.labels, cpus: c.cpus, memory: c.memory, internalNetwork: c.internalNetwork, vnics: c.vnics };
  return { name: c.name, kind: "container", settings: Object.fromEntries(Object.entries(settings).map(([k, v]) => [k, canonical(v)])) };
}
