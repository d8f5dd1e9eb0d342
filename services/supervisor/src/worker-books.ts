/**
 * Small per-worker records the shell keeps: each is changed by one concern and read by others.
 */

/** The incident a worker's current trouble belongs to (learned from commands and exits), so its next exit and health events carry it. */
export class WorkerIncidents {
  private readonly byWorker = new Map<string, string>();
  get(worker: string): string | undefined {
    return this.byWorker.get(worker);
  }
  set(worker: string, incident: string): void {
    this.byWorker.set(worker, incident);
  }
  /** A stable run ends the worker's trouble: returns the incident it ends. */
  end(worker: string): string | undefined {
    const incident = this.byWorker.get(worker);
    this.byWorker.delete(worker);
    return incident;
  }
}

/** When each worker's current run started (from the drivers) and how often it was restarted (for the heartbeat). */
export class WorkerTally {
  private readonly startedAt = new Map<string, number>();
  private readonly restarts = new Map<string, number>();
  readonly started = (worker: string, _pid: number, at: number): void => void this.startedAt.set(worker, at);
  startedAtOf(worker: string): number | undefined {
    return this.startedAt.get(worker);
  }
  countRestart(worker: string): void {
    this.restarts.set(worker, this.restartsOf(worker) + 1);
  }
  restartsOf(worker: string): number {
    return this.restarts.get(worker) ?? 0;
  }
}

/** Per-worker queue: a delayed restart and a stop for the same worker never interleave. */
export class WorkerQueues {
  private readonly queues = new Map<string, Promise<void>>();
  enqueue(worker: string, job: () => Promise<void>): Promise<void> {
    const next = (this.queues.get(worker) ?? Promise.resolve()).then(job, job);
    this.queues.set(worker, next.catch(() => undefined));
    return next;
  }
  /** Resolves when every queued job has run (shutdown). */
  async drain(): Promise<void> {
    await Promise.all([...this.queues.values()]);
  }
}
