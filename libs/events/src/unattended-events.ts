import { z } from "zod";
import { NameSchema } from "./names.js";

/**
 * Events of the unattended-device policies (issue 14): the decider's disk-pressure steps and the
 * commands they send, the cool-down retries' operator acknowledgement. Spread into CATALOG (catalog.ts).
 */
const requestedBy = z.string().max(128);

export const DISK_STEPS = ["prune-logs", "downsample", "pause-workers", "undo"] as const;
export type DiskStep = (typeof DISK_STEPS)[number];

export const UNATTENDED_EVENTS = {
  /** A step of the disk-pressure policy (docs/health.md), in its incident: what it does and why. */
  "dec.disk.step": z.object({
    mount: z.string().max(256),
    step: z.enum(DISK_STEPS),
    usedPct: z.number().min(0),
    reason: z.string().max(1024),
    /** pause-workers / undo: the workers paused (or resumed). */
    workers: z.array(NameSchema).max(100).optional(),
  }),
  /** Delete rotated logs beyond the newest `keepRotated` of each log (the supervisor's data dir). */
  "cmd.logs.prune": z.object({ keepRotated: z.number().int().min(0).max(100).default(1), reason: z.string().max(1024).optional(), requestedBy: requestedBy.default("unknown") }),
  "out.logs.pruned": z.object({
    command: z.string(),
    removedFiles: z.number().int().min(0),
    freedBytes: z.number().int().min(0),
    /** Log bytes on disk per worker after pruning, most first: who writes the most. */
    writers: z.array(z.object({ worker: NameSchema, bytes: z.number().int().min(0) })).max(200),
    errors: z.array(z.string().max(512)).max(20).optional(),
  }),
  /** Forward one in `factor`× as many of every downsampled type (1: back to the configured rules). */
  "cmd.telemetry.downsample": z.object({ factor: z.number().int().min(1).max(1000), reason: z.string().max(1024).optional(), requestedBy: requestedBy.default("unknown") }),
  "out.telemetry.downsampled": z.object({ command: z.string(), factor: z.number().int().min(1), rules: z.record(z.string(), z.number().int().min(0)), forwarding: z.boolean() }),
  /** An operator acknowledges an open (or escalated) incident: `vigil ack <incident>`. */
  "cmd.incident.ack": z.object({ incident: z.string().min(1).max(128), reason: z.string().max(1024).optional(), requestedBy: requestedBy.default("unknown") }),
  /** The decider closed the incident as acknowledged; cool-down retries of its worker go on. */
  "dec.incident.acknowledged": z.object({ worker: NameSchema, by: requestedBy, reason: z.string().max(1024) }),
} as const;
