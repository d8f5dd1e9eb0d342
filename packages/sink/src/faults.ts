import { z } from "zod";

/** Faults the sink injects on demand, so tests can play a bad cloud. */
export const FaultsSchema = z
  .object({
    /** Share of batch requests answered with `status` instead of being stored (0..1). */
    errorRate: z.number().min(0).max(1).default(0),
    status: z.number().int().min(400).max(599).default(503),
    /** Sent with 429/503 answers. */
    retryAfterS: z.number().int().min(0).optional(),
    /** Wait this long before answering each batch. */
    delayMs: z.number().int().min(0).max(600_000).default(0),
    /** Read the request, never answer (until hang is turned off: then those connections are closed). */
    hang: z.boolean().default(false),
    /** Refuse batches holding these event ids with 422 naming them (a cloud-side rejection). */
    rejectIds: z.array(z.string()).default([]),
  })
  .strict();
export type Faults = z.infer<typeof FaultsSchema>;
export const NO_FAULTS: Faults = FaultsSchema.parse({});

export type FaultAction = { kind: "none" } | { kind: "hang" } | { kind: "error"; status: number; retryAfterS?: number };

/** What to do with the next batch request, given the faults and a random number in [0, 1). */
export function pickFault(f: Faults, random: number): FaultAction {
  if (f.hang) return { kind: "hang" };
  if (f.errorRate > 0 && random < f.errorRate) return { kind: "error", status: f.status, ...(f.retryAfterS !== undefined ? { retryAfterS: f.retryAfterS } : {}) };
  return { kind: "none" };
}
