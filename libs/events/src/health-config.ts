import { z } from "zod";

/**
 * Config of the health service, the liveness probes and the decider's health policies. Kept apart
 * from config.ts (which composes it) so the thresholds and their cross-field checks sit together.
 */

/** A threshold with hysteresis: crossed at `above`, recovered below `recoverBelow` (default above − hysteresis). */
export const ThresholdSchema = z
  .object({
    above: z.number(),
    hysteresis: z.number().min(0, "must not be negative (it is how far below `above` the value must fall to recover)").optional(),
    recoverBelow: z.number().optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.recoverBelow !== undefined && t.recoverBelow > t.above) {
      ctx.addIssue({ code: "custom", path: ["recoverBelow"], message: `(${t.recoverBelow}) must not be above the crossing threshold above (${t.above}): the metric could never recover` });
    }
    if (t.recoverBelow !== undefined && t.hysteresis !== undefined && Math.abs(t.above - t.hysteresis - t.recoverBelow) > 1e-9) {
      ctx.addIssue({ code: "custom", path: ["recoverBelow"], message: `(${t.recoverBelow}) contradicts hysteresis (${t.hysteresis}): give one of them` });
    }
  });
export type ThresholdInput = z.infer<typeof ThresholdSchema>;

/** A resolved threshold: both lines known. */
export interface Threshold {
  above: number;
  recoverBelow: number;
}

export function resolveThreshold(t: ThresholdInput, defaultHysteresis: number): Threshold {
  return { above: t.above, recoverBelow: t.recoverBelow ?? t.above - (t.hysteresis ?? defaultHysteresis) };
}

const percentThreshold = (above: number, hysteresis: number) =>
  ThresholdSchema.refine((t) => t.above > 0 && t.above <= 100, { message: "above must be a percentage in (0, 100]" }).default({ above, hysteresis });

export const HEALTH_METRICS = ["temperature", "cpu", "memory", "disk"] as const;
export type HealthMetric = (typeof HEALTH_METRICS)[number];

export const AnomalySchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Samples collected before the first model is trained (no scores before that). */
    warmupSamples: z.number().int().min(8).default(30),
    /** The model is trained on the last this many samples (720 = one hour at 5 s). */
    windowSamples: z.number().int().min(16).default(720),
    /** Retrain after this many new samples. */
    retrainEvery: z.number().int().min(1).default(30),
    /** Isolation Forest score (0..1; ~0.5 is ordinary) at or above which a sample is reported. */
    threshold: z.number().gt(0).lt(1).default(0.65),
    trees: z.number().int().min(10).max(500).default(100),
    /** Also report a feature this many standard deviations from its training mean (what the forest cannot extrapolate); 0 turns it off. */
    noveltyZ: z.number().min(0).default(16),
    /** Also report a feature beyond its training [min, max] by more than this share of that range; absent: off. */
    rangeMargin: z.number().min(0).optional(),
    /** The range rule's baseline: [min, max] over the last this many samples (0: every sample since the service started); absent: the training window. */
    baselineSamples: z.number().int().min(0).optional(),
    /** One alert per episode: after a reported anomaly, hold back flagged samples for this many samples (0: report every one). */
    refractorySamples: z.number().int().min(0).default(0),
  })
  .strict()
  .superRefine((a, ctx) => {
    if (a.warmupSamples > a.windowSamples) ctx.addIssue({ code: "custom", path: ["warmupSamples"], message: `(${a.warmupSamples}) must not exceed windowSamples (${a.windowSamples})` });
  });

export const HealthSchema = z
  .object({
    /** Sampling interval. */
    intervalMs: z.number().int().min(100).default(5_000),
    /** sysfs-style thermal zones: `<thermalDir>/thermal_zone*\/temp` in millidegrees Celsius. */
    thermalDir: z.string().min(1).default("/sys/class/thermal"),
    /** Mount points to watch; empty: every real (block-device) filesystem. */
    disks: z.array(z.string().min(1)).default([]),
    thresholds: z
      .object({
        temperature: ThresholdSchema.default({ above: 75, hysteresis: 5 }),
        cpu: percentThreshold(90, 10),
        memory: percentThreshold(90, 5),
        disk: percentThreshold(90, 5),
      })
      .strict()
      .default({ temperature: { above: 75, hysteresis: 5 }, cpu: { above: 90, hysteresis: 10 }, memory: { above: 90, hysteresis: 5 }, disk: { above: 90, hysteresis: 5 } }),
    anomaly: AnomalySchema.default(AnomalySchema.parse({})),
  })
  .strict();
export type HealthConfig = z.infer<typeof HealthSchema>;

export const DEFAULT_HYSTERESIS: Record<HealthMetric, number> = { temperature: 5, cpu: 10, memory: 5, disk: 5 };

/** The action a CPU or anomaly remediation takes on the offending worker. */
const workerAction = z.enum(["restart", "kill"]);

export const PoliciesSchema = z
  .object({
    overheat: z.object({ enabled: z.boolean().default(true) }).strict().default({ enabled: true }),
    cpu: z
      .object({
        enabled: z.boolean().default(true),
        /** A managed worker's CPU, in % of one core (a busy-looping single thread is 100). */
        thresholdPct: z.number().gt(0).max(6400).default(90),
        /** … for this many consecutive samples. */
        consecutiveSamples: z.number().int().min(1).default(3),
        action: workerAction.default("restart"),
      })
      .strict()
      .default({ enabled: true, thresholdPct: 90, consecutiveSamples: 3, action: "restart" }),
    anomaly: z
      .object({
        enabled: z.boolean().default(true),
        /** Act only on anomalies scored at least this high … */
        minScore: z.number().gt(0).lt(1).default(0.7),
        /** … and attributed to a managed worker using at least this much CPU (% of one core). */
        minWorkerCpuPct: z.number().min(0).default(50),
        action: workerAction.default("restart"),
      })
      .strict()
      .default({ enabled: true, minScore: 0.7, minWorkerCpuPct: 50, action: "restart" }),
    probe: z.object({ enabled: z.boolean().default(true) }).strict().default({ enabled: true }),
    /** Disk pressure (docs/health.md): prune rotated logs, then downsample telemetry, then pause the top writers. */
    disk: z
      .object({
        enabled: z.boolean().default(true),
        /** Telemetry forwards one in this many times as few of every downsampled type. */
        downsampleFactor: z.number().int().min(2).max(1000).default(10),
        /** At most this many non-essential workers paused, the ones with the most log output first. */
        pauseWorkers: z.number().int().min(0).max(100).default(2),
      })
      .strict()
      .default({ enabled: true, downsampleFactor: 10, pauseWorkers: 2 }),
    memory: z
      .object({
        enabled: z.boolean().default(true),
        /** While memory stays above its threshold, act again after this many samples. */
        consecutiveSamples: z.number().int().min(1).default(3),
      })
      .strict()
      .default({ enabled: true, consecutiveSamples: 3 }),
    escalation: z
      .object({
        /** Remediations of one worker inside one open incident before Vigil stops it and escalates. */
        maxAttempts: z.number().int().min(1).default(3),
        /** Escalate at once when the learned success rate of (policy, action) is below this … */
        minSuccessRate: z.number().min(0).max(1).default(0),
        /** … once it has been tried this many times. */
        minHistory: z.number().int().min(1).default(5),
      })
      .strict()
      .default({ maxAttempts: 3, minSuccessRate: 0, minHistory: 5 }),
  })
  .strict();
export type PoliciesConfig = z.infer<typeof PoliciesSchema>;
export const DEFAULT_POLICIES_CONFIG: PoliciesConfig = PoliciesSchema.parse({});

/** A liveness probe of a worker, kubelet style. Exactly one of http, tcp, exec. */
export const ProbeSchema = z
  .object({
    http: z
      .object({
        url: z.string().regex(/^https?:\/\/[^\s]+$/, "must be an http:// or https:// URL"),
        /** Accepted status codes (default: any 2xx or 3xx). */
        status: z.array(z.number().int().min(100).max(599)).min(1).optional(),
        /** Slower than this counts as a failure. */
        maxLatencyMs: z.number().int().min(1).optional(),
        /** A regular expression the body must match. */
        bodyMatch: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    tcp: z.object({ host: z.string().min(1).default("127.0.0.1"), port: z.number().int().min(1).max(65535) }).strict().optional(),
    /** A program declared here (never anything from the network); exit code 0 is success. */
    exec: z.object({ command: z.string().min(1), args: z.array(z.string()).default([]) }).strict().optional(),
    periodMs: z.number().int().min(50).default(10_000),
    timeoutMs: z.number().int().min(10).default(1_000),
    failureThreshold: z.number().int().min(1).default(3),
    successThreshold: z.number().int().min(1).default(1),
    initialDelayMs: z.number().int().min(0).default(0),
  })
  .strict()
  .superRefine((p, ctx) => {
    const kinds = [p.http && "http", p.tcp && "tcp", p.exec && "exec"].filter(Boolean);
    if (kinds.length !== 1) ctx.addIssue({ code: "custom", path: [], message: `needs exactly one of http, tcp or exec (got ${kinds.length ? kinds.join(", ") : "none"})` });
    if (p.http?.bodyMatch) {
      try {
        new RegExp(p.http.bodyMatch);
      } catch (err) {
        ctx.addIssue({ code: "custom", path: ["http", "bodyMatch"], message: `is not a valid regular expression: ${(err as Error).message}` });
      }
    }
    if (p.timeoutMs > p.periodMs) ctx.addIssue({ code: "custom", path: ["timeoutMs"], message: `(${p.timeoutMs}) must not exceed periodMs (${p.periodMs})` });
  });
export type ProbeConfig = z.infer<typeof ProbeSchema>;
export type ProbeKind = "http" | "tcp" | "exec";

export function probeKind(p: ProbeConfig): ProbeKind {
  return p.http ? "http" : p.tcp ? "tcp" : "exec";
}
