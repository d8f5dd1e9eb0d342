import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { NameSchema } from "./catalog.js";

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
  })
  .strict();
export type RestartPolicy = z.infer<typeof RestartPolicySchema>;

export const WorkerSchema = z
  .object({
    name: NameSchema,
    command: z.string().min(1),
    args: z.array(z.string()).default([]),
    env: z.record(z.string(), z.string()).default({}),
    /** Relative paths resolve against the config file's folder. */
    cwd: z.string().optional(),
    /** Essential workers are never paused to save the device. */
    essential: z.boolean().default(false),
    /** Lower runs out first when the device must shed work. */
    priority: z.number().int().default(0),
    /** SIGTERM, then SIGKILL after this long. */
    stopGraceMs: z.number().int().min(0).default(5_000),
    restart: RestartPolicySchema.default(RestartPolicySchema.parse({})),
  })
  .strict();
export type WorkerConfig = z.infer<typeof WorkerSchema>;

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
      })
      .strict()
      .default({ name: "VIGIL", maxBytes: 1024 * 1024 * 1024, maxAgeSeconds: 7 * 24 * 3600, discard: "old", duplicateWindowSeconds: 120 }),
    log: z
      .object({ level: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info") })
      .strict()
      .default({ level: "info" }),
    supervisor: z
      .object({ heartbeatMs: z.number().int().min(100).default(5_000) })
      .strict()
      .default({ heartbeatMs: 5_000 }),
    decider: z
      .object({
        /** Snapshot the decider's state to KV at least every this many events (and whenever it is idle). */
        snapshotEvery: z.number().int().min(1).default(100),
      })
      .strict()
      .default({ snapshotEvery: 100 }),
    workers: z.array(WorkerSchema).default([]),
  })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.workers.forEach((w, i) => {
      if (seen.has(w.name)) ctx.addIssue({ code: "custom", path: ["workers", i, "name"], message: `duplicate worker name "${w.name}"` });
      seen.add(w.name);
    });
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
  ["VIGIL_LOG_LEVEL", (c, v) => ((c.log ??= {}).level = v)],
  ["VIGIL_STREAM_MAX_BYTES", (c, v) => ((c.stream ??= {}).maxBytes = Number(v))],
  ["VIGIL_STREAM_MAX_AGE_SECONDS", (c, v) => ((c.stream ??= {}).maxAgeSeconds = Number(v))],
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
    if (v !== undefined && v !== "") apply(obj, v);
  }
  const parsed = ConfigSchema.safeParse(obj);
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error, origin));
  const configDir = opts.configDir ?? process.cwd();
  return { ...parsed.data, dataDir: resolve(configDir, parsed.data.dataDir), configDir };
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
