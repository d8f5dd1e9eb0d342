export type WorkerStatus = "unknown" | "running" | "exited" | "restarting" | "stopped" | "paused" | "flapping";

export interface WorkerView {
  status: WorkerStatus;
  pid?: number;
  /** Epoch ms of the event that reported the current run. */
  startedAt?: number;
  /** Restarts since the worker was last stable: picks the backoff delay. */
  attempt: number;
  /** Epoch ms of recent restarts (the crash-loop window). */
  restartTimes: number[];
  /** Restarts decided since the decider's state began. */
  restarts: number;
  /** The open incident, if any. */
  incident?: string;
}

export interface IncidentView {
  id: string;
  worker: string;
  status: "open" | "resolved" | "escalated";
  reason: string;
  openedAt: string;
  closedAt?: string;
}

export interface DeciderState {
  workers: Record<string, WorkerView>;
  /** Open incidents, plus the most recent closed ones (bounded). */
  incidents: Record<string, IncidentView>;
}

export const initialState: DeciderState = { workers: {}, incidents: {} };

export const CLOSED_INCIDENTS_KEPT = 50;

export function workerOf(state: DeciderState, name: string): WorkerView {
  return state.workers[name] ?? { status: "unknown", attempt: 0, restartTimes: [], restarts: 0 };
}

export function openIncidents(state: DeciderState): IncidentView[] {
  return Object.values(state.incidents).filter((i) => i.status === "open");
}

/** JetStream KV bucket holding the decider's state snapshot, one key per device. */
export const DECIDER_BUCKET = "vigil_decider";

export interface DeciderSnapshot {
  /** The last stream sequence folded into `state`. */
  seq: number;
  state: DeciderState;
  version: 1;
}
