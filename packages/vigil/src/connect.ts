import { connect, type NatsConnection } from "@nats-io/transport-node";
import { ADMIN_USER, loadConfig, type VigilConfig } from "@vigil/events";
import { UsageError } from "./embedded-nats.js";
import { readRuntime } from "./paths.js";
import { readCredential } from "./bus-auth.js";

export interface TargetOptions {
  config?: string;
  natsUrl?: string;
}

/**
 * Finds the running system: --nats-url, VIGIL_NATS_URL, the runtime file `vigil up` wrote in the data
 * dir, then the config's nats.url. A CLI fails fast instead of waiting for a server.
 */
export async function connectToRunning(o: TargetOptions): Promise<{ nc: NatsConnection; config: VigilConfig }> {
  let config = loadConfig(o.config, process.env);
  // Found by `vigil up`'s runtime file: use the config it runs with (the demo's, say).
  const runtime = readRuntime(config.dataDir);
  if (!o.config && !process.env.VIGIL_CONFIG && runtime?.configPath && runtime.configPath !== config.configPath) {
    config = loadConfig(runtime.configPath, { ...process.env, VIGIL_DATA_DIR: config.dataDir });
  }
  const url = o.natsUrl ?? process.env.VIGIL_NATS_URL ?? runtime?.natsUrl ?? config.nats.url;
  // The server `vigil up` embeds lets no one in without a user: the CLI is its admin (docs/security.md).
  const admin = !config.nats.user && !config.nats.token ? readCredential(config.dataDir, ADMIN_USER) : undefined;
  if (admin) config = { ...config, nats: { ...config.nats, user: admin.user, pass: admin.pass } };
  try {
    const nc = await connect({ servers: url, name: "vigil-cli", maxReconnectAttempts: 0, timeout: 3_000, user: config.nats.user, pass: config.nats.pass, token: config.nats.token });
    return { nc, config: { ...config, nats: { ...config.nats, url } } };
  } catch (err) {
    throw new UsageError(`cannot reach NATS at ${url} (${(err as Error).message}). Is Vigil running? Start it with 'vigil up', or pass --nats-url.`, 1);
  }
}
