import { resolve } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { ADMIN_USER, loadConfig, type VigilConfig } from "@vigil/events";
import { UsageError } from "./embedded-nats.js";
import { readRuntime, runtimeFile, type RuntimeInfo } from "./paths.js";
import { credsFile, readCredential } from "./bus-auth.js";

/** How every CLI command finds the running system: the same --config and --data-dir for all of them. */
export interface TargetOptions {
  config?: string;
  /** --data-dir: the running `vigil up`'s data dir (its runtime file, credentials and local token are there). */
  dataDir?: string;
  natsUrl?: string;
}

export interface RunningSystem {
  config: VigilConfig;
  /** What `vigil up` wrote in the data dir, when it is (or was) running from there. */
  runtime?: RuntimeInfo;
}

/**
 * The config of the running system. --data-dir (else $VIGIL_DATA_DIR, else the config's dataDir) says
 * where `vigil up` keeps its runtime file; when neither --config nor $VIGIL_CONFIG names a config, the
 * one that runtime file records is used (the demo's, say), with the same data dir.
 */
export function runningSystem(o: Pick<TargetOptions, "config" | "dataDir">, env: NodeJS.ProcessEnv = process.env): RunningSystem {
  const e = o.dataDir ? { ...env, VIGIL_DATA_DIR: resolve(o.dataDir) } : env;
  let config = loadConfig(o.config, e);
  const runtime = readRuntime(config.dataDir);
  if (!o.config && !env.VIGIL_CONFIG && runtime?.configPath && runtime.configPath !== config.configPath) {
    config = loadConfig(runtime.configPath, { ...e, VIGIL_DATA_DIR: config.dataDir });
  }
  return runtime ? { config, runtime } : { config };
}

/** Where the CLI's NATS credentials come from, said in words for an error message. */
export function credentialSource(config: VigilConfig, adminFile: string | undefined): string {
  if (adminFile) return `the credentials in ${adminFile}`;
  if (config.nats.token) return `the token from nats.token / VIGIL_NATS_TOKEN`;
  if (config.nats.user) return `user "${config.nats.user}" from nats.user / VIGIL_NATS_USER`;
  return `no credentials (there is no ${credsFile(config.dataDir, ADMIN_USER)})`;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Why connecting failed and what to pass instead: an authorization failure names the credentials and the server. */
export function connectFailure(err: Error, url: string, sys: RunningSystem, adminFile: string | undefined): UsageError {
  const msg = err.message;
  const dataDir = sys.config.dataDir;
  if (/authori[sz]ation|authentication|permissions violation/i.test(msg)) {
    const stale = sys.runtime && !isAlive(sys.runtime.pid) ? ` ${runtimeFile(dataDir)} is from vigil up pid ${sys.runtime.pid}, which is not running: those credentials belong to an earlier run.` : "";
    return new UsageError(
      `NATS at ${url} refused ${credentialSource(sys.config, adminFile)} (${msg}).${stale} Pass --data-dir <the running vigil up's data dir> (or --config <its vigil.yaml>); ` +
        `for a server you run yourself, set VIGIL_NATS_USER/VIGIL_NATS_PASS or VIGIL_NATS_TOKEN.`,
      1,
    );
  }
  return new UsageError(`cannot reach NATS at ${url} (${msg}). Is Vigil running? Start it with 'vigil up', pass --data-dir <its data dir>, or --nats-url.`, 1);
}

/**
 * Finds the running system: --nats-url, VIGIL_NATS_URL, the runtime file `vigil up` wrote in the data
 * dir, then the config's nats.url; the credentials are the admin's from that same data dir. A CLI
 * fails fast instead of waiting for a server.
 */
export async function connectToRunning(o: TargetOptions): Promise<{ nc: NatsConnection; config: VigilConfig }> {
  const sys = runningSystem(o);
  let config = sys.config;
  const url = o.natsUrl ?? process.env.VIGIL_NATS_URL ?? sys.runtime?.natsUrl ?? config.nats.url;
  // The server `vigil up` embeds lets no one in without a user: the CLI is its admin (docs/security.md).
  const admin = !config.nats.user && !config.nats.token ? readCredential(config.dataDir, ADMIN_USER) : undefined;
  const adminFile = admin ? credsFile(config.dataDir, ADMIN_USER) : undefined;
  if (admin) config = { ...config, nats: { ...config.nats, user: admin.user, pass: admin.pass } };
  try {
    const nc = await connect({ servers: url, name: "vigil-cli", maxReconnectAttempts: 0, timeout: 3_000, user: config.nats.user, pass: config.nats.pass, token: config.nats.token });
    return { nc, config: { ...config, nats: { ...config.nats, url } } };
  } catch (err) {
    throw connectFailure(err as Error, url, sys, adminFile);
  }
}
