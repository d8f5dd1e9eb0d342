import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { VigilConfig } from "@vigil/events";

const require = createRequire(import.meta.url);

export interface LocalSink {
  url: string;
  /** The HMAC secret's file (0600): telemetry is given this path, never the secret itself. */
  secretFile: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * The demo's cloud: `vigil up` runs the local sink (packages/sink) as a process, unless the config
 * names a real cloud (telemetry.url), or VIGIL_SINK=off. The secret is generated once and kept in
 * <dataDir>/sink.secret (0600); the sink gets it in its own environment, and `vigil up` points only
 * telemetry at it (VIGIL_TELEMETRY_URL, VIGIL_TELEMETRY_SECRET_FILE) — docs/security.md.
 */
/** The sink needs no bus credentials nor other secrets of vigil up's environment. */
function sinkEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !/^VIGIL_(NATS_(USER|PASS|TOKEN)|TELEMETRY_SECRET|TOKEN)/.test(k)));
}

export async function startLocalSink(config: VigilConfig, env: NodeJS.ProcessEnv, logDir: string): Promise<LocalSink | undefined> {
  if (config.telemetry.url || env.VIGIL_SINK === "off") return undefined;
  const secretFile = join(config.dataDir, "sink.secret");
  if (!existsSync(secretFile)) writeFileSync(secretFile, randomBytes(24).toString("hex"), { mode: 0o600 });
  const secret = readFileSync(secretFile, "utf8").trim();
  const main = join(dirname(require.resolve("@vigil/sink/package.json")), "dist", "main.js");
  const out = openSync(join(logDir, "sink.log"), "a");
  const child = spawn(process.execPath, [main, "--port", env.VIGIL_SINK_PORT ?? "0", "--data-dir", join(config.dataDir, "sink")], {
    env: { ...sinkEnv(env), VIGIL_SINK_SECRET: secret },
    stdio: ["ignore", "pipe", out, "ipc"],
    detached: true,
  });
  closeSync(out);
  const url = await new Promise<string>((resolve, reject) => {
    let text = "";
    child.stdout!.on("data", (d: Buffer) => {
      text += d.toString();
      const line = text.split("\n").find((l) => l.startsWith("{"));
      if (line) resolve((JSON.parse(line) as { url: string }).url);
    });
    child.once("exit", (code) => reject(new Error(`the local sink exited with ${code}; see ${join(logDir, "sink.log")}`)));
  });
  child.stdout!.resume();
  return {
    url,
    secretFile,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}
