import { z } from "zod";

/**
 * How much memory each service's Node process may hold (docs/unattended.md, "Memory and files over
 * months"). The soak showed the services' retained objects flat while their RSS still crept up: V8
 * grows its young generation to 16 MB semi-spaces and lets the old generation run far ahead of what is
 * live when the heap limit is the machine's (gigabytes), and glibc gives every thread its own malloc
 * arena. On an edge device those are bounded: `vigil up` starts each service with these V8 flags and
 * this glibc tunable. 0 leaves a setting at Node's (or glibc's) default.
 */
export const ServiceMemorySchema = z
  .object({
    /** `--max-old-space-size` (MB) of each service: well above what a service holds live (15–35 MB in the soak). */
    maxOldSpaceMb: z.number().int().refine((n) => n === 0 || (n >= 32 && n <= 16384), "must be 0 (Node's default) or 32–16384").default(128),
    /** `--max-semi-space-size` (MB): the young generation is about three times this. */
    maxSemiSpaceMb: z.number().int().min(0).max(64).default(2),
    /** `MALLOC_ARENA_MAX` in each service's environment (glibc; ignored elsewhere), unless already set there. */
    mallocArenaMax: z.number().int().min(0).max(64).default(2),
  })
  .strict();
export type ServiceMemoryConfig = z.infer<typeof ServiceMemorySchema>;
export const DEFAULT_SERVICE_MEMORY: ServiceMemoryConfig = ServiceMemorySchema.parse({});
