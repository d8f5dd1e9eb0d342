import { z } from "zod";
import { BUS_SERVICES } from "./owners.js";

/**
 * How much memory each service's Node process may hold (docs/unattended.md, "Memory and files over
 * months"). The soak showed the services' retained objects flat while their RSS still crept up: V8
 * grows its young generation to 16 MB semi-spaces and lets the old generation run far ahead of what is
 * live when the heap limit is the machine's (gigabytes), and glibc gives every thread its own malloc
 * arena. On an edge device those are bounded: `vigil up` starts each service with these V8 flags and
 * this glibc tunable. 0 leaves a setting at Node's (or glibc's) default.
 */
const HeapSchema = z
  .object({
    /** `--max-old-space-size` (MB): well above what a service holds live (15–35 MB in the soak). */
    maxOldSpaceMb: z.number().int().refine((n) => n === 0 || (n >= 32 && n <= 16384), "must be 0 (Node's default) or 32–16384"),
    /** `--max-semi-space-size` (MB): the young generation is about three times this. */
    maxSemiSpaceMb: z.number().int().min(0).max(64),
  })
  .strict();

/**
 * Telemetry holds whole batches while they upload: with 2 MB semi-spaces they outlive the young
 * generation and its GC share doubled in the drain bench (bench/src/telemetry.bench.ts), so it gets 8.
 */
const DEFAULT_PER_SERVICE = { telemetry: { maxSemiSpaceMb: 8 } };

export const ServiceMemorySchema = z
  .object({
    maxOldSpaceMb: HeapSchema.shape.maxOldSpaceMb.default(128),
    maxSemiSpaceMb: HeapSchema.shape.maxSemiSpaceMb.default(2),
    /**
     * Every this many seconds each service (and `vigil up` itself) runs a full, concurrent garbage
     * collection (heap-compaction.ts; node's `--expose-gc`). 0: never, V8 decides alone.
     */
    compactEverySeconds: z.number().int().refine((n) => n === 0 || (n >= 10 && n <= 3600), "must be 0 (off) or 10–3600 seconds").default(60),
    /** `MALLOC_ARENA_MAX` in each service's environment (glibc; ignored elsewhere), unless already set there. */
    mallocArenaMax: z.number().int().min(0).max(64).default(2),
    /** Per service, what differs from the two above (a service not named here takes them). */
    services: z
      .record(z.string(), HeapSchema.partial())
      .superRefine((r, ctx) => {
        for (const k of Object.keys(r)) {
          if (!(BUS_SERVICES as readonly string[]).includes(k)) ctx.addIssue({ code: "custom", path: [k], message: `"${k}" is not a service (services: ${BUS_SERVICES.join(", ")})` });
        }
      })
      .default(DEFAULT_PER_SERVICE),
  })
  .strict();
export type ServiceMemoryConfig = z.infer<typeof ServiceMemorySchema>;
export const DEFAULT_SERVICE_MEMORY: ServiceMemoryConfig = ServiceMemorySchema.parse({});

/** The heap bounds of one service: its own entry in `services`, else the shared ones. */
export function heapOf(m: ServiceMemoryConfig, service: string): { maxOldSpaceMb: number; maxSemiSpaceMb: number } {
  const own = Object.hasOwn(m.services, service) ? m.services[service]! : {};
  return { maxOldSpaceMb: own.maxOldSpaceMb ?? m.maxOldSpaceMb, maxSemiSpaceMb: own.maxSemiSpaceMb ?? m.maxSemiSpaceMb };
}
