import type { ContainerConfig, DataInput, EventName, PoliciesConfig, RestartPolicy, VigilEvent, WorkerConfig } from "@vigil/events";
import type { DeciderState } from "@vigil/events";

/** What a policy wants published; the decider turns it into an event with a deterministic id. */
export interface Draft<N extends EventName = EventName> {
  name: N;
  data: DataInput<N>;
  incident?: string;
}

export interface PolicyContext {
  /** Restart settings of a worker (from config; defaults for undeclared names). */
  restartPolicy(worker: string): RestartPolicy;
  /** A declared worker's config; undefined for anything Vigil does not manage (never acted on). */
  worker(name: string): WorkerConfig | undefined;
  /** Declared workers, in config order. */
  workers: WorkerConfig[];
  /** Thresholds of the health policies. */
  policies: PoliciesConfig;
  /** Declared container workloads (their vNICs: who a network change concerns). */
  containers?: ContainerConfig[];
}

/** A policy: pure, clock-free; time comes from `event.time`. */
export interface Policy {
  name: string;
  decide(state: DeciderState, event: VigilEvent, ctx: PolicyContext): Draft[];
}

export function draft<N extends EventName>(name: N, data: DataInput<N>, incident?: string): Draft {
  return incident ? { name, data, incident } : { name, data };
}
