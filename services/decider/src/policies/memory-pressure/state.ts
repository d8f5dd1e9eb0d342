import { healthOf, type DeciderState, type HealthView } from "@vigil/events";

export const MEMORY = "memory";

/**
 * The memory-pressure slice: `state.health.memory`, set while memory is above its threshold — the
 * recovery line and how many samples it has stayed high since the last restart. Undefined (initial) otherwise.
 */
export type MemoryState = NonNullable<HealthView["memory"]>;
export const initialMemory: MemoryState | undefined = undefined;

export const memoryOf = (s: DeciderState): MemoryState | undefined => healthOf(s).memory;
