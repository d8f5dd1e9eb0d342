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
  /** Escalated as a crash loop and retried every restart.coolDownMs until a run is stable. */
  coolingDown?: boolean;
}

export interface IncidentView {
  id: string;
  worker: string;
  status: "open" | "resolved" | "escalated";
  reason: string;
  openedAt: string;
  /** Set when it is over: resolved, or acknowledged by an operator. An escalated incident stays open until then. */
  closedAt?: string;
  /** Who acknowledged it (`vigil ack`). */
  acknowledgedBy?: string;
  /** The policy that opened it (health policies), and the latest remediation ("policy/action"). */
  policy?: string;
  lastAction?: string;
}

export interface DeciderState {
  workers: Record<string, WorkerView>;
  /** Open incidents, plus the most recent closed ones (bounded). */
  incidents: Record<string, IncidentView>;
  /** What the health policies know (absent until the first health event: older snapshots still load). */
  health?: HealthView;
  /** Container workloads' vNICs as last reported (obs.container.networks): who to reattach on a network change. */
  containers?: Record<string, { vnics: Array<{ vnic: string; parentInterface: string; network: string; subnet: string; ip?: string; mac?: string }> }>;
  /** Success-rate projection: "policy/action" → how often it fixed the problem. */
  outcomes?: Record<string, OutcomeStats>;
  /** Mounts above their disk threshold (the disk-pressure policy), by mount point. */
  disk?: Record<string, DiskPressureView>;
  /** The deployment under its health window (services/decider/src/policies/deployment); absent: none. */
  deployment?: DeploymentWatch;
}

export interface DeploymentWatch {
  version: number;
  workers: string[];
  /** Epoch ms of out.deployment.applied: the window runs from here (event time, the decider is clock-free). */
  since: number;
  windowMs: number;
  /** Decided: healthy or rolled back (the window is over). */
  done?: "healthy" | "rollback";
  /** The worker that failed it, and the incident the rollback runs under. */
  failed?: { worker: string; incident: string };
}

/** A worker's figures from the latest health sample, and its CPU streaks. */
export interface WorkerHealthView {
  pid: number;
  cpuPct: number;
  rssBytes: number;
  /** Consecutive samples at or above the CPU threshold. */
  hotSamples: number;
  /** Consecutive samples below it. */
  coolSamples: number;
}

/** An open health-policy incident of one worker: how often Vigil has tried to fix it. */
export interface RemediationView {
  incident: string;
  policy: string;
  /** Remediations decided inside this incident. */
  attempts: number;
  /** "policy/action" of the latest one: credited or blamed in `outcomes`. */
  lastAction?: string;
  /** Escalated: no more remediation of this process (`pid`) — an operator's turn; a new process starts over. */
  escalated?: boolean;
  pid?: number;
}

export interface HealthView {
  /** Set while the device is overheated. */
  overheat?: { incident?: string; recoverBelow: number; paused: string[] };
  /** Set while memory is above its threshold. */
  memory?: { recoverBelow: number; highSamples: number };
  workers: Record<string, WorkerHealthView>;
  remediations: Record<string, RemediationView>;
}

/** A mount under pressure: the steps taken so far in its incident, and what the undo must give back. */
export interface DiskPressureView {
  above: number;
  recoverBelow: number;
  incident?: string;
  /** Steps taken: 0 none yet, 1 logs pruned, 2 telemetry downsampled, 3 writers paused. */
  steps: number;
  /** Epoch ms of the latest step: the next waits for a sample taken after it. */
  stepAt?: number;
  paused: string[];
  downsampled: boolean;
  /** Log bytes per worker from the supervisor's latest prune (out.logs.pruned), most first. */
  writers?: Array<{ worker: string; bytes: number }>;
}

export interface OutcomeStats {
  attempts: number;
  succeeded: number;
  failed: number;
}

/**
 * Name-keyed state (workers, incidents, health, containers, outcomes) is plain JSON objects — the KV
 * snapshot the gateway and CLI read. Names come from events and snapshots, so a lookup must never
 * find what every object inherits (`constructor`, `toString`, `__proto__` …): read with `ownEntry`,
 * write with `withEntry` or spread/Object.fromEntries (own data properties, also for `__proto__`),
 * never `obj[name] = …` (which for `__proto__` would replace the prototype).
 */
export function ownEntry<T>(r: Readonly<Record<string, T>> | undefined, key: string | undefined): T | undefined {
  return r !== undefined && key !== undefined && Object.hasOwn(r, key) ? r[key] : undefined;
}

/** A copy of `r` with `key` set to `value` (an own property whatever the key). */
export function withEntry<T>(r: Readonly<Record<string, T>> | undefined, key: string, value: NoInfer<T>): Record<string, T> {
  return { ...r, [key]: value };
}

export function healthOf(state: DeciderState): HealthView {
  return state.health ?? { workers: {}, remediations: {} };
}

export const initialState: DeciderState = { workers: {}, incidents: {} };

export const CLOSED_INCIDENTS_KEPT = 50;

export function workerOf(state: DeciderState, name: string): WorkerView {
  return ownEntry(state.workers, name) ?? { status: "unknown", attempt: 0, restartTimes: [], restarts: 0 };
}

/** Open incidents, and escalated ones nobody resolved or acknowledged yet (they still need a human). */
export function openIncidents(state: DeciderState): IncidentView[] {
  return Object.values(state.incidents).filter(isOpenIncident);
}

export function isOpenIncident(i: IncidentView): boolean {
  return !i.closedAt && (i.status === "open" || i.status === "escalated");
}

/** JetStream KV bucket holding the decider's state snapshot, one key per device. */
export const DECIDER_BUCKET = "vigil_decider";

export interface DeciderSnapshot {
  /** The last stream sequence folded into `state`. */
  seq: number;
  state: DeciderState;
  version: 1;
}
