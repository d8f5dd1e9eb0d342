import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { jetstream } from "@nats-io/jetstream";
import { headers, type NatsConnection } from "@nats-io/transport-node";
import { CLOUDEVENTS_CONTENT_TYPE, encodeEvent, makeEvent } from "@vigil/events";
import { stringify } from "yaml";

const here = dirname(fileURLToPath(import.meta.url));
export const TELEMETRY_MAIN = resolve(here, "main.js");

export const TEST_SECRET = "test-secret-0123456789abcdef";

/** Publishes `count` test events (`obs.worker.stable`, uptimeMs = index) with a bounded window of in-flight publishes. */
export async function publishMany(nc: NatsConnection, device: string, count: number, opts: { from?: number; window?: number; worker?: string } = {}): Promise<void> {
  const js = jetstream(nc);
  const window = opts.window ?? 256;
  const from = opts.from ?? 0;
  const h = headers();
  h.set("Content-Type", CLOUDEVENTS_CONTENT_TYPE);
  let inflight: Promise<unknown>[] = [];
  for (let i = from; i < from + count; i++) {
    const e = makeEvent(device, `vigil/${device}/test`, "obs.worker.stable", { worker: opts.worker ?? "load", pid: 1, uptimeMs: i });
    inflight.push(js.publish(e.subject, encodeEvent(e), { msgID: e.id, headers: h, timeout: 10_000 }));
    if (inflight.length >= window) {
      await Promise.all(inflight);
      inflight = [];
    }
  }
  await Promise.all(inflight);
}

export interface TelemetryProcess {
  child: ChildProcess;
  dataDir: string;
  /** stderr so far (JSON log lines). */
  log(): string;
  /** Resolves when stderr matches (already or later); rejects after timeoutMs. */
  waitForLog(re: RegExp, timeoutMs?: number): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM and wait (no-op when already gone). */
  stop(): Promise<void>;
  kill9(): Promise<void>;
}

/** Runs `node services/telemetry/dist/main.js` as its own process with a vigil.yaml holding `telemetry`. */
export function spawnTelemetry(o: { natsUrl: string; device: string; telemetry: Record<string, unknown>; stream?: Record<string, unknown>; dataDir?: string; logLevel?: string }): TelemetryProcess {
  const dataDir = o.dataDir ?? mkdtempSync(join(tmpdir(), "vigil-telemetry-"));
  mkdirSync(dataDir, { recursive: true });
  const cfgPath = join(dataDir, "vigil.yaml");
  writeFileSync(cfgPath, stringify({ device: o.device, dataDir, telemetry: o.telemetry, ...(o.stream ? { stream: o.stream } : {}), log: { level: o.logLevel ?? "info" } }));
  const child = spawn(process.execPath, [TELEMETRY_MAIN], {
    env: { ...process.env, VIGIL_CONFIG: cfgPath, VIGIL_NATS_URL: o.natsUrl, VIGIL_TELEMETRY_URL: "", VIGIL_TELEMETRY_SECRET: "" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  child.stderr!.on("data", (d: Buffer) => {
    err += d.toString();
    if (err.length > 2_000_000) err = err.slice(-1_000_000);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once("exit", (code, signal) => r({ code, signal })));
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  return {
    child,
    dataDir,
    log: () => err,
    waitForLog: (re, timeoutMs = 10_000) =>
      new Promise<void>((resolve, reject) => {
        if (re.test(err)) return resolve();
        const onData = () => {
          if (!re.test(err)) return;
          clearTimeout(timer);
          child.stderr!.off("data", onData);
          resolve();
        };
        const timer = setTimeout(() => {
          child.stderr!.off("data", onData);
          reject(new Error(`telemetry never logged ${re}; log:\n${err.slice(-2000)}`));
        }, timeoutMs);
        child.stderr!.on("data", onData);
      }),
    exited,
    async stop() {
      if (gone()) return;
      child.kill("SIGTERM");
      await exited;
    },
    async kill9() {
      if (gone()) return;
      child.kill("SIGKILL");
      await exited;
    },
  };
}

/** The RSS of a process in MB, from /proc. */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : 0;
}
