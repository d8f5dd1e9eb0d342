import { HEAP_COMPACT_ENV, heapOf, type ServiceMemoryConfig } from "@vigil/events";

/**
 * What `vigil up` adds to each service's process for `serviceMemory:` (libs/events service-memory.ts,
 * docs/unattended.md): V8 flags before the service's entry point, and glibc's arena cap in its
 * environment. Without them a service's heap is allowed to grow to a share of the machine's memory,
 * and V8 uses that room (big young generation, old generation collected late) long before anything
 * is retained: on a device that runs for months the room is what must be bounded.
 * `service` undefined: the shared bounds (vigil up's own, in the unit `vigil install` writes).
 */
export function serviceNodeArgs(m: ServiceMemoryConfig, service?: string): string[] {
  const h = service ? heapOf(m, service) : m;
  const args: string[] = [];
  if (h.maxOldSpaceMb > 0) args.push(`--max-old-space-size=${h.maxOldSpaceMb}`);
  if (h.maxSemiSpaceMb > 0) args.push(`--max-semi-space-size=${h.maxSemiSpaceMb}`);
  // The scheduled full collection (libs/events heap-compaction.ts) needs gc() exposed.
  if (m.compactEverySeconds > 0) args.push("--expose-gc");
  return args;
}

/**
 * What a service's environment gets: MALLOC_ARENA_MAX, unless its environment already says (the
 * operator's choice wins), and the heap compaction's interval.
 */
export function serviceMemoryEnv(m: ServiceMemoryConfig, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  if (m.mallocArenaMax > 0 && env.MALLOC_ARENA_MAX === undefined) out.MALLOC_ARENA_MAX = String(m.mallocArenaMax);
  if (m.compactEverySeconds > 0) out[HEAP_COMPACT_ENV] = String(m.compactEverySeconds * 1000);
  return out;
}
