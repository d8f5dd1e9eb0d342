import { z } from "zod";
import { NameSchema } from "./names.js";
import { HEALTH_METRICS } from "./health-config.js";

/** Event types of the health service (spread into CATALOG in catalog.ts). */

const name = NameSchema;
const pid = z.number().int().positive();
const pct = z.number().min(0);

/** The process using the most CPU on the device; `worker` is set only when Vigil manages it. */
const topProcess = z.object({ pid, name: z.string().max(64), cpuPct: pct, worker: name.optional() });

const thresholdData = z.object({
  metric: z.enum(HEALTH_METRICS),
  /** Which disk (mount point) for metric `disk`. */
  target: z.string().max(256).optional(),
  value: z.number(),
  /** The crossing line and the line the value must fall below to recover (hysteresis). */
  above: z.number(),
  recoverBelow: z.number(),
  top: topProcess.optional(),
});

export const HEALTH_EVENTS = {
  /** One compact sample per interval. CPU figures of processes are % of one core. */
  "obs.health.sample": z.object({
    cpuPct: pct,
    load1: z.number().min(0),
    memPct: pct,
    /** Hottest thermal zone, °C; null when no sensor could be read. */
    tempC: z.number().nullable(),
    disks: z.array(z.object({ mount: z.string().max(256), usedPct: pct })),
    workers: z.array(z.object({ worker: name, pid, cpuPct: pct, rssBytes: z.number().int().min(0) })),
    top: topProcess.optional(),
    /** Every process using at least half a core (up to 5, busiest first), managed or not: what a human wants to see. */
    hot: z.array(topProcess).max(5).optional(),
    intervalMs: z.number().int().min(0),
  }),
  "obs.health.threshold.crossed": thresholdData,
  "obs.health.threshold.recovered": thresholdData.omit({ top: true }),
  /** An Isolation Forest score at or above the configured threshold. */
  "obs.health.anomaly": z.object({
    score: z.number().min(0).max(1),
    threshold: z.number(),
    /** The feature furthest from its training mean, in standard deviations. */
    feature: z.string().max(64),
    deviation: z.number(),
    /** The managed worker using the most CPU at that moment, and how much. */
    worker: name.optional(),
    workerCpuPct: pct.optional(),
    top: topProcess.optional(),
  }),
  /** Something the health service could not read or run (a thermal file with garbage, an unreadable mount …). */
  "obs.health.problem": z.object({ what: z.string().max(64), path: z.string().max(512).optional(), error: z.string().max(1024) }),
  /** A worker's liveness probe reached failureThreshold consecutive failures (repeated every failureThreshold failures while it keeps failing). */
  "obs.probe.failed": z.object({
    worker: name,
    pid: pid.optional(),
    probe: z.enum(["http", "tcp", "exec"]),
    failures: z.number().int().min(1),
    failureThreshold: z.number().int().min(1),
    error: z.string().max(1024),
  }),
  /** A failing probe passed successThreshold times in a row. */
  "obs.probe.recovered": z.object({
    worker: name,
    pid: pid.optional(),
    probe: z.enum(["http", "tcp", "exec"]),
    successes: z.number().int().min(1),
    latencyMs: z.number().min(0).optional(),
  }),
} as const;
