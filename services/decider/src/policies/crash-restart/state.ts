import { withEntry, workerOf, type DeciderState, type WorkerView } from "@vigil/events";

export const CRASH_RESTART = "crash-restart";

/**
 * The crash-restart slice: `state.workers`, each worker's current run (status, pid) and restart
 * history (attempt: the backoff; restartTimes: the crash-loop window; its crash incident). Every
 * policy reads status and pid from it (workerOf); the JSON is the snapshot's (WorkerView, libs/events state.ts).
 */
export type WorkersState = Record<string, WorkerView>;
export const initialWorkers: WorkersState = {};

export function withWorker(s: DeciderState, name: string, f: (w: WorkerView) => WorkerView): DeciderState {
  return { ...s, workers: withEntry(s.workers, name, f(workerOf(s, name))) };
}
