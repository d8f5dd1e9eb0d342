import { healthOf, type DeciderState, type HealthView } from "@vigil/events";

/** `state.health` changed by `f` (created empty first: the snapshot has it once any health slice has folded an event). */
export function withHealth(s: DeciderState, f: (h: HealthView) => HealthView): DeciderState {
  return { ...s, health: f(healthOf(s)) };
}
