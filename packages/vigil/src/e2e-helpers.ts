import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { loadConfig } from "@vigil/events";
import { readCredential } from "./bus-auth.js";

export const VIGIL_MAIN = join(dirname(fileURLToPath(import.meta.url)), "main.js");

export interface RunningVigil {
  child: ChildProcess;
  dir: string;
  output(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** An env file's `KEY=value` lines (as `vigil bus-auth` writes them). */
export const readEnvFile = (file: string): Record<string, string> =>
  Object.fromEntries(readFileSync(file, "utf8").trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));

/** Writes a config into a fresh temp dir and returns its path. */
export function writeConfig(config: object): string {
  const dir = mkdtempSync(join(tmpdir(), "vigil-e2e-"));
  const file = join(dir, "vigil.yaml");
  // gateway.port 0: a free port, so tests never fight over 8080 (the address lands in data/gateway.json).
  writeFileSync(file, stringify({ dataDir: "data", gateway: { port: 0 }, ...config }));
  return file;
}

/** Runs `vigil <args>` to completion. */
export function runVigil(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [VIGIL_MAIN, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    c.stdout.on("data", (d) => (stdout += d));
    c.stderr.on("data", (d) => (stderr += d));
    c.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Starts `vigil up -q` with the config file against a NATS URL and waits until it says it is running. */
export async function vigilUp(configFile: string, natsUrl: string, env: NodeJS.ProcessEnv = {}): Promise<RunningVigil> {
  const child = spawn(process.execPath, [VIGIL_MAIN, "up", "-q", "--config", configFile], {
    env: { ...process.env, VIGIL_NATS_URL: natsUrl, VIGIL_LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`vigil up did not start in 20 s:\n${out}`)), 20_000);
    child.stdout!.on("data", () => {
      if (out.includes("vigil: running")) {
        clearTimeout(t);
        resolve();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(t);
      reject(new Error(`vigil up exited with ${code}:\n${out}`));
    });
  });
  child.removeAllListeners("exit");
  return {
    child,
    dir: dirname(configFile),
    output: () => out,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        child.once("exit", (code) => resolve(code));
        child.kill("SIGTERM");
      }),
  };
}

/**
 * Starts `vigil up -q --port <port>` so that vigil up runs its own embedded nats-server (no
 * VIGIL_NATS_URL), e.g. with a fleet uplink; waits until it says it is running. `natsUrl` is that server.
 */
export async function vigilUpEmbedded(configFile: string, port: number, env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<RunningVigil & { natsUrl: string; /** Connects as admin (the server requires a user): pass to connectBus. */ nats: { url: string; user?: string; pass?: string }; dataDir: string }> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, VIGIL_LOG_LEVEL: "warn", VIGIL_SINK: "off", ...env };
  delete childEnv.VIGIL_NATS_URL;
  const child = spawn(process.execPath, [VIGIL_MAIN, "up", "-q", "--config", configFile, "--port", String(port)], { env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => {
      child.kill("SIGTERM");
      reject(new Error(`vigil up did not start in ${timeoutMs / 1000} s:\n${out}`));
    }, timeoutMs);
    child.stdout!.on("data", () => {
      if (out.includes("vigil: running")) {
        clearTimeout(t);
        resolve();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(t);
      reject(new Error(`vigil up exited with ${code}:\n${out}`));
    });
  });
  child.removeAllListeners("exit");
  const dataDir = loadConfig(configFile, childEnv).dataDir;
  const admin = readCredential(dataDir, "admin");
  return {
    child,
    dir: dirname(configFile),
    dataDir,
    nats: { url: `nats://127.0.0.1:${port}`, user: admin?.user, pass: admin?.pass },
    natsUrl: `nats://127.0.0.1:${port}`,
    output: () => out,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        child.once("exit", (code) => resolve(code));
        child.kill("SIGTERM");
      }),
  };
}
