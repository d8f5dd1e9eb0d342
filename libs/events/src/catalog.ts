import { z } from "zod";
import type { Kind } from "./subjects.js";
import { HEALTH_EVENTS } from "./health-events.js";
import { CONTAINER_EVENTS } from "./container-events.js";
import { UNATTENDED_EVENTS } from "./unattended-events.js";
import { DEPLOYMENT_EVENTS } from "./deployment-events.js";

import { NameSchema } from "./names.js";

// Names are single subject tokens: workers, services, policies (names.ts: built-in property names are refused).
export { NameSchema, RESERVED_NAMES } from "./names.js";

const worker = NameSchema;
const pid = z.number().int().positive();
const requestedBy = z.string().max(128);

export const WORKER_ACTIONS = ["restart", "start", "stop", "pause", "resume", "kill"] as const;
export type WorkerAction = (typeof WORKER_ACTIONS)[number];

const commandData = z.object({
  worker,
  /** Wait this long before acting: the decider's backoff, carried by the command so the decider stays clock-free. */
  delayMs: z.number().int().min(0).max(3_600_000).default(0),
  reason: z.string().max(1024).optional(),
  /** Who asked: "decider", or the user/token name for commands from the CLI or console. */
  requestedBy: requestedBy.default("unknown"),
  /** For kill: the signal to send (only these, never a command line). */
  signal: z.enum(["SIGKILL", "SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP"]).optional(),
});

const outcomeData = z.object({
  worker,
  /** The id of the command this is the outcome of. */
  command: z.string(),
  requestedBy: requestedBy.default("unknown"),
  pid: pid.optional(),
  previousPid: pid.optional(),
  /** Epoch ms with sub-ms precision, taken right after spawn: what recovery latency is measured against. */
  at: z.number().optional(),
});

/**
 * Every event type Vigil publishes: `<kind>.<name>` → the schema of its `data`.
 * Producers validate before publishing and consumers on receipt.
 */
export const CATALOG = {
  // Observations: what the supervisor saw happen.
  "obs.worker.started": z.object({
    worker,
    pid,
    command: z.string(),
    at: z.number().optional(),
    /** Container workloads: the container, and whether it was already running and adopted at boot. */
    containerId: z.string().optional(),
    adopted: z.boolean().optional(),
  }),
  "obs.worker.exited": z.object({
    worker,
    pid: pid.optional(),
    code: z.number().int().nullable(),
    signal: z.string().nullable(),
    /** True when Vigil itself stopped it (stop/restart/kill command, shutdown): no remediation. */
    expected: z.boolean(),
    uptimeMs: z.number().min(0),
    /** Set when the program could not be started at all (ENOENT, EACCES …). */
    error: z.string().optional(),
    /** Container workloads: the kernel's OOM killer ended it (memory limit). */
    oom: z.boolean().optional(),
    containerId: z.string().optional(),
    /** The worker's last lines of output (logs.lastLines, each cut to logs.lineMaxBytes): why it died, in the incident. */
    lastLines: z.array(z.string().max(8192)).max(200).optional(),
    /**
     * Set when the supervisor was in degraded mode (bus or decider unreachable, docs/degraded-mode.md)
     * and its local reflex handled this exit itself: restarted it after delayMs, or stopped restarting
     * (crash loop). The decider records it and commands nothing.
     */
    reflex: z
      .discriminatedUnion("action", [
        z.object({ action: z.literal("restart"), attempt: z.number().int().min(0), delayMs: z.number().int().min(0) }),
        z.object({ action: z.literal("escalate"), restarts: z.number().int().min(0), windowMs: z.number().int().min(0) }),
      ])
      .optional(),
  }),
  "obs.worker.stable": z.object({ worker, pid, uptimeMs: z.number().min(0) }),
  /** A sensor reading from an application (the chaos load, demos): no policy acts on it; telemetry forwards it. */
  "obs.demo.reading": z.object({ sensor: NameSchema, seq: z.number().int().min(0), value: z.number() }),
  // Health: samples, thresholds, anomalies, probes (services/health; schemas in health-events.ts).
  ...HEALTH_EVENTS,
  // Containers and networks (docker driver, netmon; schemas in container-events.ts).
  ...CONTAINER_EVENTS,
  // The unattended-device policies: disk pressure steps, operator acks (schemas in unattended-events.ts).
  ...UNATTENDED_EVENTS,
  ...DEPLOYMENT_EVENTS,

  // Decisions: what the decider concluded, with the policy that concluded it.
  "dec.remediation.decided": z.object({
    worker,
    policy: NameSchema,
    action: z.enum(WORKER_ACTIONS),
    attempt: z.number().int().min(0),
    delayMs: z.number().int().min(0),
    reason: z.string(),
    /** Already done locally by the supervisor's degraded-mode reflex ("supervisor-reflex"): recorded, no command follows. */
    handledBy: z.string().max(128).optional(),
  }),
  /** `policy` is set by the health policies: their incidents end when the condition clears, not when the worker is stable. */
  "dec.incident.opened": z.object({ worker, reason: z.string(), policy: NameSchema.optional() }),
  "dec.incident.resolved": z.object({ worker, reason: z.string() }),
  "dec.incident.escalated": z.object({
    worker,
    reason: z.string(),
    restarts: z.number().int().min(0),
    windowMs: z.number().int().min(0),
  }),

  // Commands: what should be done. Only declared workers, only these actions.
  "cmd.worker.restart": commandData,
  "cmd.worker.start": commandData,
  "cmd.worker.stop": commandData,
  "cmd.worker.pause": commandData,
  "cmd.worker.resume": commandData,
  "cmd.worker.kill": commandData,

  // Outcomes: what executing a command did.
  "out.worker.restarted": outcomeData,
  "out.worker.started": outcomeData,
  "out.worker.stopped": outcomeData,
  "out.worker.paused": outcomeData,
  "out.worker.resumed": outcomeData,
  "out.worker.killed": outcomeData,
  "out.command.rejected": z.object({ command: z.string(), action: z.string(), worker: z.string(), reason: z.string() }),
  "out.command.failed": z.object({ command: z.string(), action: z.string(), worker, error: z.string() }),

  // Config reloads (docs/reload.md): the supervisor's plan for a changed vigil.yaml, each step's outcome, the end.
  "dec.config.planned": z.object({
    /** One id for the plan, each step's outcome and the end of the change. */
    change: z.string(),
    configPath: z.string(),
    diff: z.object({
      added: z.array(worker),
      removed: z.array(worker),
      /** With the settings that differ (command, args, env, cwd, limits …). */
      changed: z.array(z.object({ worker, fields: z.array(z.string()) })),
      unchanged: z.array(worker),
    }),
    steps: z.array(z.object({ action: z.string(), worker: z.string() })),
    /** Workers not started, and why (stopped by the operator, a dependency that is not running). */
    held: z.array(z.object({ worker, reason: z.string() })).default([]),
    /** `vigil reload --dry-run`: planned only, nothing was changed. */
    dryRun: z.boolean().optional(),
  }),
  /** A reload whose config does not validate: nothing changed. */
  "dec.config.rejected": z.object({ change: z.string(), configPath: z.string(), error: z.string() }),
  "out.config.step": z.object({
    change: z.string(),
    /** 1-based position in the plan's steps. */
    step: z.number().int().min(1),
    of: z.number().int().min(1),
    action: z.string(),
    worker,
    ok: z.boolean(),
    pid: pid.optional(),
    previousPid: pid.optional(),
    error: z.string().optional(),
    durationMs: z.number().min(0),
  }),
  "out.config.applied": z.object({ change: z.string(), steps: z.number().int().min(0), failed: z.number().int().min(0), durationMs: z.number().min(0) }),
  /** Said once at start when workers declare limits: whether cgroup v2 enforces them, and if not, what is missing. */
  "sys.supervisor.limits": z.object({ enforced: z.boolean(), cgroup: z.string().optional(), reason: z.string().optional(), workers: z.array(worker) }),

  // Service lifecycle and bookkeeping.
  "sys.service.started": z.object({ service: NameSchema, pid, version: z.string() }),
  "sys.service.stopped": z.object({ service: NameSchema, pid, reason: z.string() }),
  "sys.service.heartbeat": z.object({
    service: NameSchema,
    pid,
    uptimeMs: z.number().min(0),
    rssBytes: z.number().int().min(0),
    outbox: z.number().int().min(0).optional(),
    workers: z
      .array(z.object({ name: worker, status: z.string(), pid: pid.optional(), restarts: z.number().int().min(0) }))
      .optional(),
  }),
  // Degraded mode (docs/degraded-mode.md): the supervisor restarts crashed workers by itself.
  "sys.supervisor.degraded": z.object({
    /** What is unreachable: "bus", "decider". */
    unreachable: z.array(z.enum(["bus", "decider"])).min(1),
    reason: z.string(),
    /** Epoch ms since when the first of them has been unreachable. */
    since: z.number(),
  }),
  /** Control handed back to the decider. */
  "sys.supervisor.restored": z.object({ degradedMs: z.number().min(0), reflexRestarts: z.number().int().min(0) }),
  // Store-and-forward to the cloud (services/telemetry).
  "sys.telemetry.breaker.opened": z.object({
    /** The last upload error that tripped it. */
    reason: z.string(),
    /** Events waiting in the stream for the cloud. */
    backlog: z.number().int().min(0),
    resetTimeoutMs: z.number().int().min(0),
  }),
  "sys.telemetry.breaker.closed": z.object({ backlog: z.number().int().min(0), openMs: z.number().min(0) }),
  /** An upload the cloud refused or that failed (401, 5xx, timeout …): nothing of it was acked, it is retried. */
  "sys.telemetry.upload.failed": z.object({
    status: z.number().int().optional(),
    error: z.string(),
    events: z.number().int().min(0),
    firstSeq: z.number().int().min(0),
    lastSeq: z.number().int().min(0),
    retryInMs: z.number().int().min(0),
  }),
  /** Events the stream discarded (limits) before telemetry forwarded them: never silent. */
  "sys.telemetry.lost": z.object({
    count: z.number().int().min(1),
    /** The stream sequences that are gone: fromSeq..toSeq inclusive. */
    fromSeq: z.number().int().min(1),
    toSeq: z.number().int().min(1),
    reason: z.string(),
  }),
  "sys.telemetry.heartbeat": z.object({
    device: z.string(),
    pid,
    uptimeMs: z.number().min(0),
    hostUptimeS: z.number().min(0),
    cpu: z.object({ cores: z.number().int().min(1), load1: z.number().min(0), percent: z.number().min(0) }),
    memory: z.object({ totalBytes: z.number().min(0), freeBytes: z.number().min(0), rssBytes: z.number().min(0) }),
    disk: z.object({ path: z.string(), totalBytes: z.number().min(0), freeBytes: z.number().min(0) }).optional(),
    versions: z.object({ vigil: z.string(), node: z.string(), nats: z.string().optional() }),
    /** Events in the stream not yet confirmed by the cloud. */
    backlog: z.number().int().min(0),
    breaker: z.enum(["closed", "open", "halfOpen", "idle"]),
    forwarded: z.number().int().min(0),
    /** Events the cloud said it already had (re-sent after a crash or a lost answer). */
    resent: z.number().int().min(0),
    deadLettered: z.number().int().min(0),
    lost: z.number().int().min(0),
  }),
  /**
   * Alert notifications (services/alerts): a webhook target stopped accepting deliveries (refused,
   * timed out, answered non-2xx or garbage). Said once per outage; deliveries keep being retried.
   */
  "sys.alerts.target.failing": z.object({
    target: NameSchema,
    error: z.string().max(1024),
    status: z.number().int().optional(),
    /** Deliveries waiting for this target when it was reported. */
    pending: z.number().int().min(0),
  }),
  /** The target accepted a delivery again after failing. */
  "sys.alerts.target.recovered": z.object({ target: NameSchema, failingMs: z.number().min(0), failedAttempts: z.number().int().min(0) }),
  /** The leaf-node link of the embedded nats-server to the fleet hub changed state (docs/fleet.md). */
  /**
   * vigil up found a torn or truncated block in the embedded server's store at start (after a power
   * cut): the original is copied aside, the server keeps the records before the damage (docs/durability.md).
   */
  "sys.store.damaged": z.object({
    /** The stream's folder in the store (`VIGIL`, `KV_…`). */
    stream: z.string(),
    file: z.string(),
    movedTo: z.string(),
    keptRecords: z.number().int().min(0),
    /** Messages known lost (at least: a record whose framing is whole but payload damaged is dropped by the server's checksum too). */
    lostCount: z.number().int().min(0),
    fromSeq: z.number().int().min(1).optional(),
    toSeq: z.number().int().min(1).optional(),
    unreadableBytes: z.number().int().min(0),
    reason: z.string(),
  }),
  "sys.fleet.uplink": z.object({
    state: z.enum(["connected", "disconnected"]),
    /** The hub URLs (never credentials). */
    hub: z.array(z.string()),
    /** The JetStream domain the hub sources this device through. */
    domain: z.string(),
    /** Why it is not connected: the embedded server's last leafnode error, e.g. "Authorization Violation". */
    error: z.string().optional(),
    /** How long the previous state lasted. */
    previousMs: z.number().min(0).optional(),
  }),
  "sys.deadletter": z.object({
    /** Which consumer refused it. */
    consumer: z.string(),
    reason: z.string(),
    subject: z.string(),
    stream: z.string().optional(),
    streamSeq: z.number().int().optional(),
    /** A flood's summary (libs/events dead-letters.ts): the stream sequence of every message it refuses. */
    streamSeqs: z.array(z.number().int()).max(1_000).optional(),
    /** The original payload as text (cut to 64 KiB). */
    payload: z.string(),
  }),
} as const satisfies Record<string, z.ZodType>;

export type EventName = keyof typeof CATALOG;
export type DataOf<N extends EventName> = z.infer<(typeof CATALOG)[N]>;
export type DataInput<N extends EventName> = z.input<(typeof CATALOG)[N]>;

export function isEventName(s: string): s is EventName {
  return Object.prototype.hasOwnProperty.call(CATALOG, s);
}

export function kindOf(name: EventName): Kind {
  return name.slice(0, name.indexOf(".")) as Kind;
}

/** `obs.worker.exited` → `worker.exited` (the part after the kind in the subject). */
export function localName(name: EventName): string {
  return name.slice(name.indexOf(".") + 1);
}
