import { eventName, type DeciderState, type VigilEvent } from "@vigil/events";

export interface TrackedWorker {
  pid: number;
  paused: boolean;
  /** Epoch ms of the event that reported this pid (probes wait initialDelayMs from here). */
  since: number;
}

export type WorkerPids = Record<string, TrackedWorker>;

/** The managed workers' pids as the decider last saw them (the KV snapshot): the starting point. */
export function pidsFromSnapshot(state: DeciderState | undefined, now: number): WorkerPids {
  const out: WorkerPids = {};
  for (const [name, w] of Object.entries(state?.workers ?? {})) {
    if (w.pid && (w.status === "running" || w.status === "paused" || w.status === "restarting")) out[name] = { pid: w.pid, paused: w.status === "paused", since: w.startedAt ?? now };
  }
  return out;
}

/**
 * Folds the supervisor's events into "which pid is which managed worker" — pure. Only the supervisor
 * names pids of workers, so nothing else can make the health service attribute a process to a worker.
 */
export function trackWorkers(pids: WorkerPids, e: VigilEvent): WorkerPids {
  const name = eventName(e);
  if (!name) return pids;
  const d = e.data as { worker?: string; pid?: number };
  const t = Date.parse(e.time);
  const set = (w: string, v: TrackedWorker | undefined) => {
    const next = { ...pids };
    if (v) next[w] = v;
    else delete next[w];
    return next;
  };
  switch (name) {
    case "obs.worker.started":
    case "out.worker.started":
    case "out.worker.restarted":
      return d.worker && d.pid ? set(d.worker, { pid: d.pid, paused: false, since: t }) : pids;
    case "out.worker.paused":
    case "out.worker.resumed": {
      const w = d.worker ? pids[d.worker] : undefined;
      return w && d.worker ? set(d.worker, { ...w, paused: name === "out.worker.paused" }) : pids;
    }
    case "obs.worker.exited": {
      const w = d.worker ? pids[d.worker] : undefined;
      return w && d.worker && (d.pid === undefined || d.pid === w.pid) ? set(d.worker, undefined) : pids;
    }
    case "out.worker.stopped":
    case "out.worker.killed":
      return d.worker ? set(d.worker, undefined) : pids;
    case "sys.service.heartbeat": {
      // The supervisor's heartbeat lists every worker: it corrects anything missed.
      const hb = e.data as { service: string; workers?: Array<{ name: string; status: string; pid?: number }> };
      if (hb.service !== "supervisor" || !hb.workers) return pids;
      const next: WorkerPids = {};
      for (const w of hb.workers) {
        if (!w.pid || (w.status !== "running" && w.status !== "paused")) continue;
        const known = pids[w.name];
        next[w.name] = known?.pid === w.pid ? { ...known, paused: w.status === "paused" } : { pid: w.pid, paused: w.status === "paused", since: t };
      }
      return next;
    }
    default:
      return pids;
  }
}
