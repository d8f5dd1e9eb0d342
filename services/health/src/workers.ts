import { eventName, ownEntry, withEntry, type DeciderState, type VigilEvent } from "@vigil/events";

export interface TrackedWorker {
  pid: number;
  paused: boolean;
  /** Epoch ms of the event that reported this pid (probes wait initialDelayMs from here). */
  since: number;
}

/** Keyed by worker name: read with ownEntry (a name like `constructor` must not find Object.prototype's). */
export type WorkerPids = Record<string, TrackedWorker>;

/** The managed workers' pids as the decider last saw them (the KV snapshot): the starting point. */
export function pidsFromSnapshot(state: DeciderState | undefined, now: number): WorkerPids {
  return Object.fromEntries(
    Object.entries(state?.workers ?? {})
      .filter(([, w]) => w.pid && (w.status === "running" || w.status === "paused" || w.status === "restarting"))
      .map(([name, w]) => [name, { pid: w.pid!, paused: w.status === "paused", since: w.startedAt ?? now }]),
  );
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
    if (v) return withEntry(pids, w, v);
    const next = { ...pids };
    delete next[w];
    return next;
  };
  switch (name) {
    case "obs.worker.started":
    case "out.worker.started":
    case "out.worker.restarted":
      return d.worker && d.pid ? set(d.worker, { pid: d.pid, paused: false, since: t }) : pids;
    case "out.worker.paused":
    case "out.worker.resumed": {
      const w = ownEntry(pids, d.worker);
      return w && d.worker ? set(d.worker, { ...w, paused: name === "out.worker.paused" }) : pids;
    }
    case "obs.worker.exited": {
      const w = ownEntry(pids, d.worker);
      return w && d.worker && (d.pid === undefined || d.pid === w.pid) ? set(d.worker, undefined) : pids;
    }
    case "out.worker.stopped":
    case "out.worker.killed":
      return d.worker ? set(d.worker, undefined) : pids;
    case "sys.service.heartbeat": {
      // The supervisor's heartbeat lists every worker: it corrects anything missed.
      const hb = e.data as { service: string; workers?: Array<{ name: string; status: string; pid?: number }> };
      if (hb.service !== "supervisor" || !hb.workers) return pids;
      const running = hb.workers.filter((w): w is typeof w & { pid: number } => !!w.pid && (w.status === "running" || w.status === "paused"));
      return Object.fromEntries(
        running.map((w) => {
          const known = ownEntry(pids, w.name);
          return [w.name, known?.pid === w.pid ? { ...known, paused: w.status === "paused" } : { pid: w.pid, paused: w.status === "paused", since: t }];
        }),
      );
    }
    default:
      return pids;
  }
}
