import type { ContainerConfig, DataInput, DeciderState, EventHandlers, EventName, PoliciesConfig, RestartPolicy, VigilEvent, WorkerConfig } from "@vigil/events";

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
  /** Thresholds of the health policies (each policy reads only its own part). */
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

/** What the fold needs besides the state: the health policies' thresholds (CPU streaks count against cpu.thresholdPct). */
export interface EvolveContext {
  policies: PoliciesConfig;
}

/**
 * A slice's part of the fold: one handler per event name it reacts to, each given the event
 * narrowed to its type, the state so far and the context; it returns the next state.
 */
export type SliceEvolve = EventHandlers<[DeciderState, EvolveContext], DeciderState>;
