import type { Publisher } from "@vigil/events";
import type { Emit } from "./emit.js";
import type { WorkerTally } from "./worker-books.js";
import type { Workloads } from "./workloads.js";

/** The supervisor's proof of life every intervalMs: its own figures, the outbox and each worker's state. Returns the stop. */
export function startHeartbeat(deps: { emit: Emit; bus: Publisher; workloads: Workloads; tally: WorkerTally; intervalMs: number }): () => void {
  const { emit, bus, workloads, tally } = deps;
  const timer = setInterval(() => {
    void emit("sys.service.heartbeat", {
      service: "supervisor",
      pid: process.pid,
      uptimeMs: Math.round(process.uptime() * 1000),
      rssBytes: process.memoryUsage.rss(),
      outbox: bus.pending(),
      workers: workloads.declaredNames().map((name) => {
        const s = workloads.opsOf(name).status(name);
        return { name, status: s.status, ...(s.pid ? { pid: s.pid } : {}), restarts: tally.restartsOf(name) };
      }),
    });
  }, deps.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
