import { workerOf, type DeciderState, type WorkerConfig } from "@vigil/events";

/**
 * Workers that must keep running because an essential worker that runs depends on them, directly or
 * through other workers (`dependsOn`): shedding (overheat, disk pressure) never pauses them, or the
 * essential worker would stall behind a stopped dependency.
 */
export function heldByEssential(state: DeciderState, workers: readonly WorkerConfig[]): Set<string> {
  const byName = new Map(workers.map((w) => [w.name, w]));
  const held = new Set<string>();
  const hold = (name: string) => {
    for (const dep of byName.get(name)?.dependsOn ?? []) {
      if (held.has(dep)) continue;
      held.add(dep);
      hold(dep);
    }
  };
  for (const w of workers) if (w.essential && workerOf(state, w.name).status !== "stopped") hold(w.name);
  return held;
}
