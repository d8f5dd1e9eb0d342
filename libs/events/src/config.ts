import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { NameSchema } from "./catalog.js";
import { HealthSchema, PoliciesSchema, ProbeSchema } from "./health-config.js";
import { DockerSchema, makeContainerSchema, NetmonSchema } from "./container-config.js";
import { FleetSchema } from "./fleet-config.js";
import { ServiceMemorySchema } from "./service-memory.js";

export const RestartPolicySchema = z
  .object({
    /** Delay before the second restart; the first is immediate. */
    backoffBaseMs: z.number().int().min(0).default(100),
    backoffFactor: z.number().min(1).default(2),
    backoffCapMs: z.number().int().min(0).default(30_000),
    /** More than this many restarts inside windowMs → flapping, incident escalated. */
    maxRestarts: z.number().int().min(1).default(5),
    windowMs: z.number().int().min(1).default(60_000),
    /** Up this long → backoff resets and the incident is resolved. */
    stableMs: z.number().int().min(1).default(10_000),
    /**
     * After a crash-loop escalation, retry every coolDownMs until a run is stable (the incident stays
     * open meanwhile); 0 stops restarting for good, as before. Carried by the command as delayMs.
     */
    coolDownMs: z.number().int().min(0).max(3_600_000).default(300_000),
    /**
     * Fork the worker's next process ahead of time (a waiting /bin/sh, about 1 MB), so a restart skips
     * spawn()'s fork (services/supervisor/src/spare.ts). Not used for workers with limits.
     */
    prespawn: z.boolean().default(true),
  })
  .strict();
export type RestartPolicy = z.infer<typeof RestartPolicySchema>;

/** An environment variable a worker may be given; Vigil's own (VIGIL_*) never reach a worker (docs/security.md). */
const WorkerEnvNameSchema = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name (letters, digits, '_'; not starting with a digit)")
  .superRefine((n, ctx) => {
    if (n.startsWith("VIGIL_")) ctx.addIssue({ code: "custom", message: `"${n}": VIGIL_* variables are Vigil's own (bus credentials, secrets) and are never passed to a worker (VIGIL_WORKER is set for it)` });
  });

/** `256m`, `1g`, `65536k` or a number of bytes → bytes (memory limits). */
const BytesSchema = z.union([
  z.number().int().min(1),
  z
    .string()
    .regex(/^\d+(\.\d+)?\s*[kmgKMG]?[bB]?$/, "must be bytes or a size like 64m, 256M, 1g")
    .transform((s) => {
      const m = /^(\d+(?:\.\d+)?)\s*([kmgKMG]?)/.exec(s)!;
      const unit = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as "" | "k" | "m" | "g"];
      return Math.round(Number(m[1]) * unit);
    }),
]);

/** Resource limits for a process worker, enforced with cgroup v2 (docs/reload.md, "Limits and cgroups"). */
export const LimitsSchema = z
  .object({
    /** Cores: 0.5 is half of one core (cpu.max). */
    cpu: z.number().min(0.01).max(1024).optional(),
    /** memory.max; past it the kernel's OOM killer ends the worker (reported `oom: true`). */
    memory: BytesSchema.refine((b) => b >= 1024 * 1024, "must be at least 1m").optional(),
    /** pids.max: processes and threads the worker may have at once. */
    pids: z.number().int().min(1).max(4_194_304).optional(),
  })
  .strict();
export type WorkerLimits = z.infer<typeof LimitsSchema>;

/** When a started worker counts as ready (its dependents start then): exactly one of stdout, delayMs, probe. */
export const ReadySchema = z
  .object({
    /** A regular expression a line of the worker's stdout must match. */
    stdout: z
      .string()
      .min(1)
      .superRefine((s, ctx) => {
        try {
          new RegExp(s);
        } catch (err) {
          ctx.addIssue({ code: "custom", message: `not a valid regular expression: ${(err as Error).message}` });
        }
      })
      .optional(),
    /** Ready this long after it started. */
    delayMs: z.number().int().min(0).max(3_600_000).optional(),
    /** Ready once the worker's own `probe` passes once. */
    probe: z.literal(true).optional(),
    /** Not ready by then: the start counts as failed and its dependents are not started. */
    timeoutMs: z.number().int().min(1).max(3_600_000).default(30_000),
  })
  .strict()
  .superRefine((r, ctx) => {
    const kinds = [r.stdout !== undefined && "stdout", r.delayMs !== undefined && "delayMs", r.probe && "probe"].filter(Boolean);
    if (kinds.length !== 1) ctx.addIssue({ code: "custom", message: `needs exactly one of stdout, delayMs, probe (got ${kinds.length ? kinds.join(", ") : "none"})` });
  });
export type ReadyConfig = z.infer<typeof ReadySchema>;

export const WorkerSchema = z
  .object({
    name: NameSchema,
    command: z.string().min(1),
    args: z.array(z.string()).default([]),
    env: z.record(z.string(), z.string()).default({}),
    /** Variables of the supervisor's environment passed through by name (a worker starts from a clean environment). */
    inheritEnv: z.array(WorkerEnvNameSchema).default([]),
    /** Relative paths resolve against the config file's folder. */
    cwd: z.string().optional(),
    /** Essential workers are never paused to save the device. */
    essential: z.boolean().default(false),
    /** Lower runs out first when the device must shed work. */
    priority: z.number().int().default(0),
    /** SIGTERM, then SIGKILL after this long. */
    stopGraceMs: z.number().int().min(0).default(5_000),
    restart: RestartPolicySchema.default(RestartPolicySchema.parse({})),
    /** A liveness probe run by the health service; failureThreshold failures → restart. */
    probe: ProbeSchema.optional(),
    /** Workers that must be ready before this one starts (start order is a topological order). */
    dependsOn: z.array(NameSchema).default([]),
    /** When a worker this one depends on restarts, restart this one too (after the dependency is ready again). */
    restartWithDependency: z.boolean().default(false),
    /** When this worker counts as ready for its dependents; unset: as soon as it runs. */
    ready: ReadySchema.optional(),
    /** cgroup v2 limits (cpu cores, memory bytes, pids). */
    limits: LimitsSchema.optional(),
  })
  .strict()
  .superRefine((w, ctx) => {
    if (w.ready?.probe && !w.probe) ctx.addIssue({ code: "custom", path: ["ready", "probe"], message: "needs the worker's probe to be declared" });
    if (w.dependsOn.includes(w.name)) ctx.addIssue({ code: "custom", path: ["dependsOn"], message: `"${w.name}" cannot depend on itself` });
  });
export type WorkerConfig = z.infer<typeof WorkerSchema>;

/**
 * A start order for workers and their `dependsOn`: each worker after everything it depends on
 * (Kahn's algorithm; ties keep declaration order), or the first cycle found, as names with the
 * first repeated at the end (`a → b → a`). Names not declared are ignored here (the config refuses them).
 */
export function dependencyOrder(workers: ReadonlyArray<{ name: string; dependsOn?: readonly string[] }>): { ok: true; order: string[] } | { ok: false; cycle: string[] } {
  const declared = new Map(workers.map((w) => [w.name, [...(w.dependsOn ?? [])]]));
  const order: string[] = [];
  const placed = new Set<string>();
  while (order.length < declared.size) {
    const next = [...declared].find(([n, deps]) => !placed.has(n) && deps.every((d) => placed.has(d) || !declared.has(d)));
    if (!next) return { ok: false, cycle: findCycle(declared, placed) };
    placed.add(next[0]);
    order.push(next[0]);
  }
  return { ok: true, order };
}

/** A cycle among the workers not yet placed (every one of them depends on another unplaced one). */
function findCycle(deps: ReadonlyMap<string, readonly string[]>, placed: ReadonlySet<string>): string[] {
  const start = [...deps.keys()].find((n) => !placed.has(n))!;
  const path: string[] = [];
  let at = start;
  while (!path.includes(at)) {
    path.push(at);
    at = deps.get(at)!.find((d) => deps.has(d) && !placed.has(d))!;
  }
  return [...path.slice(path.indexOf(at)), at];
}

/** A container workload (docs/containers.md): same commands, events and restart policy as a worker. */
export const ContainerSchema = makeContainerSchema(RestartPolicySchema.default(RestartPolicySchema.parse({})));
export type ContainerConfig = z.infer<typeof ContainerSchema>;

/** A console/API token: only its SHA-256 is stored (`vigil token hash <token>` prints it). */
export const GatewayTokenSchema = z
  .object({
    /** Who this is: recorded as `requestedBy` on every command sent with the token. */
    name: z.string().regex(/^[A-Za-z0-9_.@-]+$/, "must use only letters, digits, '_', '.', '@' and '-'").max(64),
    /** viewer: reads state and events; operator: also sends commands. */
    role: z.enum(["viewer", "operator"]),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, "must be the 64 lower-case hex digits of the token's SHA-256"),
  })
  .strict();
export type GatewayToken = z.infer<typeof GatewayTokenSchema>;

export const GatewaySchema = z
  .object({
    /** 0 picks a free port (the address is written to <dataDir>/gateway.json). */
    port: z.number().int().min(0).max(65535).default(8080),
    /** Loopback by default: expose the console on the network only on purpose. */
    bind: z.string().min(1).default("127.0.0.1"),
    /** Empty: a local operator token is generated in <dataDir>/gateway.token (mode 0600). */
    tokens: z.array(GatewayTokenSchema).default([]),
    /** Browser origins allowed besides the gateway's own (e.g. https://ops.example.com). */
    allowedOrigins: z.array(z.string().regex(/^https?:\/\/[^/]+$/, "must be an origin like https://host:port (no path)")).default([]),
    /** Largest WebSocket frame or HTTP request body accepted. */
    maxFrameBytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(65_536),
    /** Commands per token: a bucket of `commandBurst` refilled at `commandsPerMinute`. */
    commandsPerMinute: z.number().int().min(1).default(30),
    commandBurst: z.number().int().min(1).default(10),
    /** A WebSocket client whose unsent data passes this is sent no more events until it drains (it is told how many it missed). */
    clientBufferBytes: z.number().int().min(16 * 1024).default(1024 * 1024),
    /** Stream reads (GET /api/events, /api/incidents/<id>, a replay's read) running at once per token; past it: 429. */
    readsPerToken: z.number().int().min(1).max(64).default(2),
    /** Incident replays being played back at once per token; past it: an error frame (code "limit"). */
    replaysPerToken: z.number().int().min(1).max(64).default(2),
    /** Events one token's reads may take from the stream per minute (refilled continuously); past it: 429 with Retry-After. */
    readEventsPerMinute: z.number().int().min(1_000).default(200_000),
  })
  .strict()
  .superRefine((g, ctx) => {
    const seen = new Set<string>();
    g.tokens.forEach((t, i) => {
      if (seen.has(t.name)) ctx.addIssue({ code: "custom", path: ["tokens", i, "name"], message: `duplicate token name "${t.name}"` });
      seen.add(t.name);
    });
  });
export type GatewayConfig = z.infer<typeof GatewaySchema>;

/** The supervisor's degraded mode (docs/degraded-mode.md). */
export const DegradedSchema = z
  .object({
    /** false: never restart without the decider (exits wait for it). */
    enabled: z.boolean().default(true),
    /** The bus or the decider unreachable this long (no decider heartbeat) makes the supervisor restart crashed workers itself. */
    afterMs: z.number().int().min(500).max(3_600_000).default(10_000),
  })
  .strict();
export type DegradedConfig = z.infer<typeof DegradedSchema>;

/** Store-and-forward to the cloud (services/telemetry). Without `url` the service stays idle. */
export const TelemetrySchema = z
  .object({
    /** The cloud endpoint batches are POSTed to (http or https). Unset: telemetry is idle. */
    url: z.string().url("must be an http(s) URL").regex(/^https?:\/\//, "must start with http:// or https://").optional(),
    /** Shared secret for the HMAC-SHA256 signature header (`X-Vigil-Signature: sha256=<hex>`). */
    secret: z.string().min(16, "must be at least 16 characters").optional(),
    /** Or a file holding it (mode 0600; relative to the config file), read by the telemetry service only. */
    secretFile: z.string().min(1).optional(),
    /** One subject filter (a 2.9 server takes one); default `vigil.<device>.>`. */
    filter: z.string().min(1).optional(),
    /** Subject suffix after `vigil.<device>.` → forward one in N (1: all, 0: none); skipped events are acked. */
    downsample: z.record(z.string().min(1), z.number().int().min(0)).default({ "obs.health.sample": 10 }),
    durable: z.string().regex(/^[A-Za-z0-9_-]+$/).default("telemetry"),
    batchMaxEvents: z.number().int().min(1).max(50_000).default(1_000),
    batchMaxBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
    /** A batch is sent when full or after this long, whichever comes first. */
    batchMaxWaitMs: z.number().int().min(1_000, "must be at least 1000 (a NATS pull request lasts at least 1 s)").default(1_000),
    gzip: z.boolean().default(true),
    requestTimeoutMs: z.number().int().min(100).default(10_000),
    /** Delivered but unacked events are redelivered by NATS after this long (held batches are kept alive). */
    ackWaitSeconds: z.number().int().min(5).default(120),
    retryBaseMs: z.number().int().min(1).default(250),
    retryCapMs: z.number().int().min(1).default(30_000),
    breaker: z
      .object({
        /** Open when this share of calls in the rolling window failed … */
        errorThresholdPercentage: z.number().min(1).max(100).default(50),
        /** … and at least this many calls were made. */
        volumeThreshold: z.number().int().min(0).default(3),
        rollingWindowMs: z.number().int().min(100).default(10_000),
        /** Open this long, then one probe (half-open). */
        resetTimeoutMs: z.number().int().min(100).default(5_000),
      })
      .strict()
      .default({ errorThresholdPercentage: 50, volumeThreshold: 3, rollingWindowMs: 10_000, resetTimeoutMs: 5_000 }),
    /** mTLS: client certificate and key, and the CA that signed the cloud's certificate (paths, relative to the config file). */
    tls: z.object({ cert: z.string().optional(), key: z.string().optional(), ca: z.string().optional() }).strict().optional(),
    heartbeatSeconds: z.number().min(0.1).default(5),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.url && !t.secret && !t.secretFile) ctx.addIssue({ code: "custom", path: ["secret"], message: "is required when telemetry.url is set (or telemetry.secretFile)" });
    if (t.tls && !!t.tls.cert !== !!t.tls.key) ctx.addIssue({ code: "custom", path: ["tls"], message: "cert and key must be given together" });
  });
export type TelemetryConfig = z.infer<typeof TelemetrySchema>;

/** Bounded logs (docs/unattended.md): worker output and service logs rotate by size, with a total cap per data dir. */
export const LogsSchema = z
  .object({
    /** A log file is rotated when it reaches this size. */
    maxFileBytes: z.number().int().min(4096, "must be at least 4096").max(1024 * 1024 * 1024).default(10 * 1024 * 1024),
    /** Rotated files kept per log (<name>.log.1 … .N); 0 keeps only the live file. */
    keepFiles: z.number().int().min(0).max(100).default(3),
    /** Every log file under the data dir together; past it the oldest rotated files are deleted. */
    maxTotalBytes: z.number().int().min(8192, "must be at least 8192").default(200 * 1024 * 1024),
    /** The last lines of a worker's output carried by its obs.worker.exited (0: none) … */
    lastLines: z.number().int().min(0).max(200).default(20),
    /** … each cut to this many characters. */
    lineMaxBytes: z.number().int().min(16).max(8192).default(500),
    /** Under journald, the services' lines at or above this level also go to the journal (the files keep all). */
    journalLevel: z.enum(["off", "error", "warn", "info"]).default("warn"),
  })
  .strict()
  .superRefine((l, ctx) => {
    if (l.maxTotalBytes < l.maxFileBytes) ctx.addIssue({ code: "custom", path: ["maxTotalBytes"], message: `must be at least logs.maxFileBytes (${l.maxFileBytes})` });
  });
export type LogsConfig = z.infer<typeof LogsSchema>;

export const ALERT_TRANSITIONS = ["opened", "escalated", "resolved"] as const;
export type AlertTransition = (typeof ALERT_TRANSITIONS)[number];

/** A webhook that is told about incidents (services/alerts, docs/unattended.md). */
export const AlertTargetSchema = z
  .object({
    name: NameSchema,
    url: z.string().url("must be an http(s) URL").regex(/^https?:\/\//, "must start with http:// or https://"),
    /** The HMAC-SHA256 key (X-Vigil-Signature over `<timestamp>.<body>`) … */
    secret: z.string().min(16, "must be at least 16 characters").optional(),
    /** … or a file holding it (mode 0600; relative to the config file), read by the alerts service only. */
    secretFile: z.string().min(1).optional(),
    /** Which incident transitions reach this target. */
    on: z.array(z.enum(ALERT_TRANSITIONS)).min(1).default(["escalated", "resolved"]),
    /** One delivery attempt waits at most this long for the answer. */
    timeoutMs: z.number().int().min(100).max(120_000).default(5_000),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (!t.secret && !t.secretFile) ctx.addIssue({ code: "custom", path: ["secret"], message: "is required (or secretFile): receivers verify the signature" });
    if (t.secret && t.secretFile) ctx.addIssue({ code: "custom", path: ["secretFile"], message: "give secret or secretFile, not both" });
  });
export type AlertTarget = z.infer<typeof AlertTargetSchema>;

export const AlertsSchema = z
  .object({
    targets: z.array(AlertTargetSchema).default([]),
    durable: z.string().regex(/^[A-Za-z0-9_-]+$/).default("alerts"),
    /** Retries back off from retryBaseMs, doubling, up to retryCapMs; a delivery is retried until it succeeds. */
    retryBaseMs: z.number().int().min(10).default(1_000),
    retryCapMs: z.number().int().min(100).max(3_600_000).default(60_000),
  })
  .strict()
  .superRefine((a, ctx) => {
    const seen = new Set<string>();
    a.targets.forEach((t, i) => {
      if (seen.has(t.name)) ctx.addIssue({ code: "custom", path: ["targets", i, "name"], message: `duplicate alert target name "${t.name}"` });
      seen.add(t.name);
    });
    if (a.retryCapMs < a.retryBaseMs) ctx.addIssue({ code: "custom", path: ["retryCapMs"], message: `must be at least alerts.retryBaseMs (${a.retryBaseMs})` });
  });
export type AlertsConfig = z.infer<typeof AlertsSchema>;

export const ConfigSchema = z
  .object({
    device: NameSchema.default("edge-001"),
    /** Where services keep local state (outbox, executed commands). Relative to the config file. */
    dataDir: z.string().default(".vigil"),
    nats: z
      .object({
        url: z.string().default("nats://127.0.0.1:4222"),
        /** Optional: credentials for servers that require them. */
        user: z.string().optional(),
        pass: z.string().optional(),
        token: z.string().optional(),
        /** Replies to this client arrive under this prefix (set per service by `vigil up`: its user may read only its own). */
        inboxPrefix: z.string().regex(/^[A-Za-z0-9_-]+$/).optional(),
      })
      .strict()
      .default({ url: "nats://127.0.0.1:4222" }),
    stream: z
      .object({
        name: z.string().regex(/^[A-Za-z0-9_-]+$/).default("VIGIL"),
        maxBytes: z.number().int().min(1024 * 1024).default(1024 * 1024 * 1024),
        maxAgeSeconds: z.number().int().min(0).default(7 * 24 * 3600),
        /** old: drop the oldest when full (the gap is reported); new: refuse new events (back-pressure). */
        discard: z.enum(["old", "new"]).default("old"),
        duplicateWindowSeconds: z.number().int().min(120).default(120),
        /**
         * manage: create the stream or bring it to these limits at start; wait: only wait for it to
         * exist (a service whose bus user may not manage streams: set by `vigil up` and `vigil bus-auth`).
         */
        setup: z.enum(["manage", "wait"]).default("manage"),
      })
      .strict()
      .default({ name: "VIGIL", maxBytes: 1024 * 1024 * 1024, maxAgeSeconds: 7 * 24 * 3600, discard: "old", duplicateWindowSeconds: 120, setup: "manage" }),
    log: z
      .object({ level: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info") })
      .strict()
      .default({ level: "info" }),
    supervisor: z
      .object({
        heartbeatMs: z.number().int().min(100).default(5_000),
        /** Degraded mode (docs/degraded-mode.md): with the bus or the decider unreachable this long, the supervisor restarts crashed workers itself. */
        degraded: DegradedSchema.default(DegradedSchema.parse({})),
      })
      .strict()
      .default({ heartbeatMs: 5_000, degraded: DegradedSchema.parse({}) }),
    decider: z
      .object({
        /** Snapshot the decider's state to KV at least every this many events (and whenever it is idle). */
        snapshotEvery: z.number().int().min(1).default(100),
        /** How often the decider says it is alive (sys.service.heartbeat): the supervisor's degraded mode watches it. */
        heartbeatMs: z.number().int().min(100).default(2_000),
      })
      .strict()
      .default({ snapshotEvery: 100, heartbeatMs: 2_000 }),
    gateway: GatewaySchema.default(GatewaySchema.parse({})),
    telemetry: TelemetrySchema.default(TelemetrySchema.parse({})),
    health: HealthSchema.default(HealthSchema.parse({})),
    policies: PoliciesSchema.default(PoliciesSchema.parse({})),
    workers: z.array(WorkerSchema).default([]),
    /** Container workloads, run by the supervisor's docker driver (names share the workers' namespace). */
    containers: z.array(ContainerSchema).default([]),
    docker: DockerSchema.default(DockerSchema.parse({})),
    netmon: NetmonSchema.default(NetmonSchema.parse({})),
    logs: LogsSchema.default(LogsSchema.parse({})),
    alerts: AlertsSchema.default(AlertsSchema.parse({})),
    /** V8 heap flags and malloc arenas of every service `vigil up` starts (service-memory.ts). */
    serviceMemory: ServiceMemorySchema.default(ServiceMemorySchema.parse({})),
    /** Leaf-node uplink to a cloud hub (docs/fleet.md); unset: no uplink. */
    fleet: FleetSchema.optional(),
    /** This device's labels: what a deployment's label selector (`--select site=plant-3`) matches. */
    labels: z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "label keys: letters, digits, '_', '.', '-'"), z.string().max(128)).default({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.workers.forEach((w, i) => {
      if (seen.has(w.name)) ctx.addIssue({ code: "custom", path: ["workers", i, "name"], message: `duplicate worker name "${w.name}"` });
      seen.add(w.name);
    });
    c.workers.forEach((w, i) => {
      w.dependsOn.forEach((d, j) => {
        if (!c.workers.some((x) => x.name === d)) ctx.addIssue({ code: "custom", path: ["workers", i, "dependsOn", j], message: `"${d}" is not a declared worker (declared: ${c.workers.map((x) => x.name).join(", ")})` });
      });
    });
    const order = dependencyOrder(c.workers);
    if (!order.ok) {
      const i = c.workers.findIndex((w) => w.name === order.cycle[0]);
      ctx.addIssue({ code: "custom", path: ["workers", i, "dependsOn"], message: `dependency cycle: ${order.cycle.join(" → ")}` });
    }
    c.containers.forEach((w, i) => {
      if (seen.has(w.name)) ctx.addIssue({ code: "custom", path: ["containers", i, "name"], message: `duplicate workload name "${w.name}" (workers and containers share one namespace)` });
      seen.add(w.name);
    });
    // Degraded mode reads a missing decider heartbeat as "decider unreachable": the wait must outlast the beat.
    if (c.supervisor.degraded.afterMs < 2 * c.decider.heartbeatMs) {
      ctx.addIssue({ code: "custom", path: ["supervisor", "degraded", "afterMs"], message: `must be at least twice decider.heartbeatMs (${c.decider.heartbeatMs} ms), or a late heartbeat would look like a dead decider` });
    }
  });
export type VigilConfig = z.infer<typeof ConfigSchema> & { configPath?: string; configDir: string };

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Environment variables that override the file (documented in the README's config reference). */
const ENV_OVERRIDES: Array<[string, (c: Record<string, any>, v: string) => void]> = [
  ["VIGIL_DEVICE", (c, v) => (c.device = v)],
  ["VIGIL_DATA_DIR", (c, v) => (c.dataDir = v)],
  ["VIGIL_NATS_URL", (c, v) => ((c.nats ??= {}).url = v)],
  ["VIGIL_NATS_USER", (c, v) => ((c.nats ??= {}).user = v)],
  ["VIGIL_NATS_PASS", (c, v) => ((c.nats ??= {}).pass = v)],
  ["VIGIL_NATS_TOKEN", (c, v) => ((c.nats ??= {}).token = v)],
  ["VIGIL_NATS_INBOX_PREFIX", (c, v) => ((c.nats ??= {}).inboxPrefix = v)],
  ["VIGIL_LOG_LEVEL", (c, v) => ((c.log ??= {}).level = v)],
  ["VIGIL_STREAM_MAX_BYTES", (c, v) => ((c.stream ??= {}).maxBytes = Number(v))],
  ["VIGIL_STREAM_MAX_AGE_SECONDS", (c, v) => ((c.stream ??= {}).maxAgeSeconds = Number(v))],
  ["VIGIL_STREAM_SETUP", (c, v) => ((c.stream ??= {}).setup = v)],
  ["VIGIL_TELEMETRY_URL", (c, v) => ((c.telemetry ??= {}).url = v)],
  ["VIGIL_TELEMETRY_SECRET", (c, v) => ((c.telemetry ??= {}).secret = v)],
  ["VIGIL_TELEMETRY_SECRET_FILE", (c, v) => ((c.telemetry ??= {}).secretFile = v)],
  ["VIGIL_GATEWAY_PORT", (c, v) => ((c.gateway ??= {}).port = Number(v))],
  ["VIGIL_FLEET_HUB", (c, v) => ((c.fleet ??= {}).hub = v)],
  ["VIGIL_DOCKER_SOCKET", (c, v) => ((c.docker ??= {}).socketPath = v)],
];

function formatIssues(err: z.ZodError, origin: string): string {
  return err.issues
    .map((i) => {
      const field = i.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("").replace(/^\./, "") || "(root)";
      return `${origin}: ${field}: ${i.message}`;
    })
    .join("\n");
}

/** Validates a config object (already parsed from YAML); env overrides applied on top. */
export function parseConfig(raw: unknown, opts: { origin?: string; configDir?: string; env?: NodeJS.ProcessEnv } = {}): VigilConfig {
  const env = opts.env ?? process.env;
  const origin = opts.origin ?? "config";
  if (raw !== undefined && raw !== null && (typeof raw !== "object" || Array.isArray(raw))) {
    throw new ConfigError(`${origin}: the top level must be a mapping (key: value), got ${Array.isArray(raw) ? "a list" : typeof raw}`);
  }
  const obj: Record<string, any> = structuredClone((raw ?? {}) as Record<string, any>);
  for (const [name, apply] of ENV_OVERRIDES) {
    const v = env[name];
    if (v === undefined || v === "") continue;
    try {
      apply(obj, v);
    } catch {
      // The section is not a mapping (e.g. `gateway: ""` with VIGIL_GATEWAY_PORT set): leave it, the schema names it below.
    }
  }
  const parsed = ConfigSchema.safeParse(obj);
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error, origin));
  const configDir = opts.configDir ?? process.cwd();
  return { ...parsed.data, dataDir: resolve(configDir, parsed.data.dataDir), configDir };
}

/**
 * The telemetry secret: `telemetry.secret`, else the contents of `telemetry.secretFile`. Only the
 * telemetry service calls this, so the other services that load the same config never read the file.
 */
export function telemetrySecret(config: Pick<VigilConfig, "telemetry" | "configDir">): string | undefined {
  const t = config.telemetry;
  if (t.secret || !t.secretFile) return t.secret;
  const file = resolve(config.configDir, t.secretFile);
  let secret: string;
  try {
    secret = readFileSync(file, "utf8").trim();
  } catch (err) {
    throw new ConfigError(`telemetry.secretFile: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (secret.length < 16) throw new ConfigError(`telemetry.secretFile: ${file} must hold a secret of at least 16 characters`);
  return secret;
}

/**
 * An alert target's secret: `secret`, else the contents of `secretFile`. Only the alerts service (and
 * `vigil alerts test`) call this, so the other services loading the same config never read the file.
 */
export function alertSecret(target: AlertTarget, configDir: string): string {
  if (target.secret) return target.secret;
  const file = resolve(configDir, target.secretFile!);
  let secret: string;
  try {
    secret = readFileSync(file, "utf8").trim();
  } catch (err) {
    throw new ConfigError(`alerts.targets[${target.name}].secretFile: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (secret.length < 16) throw new ConfigError(`alerts.targets[${target.name}].secretFile: ${file} must hold a secret of at least 16 characters`);
  return secret;
}

/** Loads `path` (or `VIGIL_CONFIG`, or `./vigil.yaml` when it exists) and validates it. */
export function loadConfig(path?: string, env: NodeJS.ProcessEnv = process.env): VigilConfig {
  const file = path ?? env.VIGIL_CONFIG ?? "vigil.yaml";
  let text: string | undefined;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // No file at the default location is fine (defaults + env); a named file that is missing is not.
    if (!(code === "ENOENT" && path === undefined && env.VIGIL_CONFIG === undefined)) {
      throw new ConfigError(`cannot read config file ${file}: ${code ?? (err as Error).message}`);
    }
  }
  if (text === undefined) return parseConfig({}, { origin: "defaults", env });
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${file}: not valid YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  const cfg = parseConfig(raw, { origin: file, configDir: dirname(resolve(file)), env });
  return { ...cfg, configPath: resolve(file) };
}
