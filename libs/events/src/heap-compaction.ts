import { getHeapSpaceStatistics } from "node:v8";
import type { Logger } from "./logger.js";

/** The environment variable `vigil up` sets for each service: serviceMemory.compactEverySeconds in ms. */
export const HEAP_COMPACT_ENV = "VIGIL_HEAP_COMPACT_MS";

type Gc = (options?: { type?: "major" | "minor"; execution?: "sync" | "async" }) => void | Promise<void>;

/**
 * A full garbage collection every `everyMs`, run concurrently (`execution: "async"`: marking off the
 * main thread, so a restart in flight is not held up by it).
 *
 * Why (docs/unattended.md, "Memory and files over months"): a service at a steady trickle of events
 * promotes a little of each into the old generation, where it dies; V8 collects the old generation
 * only when its allocation limit is reached, and a process that is never idle never gets V8's
 * idle-time memory reducer. The soak saw each service's committed heap grow a page (256 KB) every
 * minute or two with what it retained flat. A scheduled major GC gives those pages back.
 * Needs `globalThis.gc` (node `--expose-gc`, which `vigil up` passes when this is on); without it, or
 * with `everyMs` 0, it does nothing and says so once.
 */
export function startHeapCompaction(everyMs: number, log?: Logger, gc: Gc | undefined = (globalThis as { gc?: Gc }).gc): () => void {
  if (!(everyMs > 0)) return () => undefined;
  if (typeof gc !== "function") {
    log?.warn({ everyMs }, "heap compaction asked for, but node runs without --expose-gc: left to V8");
    return () => undefined;
  }
  const timer = setInterval(() => {
    try {
      const done = Promise.resolve(gc({ type: "major", execution: "async" }));
      if (log?.isLevelEnabled?.("debug")) void done.then(() => log.debug(memoryBreakdown(), "heap compacted"));
    } catch (err) {
      log?.warn({ err: (err as Error).message }, "heap compaction failed");
    }
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** The interval `vigil up` asked for in this process's environment (0 when unset or not a number). */
export function heapCompactionMsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env[HEAP_COMPACT_ENV]);
  return Number.isFinite(n) && n > 0 ? n : 0;
}

/** What the process holds, in MB, by kind: what a soak needs to tell a young generation from malloc. */
export function memoryBreakdown(): Record<string, number> {
  const mb = (n: number): number => Math.round((n / 1048576) * 10) / 10;
  const m = process.memoryUsage();
  const out: Record<string, number> = { rss: mb(m.rss), heapTotal: mb(m.heapTotal), heapUsed: mb(m.heapUsed), external: mb(m.external), arrayBuffers: mb(m.arrayBuffers) };
  for (const s of getHeapSpaceStatistics()) out[s.space_name] = mb(s.space_size);
  return out;
}
